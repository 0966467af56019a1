"""Reads of the write side: functions that return querysets, scoped and annotated in SQL."""
