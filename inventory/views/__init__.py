"""Server-rendered pages: small HTML for a cheap phone on a slow link.

Each module is one page family (``home``, ``stock``, ``stock_card``); the rows
they show are built by ``inventory.selectors.summaries``. Every location comes
through ``inventory.selectors.scope``, so anything outside the user's subtree is a 404.
"""
