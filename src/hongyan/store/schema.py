"""The tables. Times are epoch milliseconds (BIGINT) so both databases agree.

Migrations under `migrations/versions/` create exactly this schema; a test
compares the two. On PostgreSQL, messages, their parts, reports and replies
are partitioned by their ids' days (core/partitions.py): the partitions are
made by housekeeping (store/partitions.py), and are not listed here; nor
are there, on PostgreSQL, the foreign keys of parts and reports onto
messages (ONTO_PARTITIONS; migration 0020 says why).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from hongyan.core.models import UID_MAX_LENGTH

# The condition of the partial index of failed messages; a query uses that
# index only when it says the same, with the value written out, not bound.
FAILED_ONLY = "state = 'failed'"

# Foreign keys SQLite has and PostgreSQL's partitioned `messages` does not.
ONTO_PARTITIONS = ("fk_message_parts_message_id_messages", "fk_reports_message_id_messages")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(UID_MAX_LENGTH), nullable=False, unique=True),
    Column("api_key_digest", String(64), nullable=False),
    # The server key version the digests were made with (core/credentials.py);
    # 1 is the secret every digest made before versions existed is on.
    Column("key_version", Integer, nullable=False, server_default=text("1")),
    # "standard" or "legacy": the answer forms of PROTOCOL.md "Legacy dialect".
    Column("dialect", String(12), nullable=False, server_default="standard"),
    # HMAC of md5(login_password) alone, NULL unless the operator allowed a
    # legacy account to send that as `pwd`.
    Column("bare_md5_digest", String(64), nullable=True),
    Column("bare_md5_key_version", Integer, nullable=True),
    Column("console_hash", String(128), nullable=False),
    Column("ext_code", String(12), nullable=False, unique=True),
    Column("balance", BigInteger, nullable=False, server_default=text("0")),
    Column("sent_total", BigInteger, nullable=False, server_default=text("0")),
    Column("frozen", Boolean, nullable=False, server_default=text("false")),
    Column("api_send", Boolean, nullable=False, server_default=text("true")),
    Column("refund_on_failure", Boolean, nullable=False, server_default=text("false")),
    # Requests a second; NULL is no limit.
    Column("rate_limit", Integer, nullable=True),
    # Per-recipient windows, e.g. "1/30s,5/h,10/d"; "off" is none.
    Column("per_number", String(100), nullable=False),
    # Token bucket state of the request rate, kept with the balance.
    Column("rate_tokens", Float, nullable=False, server_default=text("0")),
    Column("rate_at", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

account_addresses = Table(
    "account_addresses",
    metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("network", String(64), primary_key=True),
)

# One accepted /mt/ request: the text and options its messages share.
submissions = Table(
    "submissions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("content", Text, nullable=False),
    Column("mid", String(6), nullable=False, server_default=""),
    Column("source", String(21), nullable=False),
    Column("parts", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("due_at", BigInteger, nullable=False),
)

# One message to one recipient. `status` is what /rd/ shows: "0" waiting for a
# report, "100" delivered, otherwise the failure word or code.
messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("submission_id", ForeignKey("submissions.id"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("mobile", String(40), nullable=False),
    Column("mobileid", String(40), nullable=False),
    Column("parts", Integer, nullable=False),
    # Parts charged at acceptance; 0 for a number refused at acceptance.
    Column("charged", Integer, nullable=False),
    Column("state", String(12), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("done_at", BigInteger, nullable=True),
    # Delivery: submits tried, the lease of the dispatcher working on it, where it went.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("lease_until", BigInteger, nullable=True),
    Column("channel", String(40), nullable=True),
    # Records newest first, paged by (created_at, id) (store/history.py): the id
    # in the index too, so a page inside a 100,000-number batch (one created_at)
    # starts at its row on PostgreSQL as well (SQLite has the rowid anyway).
    Index(None, "account_id", "created_at", "id"),
    Index(None, "account_id", "mobile", "created_at"),
    # The console's batch filter (?batch=): one submission's messages.
    Index(None, "submission_id"),
    # The console's "failed" filter: only failed messages are in it (a few in a
    # hundred), so a page of them is found without reading the delivered ones,
    # and delivering a message costs this index nothing.
    Index(
        "ix_messages_failed",
        "account_id",
        "created_at",
        "id",
        sqlite_where=text(FAILED_ONLY),
        postgresql_where=text(FAILED_ONLY),
    ),
    Index(None, "state", "due_at"),
    # The operator console's search across accounts (core/message_search.py),
    # newest first: by number, by channel, or by time alone.
    Index(None, "mobile", "created_at", "id"),
    Index(None, "channel", "created_at", "id"),
    Index(None, "created_at", "id"),
    # ... and failed messages of every account, as ix_messages_failed for one.
    Index(
        "ix_messages_failed_all",
        "created_at",
        "id",
        sqlite_where=text(FAILED_ONLY),
        postgresql_where=text(FAILED_ONLY),
    ),
    postgresql_partition_by="RANGE (id)",
)

# Status reports waiting for (or already given to) the customer, in arrival order.
reports = Table(
    "reports",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("message_id", ForeignKey("messages.id"), nullable=False),
    Column("mobile", String(40), nullable=False),
    Column("mobileid", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("fetched_at", BigInteger, nullable=True),
    # When the push reached the customer; NULL when fetched by /st/ (or not yet).
    Column("pushed_at", BigInteger, nullable=True),
    Index(None, "account_id", "fetched_at", "id"),
    # A message's reports, for its detail page.
    Index(None, "message_id"),
    postgresql_partition_by="RANGE (id)",
)

# The account's balance history: every change of balance is one entry.
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("submission_id", ForeignKey("submissions.id"), nullable=True),
    Column("note", String(200), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "account_id", "id"),
    # A message's charge and refunds, for its detail page.
    Index(None, "submission_id"),
    # Finance reports over a period, every account (store/finance.py).
    Index(None, "created_at"),
)

keywords = Table(
    "keywords",
    metadata,
    Column("word", String(100), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

# Platform switches and the change counter a running server polls.
system_state = Table(
    "system_state",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Failed logins per uid and client address (PROTOCOL.md gate 3).
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("uid", String(UID_MAX_LENGTH), primary_key=True),
    # The client's lockout key (core/lockout.py): an IPv4 address or an IPv6 /64.
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("locked_until", BigInteger, nullable=False),
    Index(None, "locked_until"),
    # The housekeeper finds expired rows by it (store/system.py prune_failures).
    Index(None, "window_start"),
)

# One part of a message as submitted upstream; a message is final when all are.
message_parts = Table(
    "message_parts",
    metadata,
    Column("message_id", ForeignKey("messages.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("channel", String(40), nullable=False),
    Column("upstream_id", String(64), nullable=False),
    # "sent" until its receipt; then "delivered" or "failed".
    Column("state", String(12), nullable=False),
    Column("status", String(20), nullable=False, server_default=""),
    Column("submitted_at", BigInteger, nullable=False),
    Column("done_at", BigInteger, nullable=True),
    Index(None, "channel", "upstream_id"),
    postgresql_partition_by="RANGE (message_id)",
)

# A receipt that arrived before its part's submit outcome was recorded.
early_receipts = Table(
    "early_receipts",
    metadata,
    Column("channel", String(40), primary_key=True),
    Column("upstream_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("received_at", BigInteger, nullable=False),
)

# Replies (MO) from handsets, for /rx/ (or push); `account_id` NULL when no
# account's extension matches the gateway number.
replies = Table(
    "replies",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=True),
    Column("mobile", String(40), nullable=False),
    Column("content", Text, nullable=False),
    Column("gateway", String(40), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("fetched_at", BigInteger, nullable=True),
    # When the push reached the customer; NULL when fetched by /rx/ (or not yet).
    Column("pushed_at", BigInteger, nullable=True),
    Index(None, "account_id", "fetched_at", "id"),
    # The console's inbox, newest first, paged by (received_at, id).
    Index(None, "account_id", "received_at", "id"),
    postgresql_partition_by="RANGE (id)",
)

# Each channel's state as the running server last saw it (for `channel list`).
channel_status = Table(
    "channel_status",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("tps", Float, nullable=True),
    Column("rate", Float, nullable=False),
    Column("submitted", BigInteger, nullable=False),
    Column("awaiting_receipts", BigInteger, nullable=False),
    Column("last_error", String(200), nullable=False, server_default=""),
    Column("updated_at", BigInteger, nullable=False),
    # JSON list, one object per connection (SMPP binds); "" for channels without.
    Column("binds", Text, nullable=False, server_default=""),
    # Submits the upstream did not take (temporary or refused) since the worker started.
    Column("errors", BigInteger, nullable=False, server_default=text("0")),
    # Messages waiting for this channel: retrying, or held while it is paused.
    Column("queued", BigInteger, nullable=False, server_default=text("0")),
    # Receipts of about the last hour: delivered ones of all final ones, and
    # the 50th and 95th percentiles of receipt time minus submit time (recent).
    Column("receipts_delivered", BigInteger, nullable=False, server_default=text("0")),
    Column("receipts_final", BigInteger, nullable=False, server_default=text("0")),
    Column("latency_p50_ms", BigInteger, nullable=True),
    Column("latency_p95_ms", BigInteger, nullable=True),
)

# Parts of a long reply (UDH or SAR) until the last one arrives; the whole
# reply is recorded in the transaction that marks its parts completed.
reply_fragments = Table(
    "reply_fragments",
    metadata,
    Column("channel", String(40), primary_key=True),
    Column("mobile", String(40), primary_key=True),
    Column("reference", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("total", Integer, nullable=False),
    Column("gateway", String(40), nullable=False),
    Column("content", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    # Set once the reply these parts make is recorded: the rows stay a while,
    # so a part the SMSC offers again is known and not taken for a new reply.
    Column("completed_at", BigInteger),
)

# Where an account's replies and reports are pushed (PROTOCOL.md "Push"); an
# empty URL is "fetch it by /rx/ or /st/".
push_targets = Table(
    "push_targets",
    metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("replies_url", String(500), nullable=False, server_default=""),
    Column("reports_url", String(500), nullable=False, server_default=""),
    Column("method", String(4), nullable=False, server_default="GET"),
    # The HMAC key the customer verifies our signature with; it must be kept
    # to sign, so it is stored as given (never logged or printed).
    Column("secret", String(128), nullable=False, server_default=""),
    Column("batch_reports", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", BigInteger, nullable=False),
)

# Reports and replies waiting to be pushed, written in the transaction that
# records them. A pushed item leaves; one that cannot be pushed for
# `give_up_s` stays as "given_up" and its report or reply goes back to pull.
push_outbox = Table(
    "push_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    # "report" (an id in reports) or "reply" (an id in replies).
    Column("kind", String(8), nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", BigInteger, nullable=False),
    Column("next_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),
    Column("last_error", String(200), nullable=False, server_default=""),
    Column("last_attempt_at", BigInteger, nullable=True),
    Index(None, "state", "next_at"),
    Index(None, "account_id", "state"),
)

# Signed-in console sessions (console/sessions.py). The browser holds a random
# token; only its SHA-256 is kept, so a copy of the table signs no one in.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # The form token every state-changing request of the session must carry.
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
    Column("address", String(64), nullable=False, server_default=""),
    # The operator viewing the account's console read-only ("" for the
    # customer's own session): such a session changes nothing (console/web.py).
    Column("viewer", String(64), nullable=False, server_default=""),
    Index(None, "account_id"),
    Index(None, "seen_at"),
)

# Messages per account, UTC hour and status, kept in the transactions that
# accept messages and make them final (store/message_stats.py says why).
# status "" counts accepted (charged) messages; any other, the messages
# accepted in that hour that ended with it ("100" delivered).
message_stats = Table(
    "message_stats",
    metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("messages", BigInteger, nullable=False),
    Column("parts", BigInteger, nullable=False),
)

# What each push request got (the console's "last deliveries"): pushed items
# leave the outbox, so their answers are kept here, the newest 100 an account
# (the pusher prunes as it writes). One row a request, a batched POST included.
push_attempts = Table(
    "push_attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),  # an OutboxKind
    Column("host", String(255), nullable=False),  # the URL's host[:port]; never its query
    Column("status", Integer, nullable=True),  # the HTTP status, None when there was none
    Column("error", String(200), nullable=False, server_default=""),
    Column("answer", String(200), nullable=False, server_default=""),  # its first characters
    Column("items", Integer, nullable=False),
    Index(None, "account_id", "id"),
)

# Numbers and text between the console's send form and its confirmation
# (console/pages/send.py): kept here, not sent back and forth by the browser,
# so 100,000 uploaded numbers travel once. Deleted once sent, or by the
# housekeeper when older than `[console] draft_keep_s`.
console_drafts = Table(
    "console_drafts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # Entries one a line, as the customer gave them (duplicates already removed).
    Column("numbers", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("time", String(32), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "created_at"),
)

# The people who run the platform (core/operators.py): sign in to /admin/.
# `role` is one of core/roles.ROLES; `totp_secret` is "" until a second
# factor is set up (base32, kept to check codes; never logged or shown again).
# `failures` count since `failures_since` (one lockout window); `totp_step` is
# the last TOTP time step a sign-in used, so that a code is good only once.
operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=False, server_default=""),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", BigInteger, nullable=False, server_default=text("0")),
    Column("failures_since", BigInteger, nullable=False, server_default=text("0")),
    Column("totp_step", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("signed_in_at", BigInteger, nullable=True),
)

# Signed-in operator browsers; as console_sessions, only the token's SHA-256.
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
    Column("address", String(64), nullable=False, server_default=""),
    Index(None, "operator_id"),
    Index(None, "seen_at"),
)

# Every operator action, from the console or the CLI (core/audit.py), written
# in the transaction of the change it records. `before`/`after` are JSON.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    # "console" or "cli"
    Column("via", String(10), nullable=False),
    Column("address", String(64), nullable=False, server_default=""),
    Column("action", String(40), nullable=False),
    # What it acted on: "account:demo", "channel:cm", "keyword:x", "system", ...
    Column("target", String(120), nullable=False, server_default=""),
    Column("before", Text, nullable=False, server_default=""),
    Column("after", Text, nullable=False, server_default=""),
    Column("note", String(200), nullable=False, server_default=""),
    Index(None, "at"),
    Index(None, "target", "id"),
)

# Channels an operator paused: the worker sends nothing on them until resumed
# (a row here, read by the dispatcher; no restart).
channel_controls = Table(
    "channel_controls",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", BigInteger, nullable=False),
)

# Which worker node runs each channel (dispatch/ownership.py): one at a time,
# under a lease it renews. `epoch` grows each time the channel changes hands:
# a node that lost the lease can neither renew nor release it, and the
# dispatcher claims a channel's messages only while its lease is held here.
channel_leases = Table(
    "channel_leases",
    metadata,
    Column("channel", String(40), primary_key=True),
    Column("owner", String(120), nullable=False, server_default=""),  # node id; "" none
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
    Column("lease_until", BigInteger, nullable=False, server_default=text("0")),
    Column("taken_at", BigInteger, nullable=False, server_default=text("0")),
)

# Worker nodes alive, each renewing its row with its channel leases: the
# share of channels a node takes is counted among them.
worker_nodes = Table(
    "worker_nodes",
    metadata,
    Column("node", String(120), primary_key=True),  # host:pid:token
    Column("started_at", BigInteger, nullable=False),
    Column("seen_until", BigInteger, nullable=False),
)

# Messages a second, counted in each process and flushed once a second
# (hongyan/throughput.py): the operators' live page sums the last minute.
# Pruned by the process that writes; kept a few minutes.
throughput = Table(
    "throughput",
    metadata,
    Column("second", BigInteger, primary_key=True),  # epoch seconds
    Column("process", String(64), primary_key=True),  # host:pid
    Column("accepted", BigInteger, nullable=False, server_default=text("0")),
    Column("submitted", BigInteger, nullable=False, server_default=text("0")),
    Column("delivered", BigInteger, nullable=False, server_default=text("0")),
    Column("failed", BigInteger, nullable=False, server_default=text("0")),
)

# Each push host's circuit breaker as the pusher last saw it (it lives in the
# worker's memory; written every few seconds so another process can show it).
push_breakers = Table(
    "push_breakers",
    metadata,
    Column("host", String(300), primary_key=True),  # scheme://host:port, as the pusher keys it
    Column("state", String(10), nullable=False),  # closed, open, probing
    Column("failures", Integer, nullable=False),
    Column("trips", Integer, nullable=False),
    Column("open_until", BigInteger, nullable=False),  # wall clock ms; 0: not open
    Column("updated_at", BigInteger, nullable=False),
)
