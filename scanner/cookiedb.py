"""The Open Cookie Database snapshot (``scanner/data/open-cookie-database.csv``): what a cookie or storage key is.

Names match exactly, or by prefix where the database marks a name as a
wildcard (``_ga_`` covers ``_ga_ABC123``); an exact match wins, then the
longest prefix.
"""
from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "data" / "open-cookie-database.csv"
COLUMNS = ("ID", "Platform", "Category", "Cookie / Data Key name", "Domain", "Description", "Retention period",
           "Data Controller", "User Privacy & GDPR Rights Portals", "Wildcard match")
CATEGORIES = {"Functional": "functional", "Marketing": "advertising", "Analytics": "analytics",
              "Security": "security", "Necessary": "necessary", "Personalization": "personalization"}


@dataclass(frozen=True)
class Entry:
    name: str
    platform: str
    category: str  # one of CATEGORIES' values
    description: str
    retention: str
    controller: str
    prefix: bool


class Database:
    def __init__(self, entries):
        self.exact: dict[str, Entry] = {}
        self.prefixes: list[Entry] = []
        for entry in entries:
            if entry.prefix:
                self.prefixes.append(entry)
            else:
                self.exact.setdefault(entry.name, entry)
        self.prefixes.sort(key=lambda e: len(e.name), reverse=True)

    def __len__(self):
        return len(self.exact) + len(self.prefixes)

    def match(self, name: str) -> Entry | None:
        entry = self.exact.get(name)
        if entry is not None:
            return entry
        return next((e for e in self.prefixes if name.startswith(e.name)), None)


def parse(text: str) -> list[Entry]:
    """The entries of a database file; ValueError says what is wrong with it."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"the columns are {reader.fieldnames}, expected {list(COLUMNS)}")
    entries = []
    for line, row in enumerate(reader, start=2):
        name, category, wildcard = row["Cookie / Data Key name"].strip(), row["Category"].strip(), row["Wildcard match"].strip()
        if not name or category not in CATEGORIES or wildcard not in ("0", "1"):
            raise ValueError(f"line {line}: needs a name, a category among {sorted(CATEGORIES)} and a wildcard of 0 or 1")
        entries.append(Entry(name, row["Platform"].strip(), CATEGORIES[category], row["Description"].strip(),
                             row["Retention period"].strip(), row["Data Controller"].strip(), wildcard == "1"))
    if not entries:
        raise ValueError("it has no entries")
    return entries


@functools.cache
def database() -> Database:
    return Database(parse(SNAPSHOT.read_text(encoding="utf-8")))
