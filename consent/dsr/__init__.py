"""Data subject requests: right to know, right to delete, verified and on time."""
