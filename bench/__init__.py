"""Benchmarks of the stock ledger and the data generator they use (see bench/README.md)."""
