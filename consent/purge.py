"""The one way consent events leave the log: retention and erasure.

Everything else refuses to change or delete an event (models.AppendOnlyQuerySet).
These two paths delete whole visitors with all their events, so the log never
holds half a history.
"""
from django.db import transaction


@transaction.atomic
def purge_visitors(visitors, reason: str) -> int:
    """Delete ``visitors`` and all their events; returns the number of events deleted.

    Goes through the audit log's purge path (consent/audit.py): a signed
    tombstone keeps the purged events' hashes so the log still verifies, and
    the PostgreSQL append-only trigger is lifted for this transaction only.
    """
    from . import audit

    deleted, _tombstone = audit.purge_visitors(visitors, reason)
    return deleted


def erase_visitor_chain(visitor, reason: str) -> int:
    """Erase one visitor (right to delete); returns the number of events erased."""
    return purge_visitors([visitor], reason)
