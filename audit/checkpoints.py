"""Checkpoints of before the site logs: what ``verify_audit`` needs to keep checking them.

Until each site had its own log (``audit/log.py``), a periodic checkpoint
(:class:`~audit.models.AuditCheckpoint`) stored a Merkle root over ``(id,
hash)`` of every event appended since the previous one, in id order across
all sites, and the previous checkpoint's root, under an HMAC of
``CMP_RECEIPT_KEYS``. No new ones are made; those that exist stay evidence,
and :mod:`audit.verify` checks them with the functions here. Purged events
count by the leaves their tombstones keep (:mod:`audit.purge`).
"""
import heapq

from consent.chain import iso_utc
from consent.models import ConsentEvent

from .models import AuditPurge


def checkpoint_payload(cp) -> dict:
    return {
        "kind": "cmp-audit-checkpoint", "created_at": iso_utc(cp.created_at), "after_event_id": cp.after_event_id,
        "first_event_id": cp.first_event_id, "last_event_id": cp.last_event_id, "event_count": cp.event_count,
        "merkle_root": cp.merkle_root, "prev_root": cp.prev_root,
    }


def leaves_in_range(low: int, high: int):
    """(id, hash) of every event with ``low < id <= high``, live or tombstoned, in id order."""
    purged = sorted((leaf[0], leaf[2]) for leaves in AuditPurge.objects.filter(first_event_id__lte=high, last_event_id__gt=low)
                    .values_list("leaves", flat=True) for leaf in leaves if low < leaf[0] <= high)
    live = ConsentEvent.objects.filter(id__gt=low, id__lte=high).order_by("id").values_list("id", "event_hash")
    return heapq.merge(live.iterator(chunk_size=5000), purged)
