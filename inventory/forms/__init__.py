"""Forms of the write side, one module per use case."""
