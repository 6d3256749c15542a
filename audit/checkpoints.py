"""Checkpoints: a signed Merkle root over every event appended since the previous one.

A periodic :func:`checkpoint` (Celery beat, and ``manage.py audit_checkpoint``)
stores a Merkle root over ``(id, hash)`` of every event appended since the
previous checkpoint, and the previous checkpoint's root, signed with the
platform key. Deleting a whole visitor's chain, which leaves every remaining
chain intact, changes a root. Purged events count by the leaves their
tombstones keep (:mod:`audit.purge`).
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from consent.chain import iso_utc
from consent.models import ConsentEvent

from .models import AuditCheckpoint, AuditPurge
from .signing import sign

logger = logging.getLogger("audit")


def merkle_leaf(event_id: int, hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{event_id}:{hash_hex}".encode()).digest()


class MerkleBuilder:
    """RFC 6962-shaped Merkle tree hash, built from a stream in O(log n) memory."""

    def __init__(self):
        self._stack: list[tuple[int, bytes]] = []
        self.count = 0

    def add(self, event_id: int, hash_hex: str) -> None:
        size, node = 1, merkle_leaf(event_id, hash_hex)
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            node = hashlib.sha256(b"\x01" + left + node).digest()
            size *= 2
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> str:
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()


def checkpoint(now=None, lag_seconds=None):
    """Record a checkpoint over the events appended since the last one; None if none were.

    Only events at least ``lag_seconds`` old (``CMP_AUDIT_CHECKPOINT_LAG_SECONDS``)
    set the upper bound, so a write still in flight (its id taken, not yet
    committed) is not skipped by the root. Safe to run twice at once: the
    unique ``after_event_id`` lets one win.
    """
    now = now or timezone.now()
    lag = settings.CMP_AUDIT_CHECKPOINT_LAG_SECONDS if lag_seconds is None else lag_seconds
    try:
        with transaction.atomic():
            last = AuditCheckpoint.objects.select_for_update().order_by("-last_event_id").first()
            low = last.last_event_id if last else 0
            high = ConsentEvent.objects.filter(id__gt=low, created_at__lte=now - timedelta(seconds=lag)).aggregate(m=Max("id"))["m"]
            if high is None:
                return None
            builder, first = MerkleBuilder(), None
            for event_id, hash_hex in leaves_in_range(low, high):
                first = event_id if first is None else first
                builder.add(event_id, hash_hex)
            cp = AuditCheckpoint(
                created_at=now, after_event_id=low, first_event_id=first, last_event_id=high,
                event_count=builder.count, merkle_root=builder.root(), prev_root=last.merkle_root if last else "",
            )
            cp.key_id, cp.signature = sign(checkpoint_payload(cp))
            cp.save()
        # Ship this line off the machine (log collector) to anchor the root outside the database.
        logger.info("audit checkpoint %s events %s-%s root %s", cp.pk, low + 1, high, cp.merkle_root)
        return cp
    except IntegrityError:
        return None  # another checkpoint covering the same range won


def checkpoint_payload(cp) -> dict:
    return {
        "kind": "cmp-audit-checkpoint", "created_at": iso_utc(cp.created_at), "after_event_id": cp.after_event_id,
        "first_event_id": cp.first_event_id, "last_event_id": cp.last_event_id, "event_count": cp.event_count,
        "merkle_root": cp.merkle_root, "prev_root": cp.prev_root,
    }


def leaves_in_range(low: int, high: int):
    """(id, hash) of every event with ``low < id <= high``, live or tombstoned, in id order."""
    purged = []
    for leaves in AuditPurge.objects.filter(first_event_id__lte=high, last_event_id__gt=low).values_list("leaves", flat=True):
        purged.extend((leaf[0], leaf[2]) for leaf in leaves if low < leaf[0] <= high)
    purged.sort()
    live = ConsentEvent.objects.filter(id__gt=low, id__lte=high).order_by("id").values_list("id", "event_hash")
    return _merge(live.iterator(chunk_size=5000), iter(purged))


def _merge(a, b):
    """Merge two id-sorted streams of (id, hash)."""
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] <= y[0]):
            yield x
            x = next(a, None)
        else:
            yield y
            y = next(b, None)
