"""The operator console, served under /admin/ (or on a listener of its own).

web.py      what every view shares: the operator's session, CSRF, the 403 page
app.py      the sub-application: pages, static files, the separate listener
pages/      one module per page; each gives its routes (pages/__init__.py PAGES)
settings.py `[admin]` in hongyan.toml
"""
