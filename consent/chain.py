"""Each visitor's events form a hash chain; this module appends to it.

Every :class:`~consent.models.ConsentEvent` stores the SHA-256 of its
canonical content (:func:`canonical_content`: a JSON object with sorted keys
and no whitespace, holding every meaningful field, the visitor's UUID, the
site key, ``created_at`` in ISO 8601 UTC and ``prev_hash``), and
``prev_hash`` is the hash of the same visitor's previous event (``""`` for
the first). Altering an event breaks its hash; deleting, inserting or
reordering one breaks the chain. The audit app (``audit/``) checks chains,
logs every event as a leaf of its site's Merkle tree under signed tree
heads, and is the one path that purges them.

Appends are serialised per visitor by the row lock the write already holds
(``writes._record``), never by one global lock.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from .models import ConsentEvent
from .rows import insert_row, update_row

HASH_VERSION = 1
GENESIS = ""

# The fields of an event that its hash covers, besides site, visitor and time.
CONTENT_FIELDS = (
    "source", "choices", "signals", "decisions", "consent_mode", "regime", "policy_version",
    "banner_version", "language", "region", "ip_prefix", "user_agent",
)
# Fields added later: covered by the hash when set, left out otherwise, so the hashes of
# events made before them (which have them unset) stay what they were.
OPTIONAL_FIELDS = ("gpc_conflict_confirmed", "policy_url", "gpp")


def canonical_json(value) -> bytes:
    """Stable JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_content(*, site_key: str, visitor_uuid, created_at: datetime, prev_hash: str, **fields) -> dict:
    content = {name: fields[name] for name in CONTENT_FIELDS}
    content.update({name: fields[name] for name in OPTIONAL_FIELDS if fields.get(name)})
    content.update(
        v=HASH_VERSION, site=site_key, visitor=str(visitor_uuid), created_at=iso_utc(created_at), prev_hash=prev_hash
    )
    return content


def event_hash(content: dict) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def append_event(*, site_id: int, site_key: str, visitor, created_at: datetime, **fields) -> ConsentEvent | None:
    """Append one event to ``visitor``'s chain and return it.

    The caller holds the visitor's row lock (``FOR UPDATE``) in the
    current transaction, which serialises the chain. The chain goes on from
    the visitor's ``last_event_hash``, set here to the new event's: the
    visitor's row, with the caller's other changes to it, is saved together
    with the event (one statement on PostgreSQL). A visitor not saved yet
    starts its chain: its row is inserted together with this first event,
    unless a row for it exists by then (a racing first write committed it);
    then nothing is inserted and the answer is None, and the caller goes on
    with the existing row.
    """
    new_visitor = visitor.pk is None
    prev_hash = GENESIS if new_visitor else visitor.last_event_hash
    content = canonical_content(
        site_key=site_key, visitor_uuid=visitor.uuid, created_at=created_at, prev_hash=prev_hash, **fields
    )
    event = ConsentEvent(
        site_id=site_id, visitor=visitor, created_at=created_at, prev_hash=prev_hash, event_hash=event_hash(content),
        **{name: fields[name] for name in CONTENT_FIELDS},
        **{name: fields[name] for name in OPTIONAL_FIELDS if name in fields},
    )
    visitor.last_event_hash = event.event_hash
    if new_visitor:
        return event if insert_row(visitor, ignore_conflicts=True, child=event) else None
    update_row(visitor, child=event)
    return event
