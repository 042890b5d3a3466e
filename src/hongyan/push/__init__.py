"""At-least-once delivery of replies and status reports to customers' servers."""
