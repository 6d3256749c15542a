"""Each site's log: every consent event is a leaf of one append-only Merkle tree, under signed tree heads.

Beside each visitor's hash chain (``consent/chain.py``), the events of a site
form one tree in the manner of Certificate Transparency (RFC 9162;
``audit/merkle.py`` has the hashing and the proofs). The write path does not
touch it: :func:`extend_logs` (the beat task ``audit.tasks.audit_checkpoint``
every 10 minutes, or ``manage.py audit_checkpoint``) appends each site's new
events as leaves, in id order, and signs a *tree head*: the tree's size and
root, its time, and ``complete_until``, a promise that every event of the site
logged at or before that time is a leaf (only events at least
``CMP_AUDIT_CHECKPOINT_LAG_SECONDS`` old are taken, so a write still in flight
is not skipped). Each new head is announced (``consent.signals.tree_head_signed``:
the webhook outbox sends it to subscribers), so copies exist outside.

Anyone holding a receipt can then fetch the *inclusion proof* of its event in
a tree head, and anyone who saved an earlier head can fetch a *consistency
proof* that the current tree extends it: once a head has been seen outside,
no event before it can be changed, removed or reordered without the proofs
failing (``audit/checker.py``, the verify page).

Storage: one :class:`~audit.models.LogLeaf` per event (its id and hash: kept
after the event is purged, so purges leave every proof valid) and one
:class:`~audit.models.LogNode` per complete subtree of 256, 65,536, … leaves
(every eighth level): a proof reads a few blocks of 256 and hashes the rest.
"""
from __future__ import annotations

import heapq
import logging
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from consent.errors import Invalid, NotFound
from consent.models import ConsentEvent, Site
from consent.signals import tree_head_signed
from consent.sites import require_rules

from .merkle import Frontier, consistency_path, inclusion_path, leaf_hash, node_hash
from .models import AuditPurge, LogLeaf, LogNode, TreeHead
from .signing import TREE_HEAD, compact, sign

logger = logging.getLogger("audit")
STRIDE = 8  # store the complete subtrees of every eighth level…
BLOCK = 1 << STRIDE  # …and read them, like the leaves, 256 at a time
CHUNK = 5000  # rows per round trip while extending a log
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def extend_logs(now=None, lag_seconds=None) -> list[TreeHead]:
    """Append every site's new events to its tree and sign a head for each site that has some.

    Safe to run twice at once: a site's latest head is locked while its tree
    grows, and leaf positions are unique, so one run wins and the other
    leaves that site alone.
    """
    now = now or timezone.now()
    lag = settings.CMP_AUDIT_CHECKPOINT_LAG_SECONDS if lag_seconds is None else lag_seconds
    complete_until = now - timedelta(seconds=lag)
    high = ConsentEvent.objects.filter(created_at__lte=complete_until).aggregate(m=Max("id"))["m"]
    if high is None:
        return []
    heads = []
    for site_id, site_key in Site.objects.order_by("id").values_list("id", "key"):
        head = _extend(site_id, site_key, high, now, complete_until)
        if head is not None:
            heads.append(head)
    return heads


def _extend(site_id, site_key, high, now, complete_until) -> TreeHead | None:
    try:
        with transaction.atomic():
            last = TreeHead.objects.select_for_update().filter(site_id=site_id).order_by("-tree_size").first()
            low = last.last_event_id if last else 0
            if high <= low:
                return None
            frontier = Frontier(last.tree_size, [bytes.fromhex(h) for h in last.frontier]) if last else Frontier()
            size_before = frontier.size
            leaves = _new_leaves(site_id, site_key, low, high)
            while chunk := list(islice(leaves, CHUNK)):
                rows, nodes = [], []
                for event_id, event_hash in chunk:
                    rows.append(LogLeaf(event_id=event_id, site_id=site_id, index=frontier.size, event_hash=event_hash))
                    nodes += [LogNode(site_id=site_id, level=level, index=index, hash=node.hex())
                              for level, index, node in frontier.append(leaf_hash(event_id, event_hash)) if level % STRIDE == 0]
                LogLeaf.objects.bulk_create(rows)
                LogNode.objects.bulk_create(nodes)
            if frontier.size == size_before:
                return None  # nothing new for this site; its next run looks again from the same place
            head = TreeHead(site_id=site_id, tree_size=frontier.size, root_hash=frontier.root().hex(), created_at=now,
                            complete_until=complete_until, last_event_id=high, frontier=[h.hex() for h in frontier.hashes])
            head.key_id, head.signature = sign(head_payload(head, site_key), TREE_HEAD)
            head.save()
            tree_head_signed.send(sender=TreeHead, site_id=site_id, tree_head=published(head, site_key), at=now)
    except IntegrityError:
        return None  # another run extended this site's log first
    # Ship this line off the machine too (a log collector): one more copy outside.
    logger.info("tree head of site %s: %s leaves, root %s", site_key, head.tree_size, head.root_hash)
    return head


