"""Demo data for Sulawesi Tengah, built by ``python manage.py seed_demo``.

``locations`` builds the tree (national → province 72 → 13 districts → clinics),
``users`` the demo logins, ``lots`` the batches and ``stock`` months of history, all
posted through the ledger's one write path; ``figures`` the clinics' monthly
service figures (active and new users) and the months a district has closed. ``seed`` ties them together in one
transaction and makes a second run change nothing.
"""
