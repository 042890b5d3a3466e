"""ASGI routes: the customer protocol endpoints and the operational ones."""