def _new_leaves(site_id, site_key, low, high):
    """(id, hash) of the site's events with ``low < id <= high``, live or purged (their tombstones), in id order."""
    tombstones = AuditPurge.objects.filter(first_event_id__lte=high, last_event_id__gt=low).values_list("sites", "leaves")
    purged = sorted((event_id, event_hash) for sites, leaves in tombstones if sites == [site_key]
                    for event_id, _visitor, event_hash in leaves if low < event_id <= high)
    live = (ConsentEvent.objects.filter(site_id=site_id, id__gt=low, id__lte=high).order_by("id")
            .values_list("id", "event_hash").iterator(chunk_size=CHUNK))
    return heapq.merge(live, purged)


def head_payload(head: TreeHead, site_key: str) -> dict:
    """What a tree head's signature covers (times in milliseconds since 1970, as RFC 9162 counts them)."""
    return {"site": site_key, "tree_size": head.tree_size, "root_hash": head.root_hash,
            "timestamp": _ms(head.created_at), "complete_until": _ms(head.complete_until)}


def published(head: TreeHead, site_key: str) -> dict:
    """A tree head as the log API and webhooks publish it: its fields, and the JWS that signs them."""
    payload = head_payload(head, site_key)
    return {**payload, "tree_head": compact(payload, TREE_HEAD, head.key_id, head.signature)}


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


# --- What the log API serves (api/transparency.py) ------------------------------------

def latest_head(site_key: str) -> dict:
    rules = require_rules(site_key)
    return published(_head(rules.id, rules.key), rules.key)


def inclusion_proof(site_key: str, event_id: int, event_hash: str, tree_size: int | None = None) -> dict:
    """The audit path of an event (named by its id and hash, as its receipt has them) in a signed tree head."""
    rules = require_rules(site_key)
    head = _head(rules.id, rules.key, tree_size)
    leaf = LogLeaf.objects.filter(event_id=event_id, site_id=rules.id, event_hash=event_hash).first()
    if leaf is None or leaf.index >= head.tree_size:
        raise NotFound("not_in_log", f"Tree head {head.tree_size} of site '{rules.key}' has no event {event_id} with this "
                       "hash. An event joins the log within minutes; one older than the head's complete_until is missing.")
    path = inclusion_path(leaf.index, head.tree_size, StoredTree(rules.id).perfect)
    return {"event_id": event_id, "event_hash": event_hash, "leaf_index": leaf.index, "tree_size": head.tree_size,
            "audit_path": [node.hex() for node in path], "tree_head": published(head, rules.key)}


def consistency_proof(site_key: str, first: int, second: int) -> dict:
    """The proof that the tree of ``second`` leaves holds the tree of ``first`` leaves unchanged."""
    rules = require_rules(site_key)
    latest = _head(rules.id, rules.key)
    if not 1 <= first <= second <= latest.tree_size:
        raise Invalid("bad_tree_size", f"Need 1 <= first <= second <= {latest.tree_size} (the latest tree size of site "
                      f"'{rules.key}'); got first={first}, second={second}.")
    path = consistency_path(first, second, StoredTree(rules.id).perfect)
    return {"first": first, "second": second, "consistency_path": [node.hex() for node in path]}


def _head(site_id, site_key, tree_size=None) -> TreeHead:
    heads = TreeHead.objects.filter(site_id=site_id)
    head = (heads.filter(tree_size=tree_size) if tree_size is not None else heads).order_by("-tree_size").first()
    if head is None:
        raise NotFound("no_tree_head", f"Site '{site_key}' has no signed tree head" +
                       (f" of size {tree_size}." if tree_size is not None else " yet: its events join the log within minutes."))
    return head


class StoredTree:
    """The perfect subtrees of one site's tree, from its stored leaves and nodes, read a block at a time."""

    def __init__(self, site_id: int):
        self.site_id = site_id
        self._blocks: dict[tuple[int, int], dict[int, bytes]] = {}

    def perfect(self, level: int, index: int) -> bytes:
        """The hash of the 2**level leaves from ``index * 2**level`` (from the stored level at or below)."""
        base = level - level % STRIDE
        width = 1 << (level - base)
        hashes = [self._stored(base, i) for i in range(index * width, (index + 1) * width)]
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def _stored(self, level: int, index: int) -> bytes:
        key = (level, index // BLOCK)
        if key not in self._blocks:
            self._blocks[key] = self._load(level, key[1] * BLOCK)
        try:
            return self._blocks[key][index]
        except KeyError:
            raise NotFound("log_damaged", f"The stored tree lacks its node {index} of level {level}: the log was "
                           "damaged behind the platform's back. Tell its operator.") from None

    def _load(self, level: int, start: int) -> dict[int, bytes]:
        if level == 0:
            rows = LogLeaf.objects.filter(site_id=self.site_id, index__gte=start, index__lt=start + BLOCK)
            return {i: leaf_hash(event_id, h) for i, event_id, h in rows.values_list("index", "event_id", "event_hash")}
        rows = LogNode.objects.filter(site_id=self.site_id, level=level, index__gte=start, index__lt=start + BLOCK)
        return {i: bytes.fromhex(h) for i, h in rows.values_list("index", "hash")}
