"""Use cases of the write side. Each owns its transaction; every stock movement goes
through ``posting.movement_post``, the one function that writes ledger rows and balances."""
