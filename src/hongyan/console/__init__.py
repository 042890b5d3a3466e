"""The web console: server-rendered pages for customers under /console/.

Every page is one more entry point to `core/` (DESIGN.md "Layout"): views
read the request, call the same service the API calls, and render a Jinja2
template; no rule is restated here. `app.py` assembles the pages,
`web.py` holds what every view shares (the session, CSRF, rendering),
`i18n.py` the catalogues, `pages/` one module per page.
"""
