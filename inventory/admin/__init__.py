"""The inventory admin: master data editable with import/export (``master``), the
ledger read-only (``ledger``), the opening-balance import (``opening``); every page
scoped to the user's subtree (``scoping``)."""

from inventory.admin import ledger, master, reconciliation  # noqa: F401 - importing registers the model admins
