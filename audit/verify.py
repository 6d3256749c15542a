"""Checking the log end to end (``manage.py verify_audit``).

:func:`verify` recomputes every event hash, every visitor chain
(:mod:`consent.chain`), every tombstone's signature (:mod:`audit.purge`),
every site's log (:mod:`audit.log`: each tree head's signature and root, each
stored subtree, and each leaf against its event or tombstone) and the
checkpoints of before the logs (:mod:`audit.checkpoints`), and reports each
break with the first event it concerns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Max

from consent.chain import CONTENT_FIELDS, GENESIS, OPTIONAL_FIELDS, canonical_content, event_hash
from consent.models import ConsentEvent, Site

from .checkpoints import checkpoint_payload, leaves_in_range
from .log import STRIDE, head_payload
from .merkle import Frontier, leaf_hash
from .models import AuditCheckpoint, AuditPurge, LogLeaf, LogNode, TreeHead
from .purge import tombstone_payload
from .signing import TOMBSTONE, TREE_HEAD, signature_valid


@dataclass
class Problem:
    kind: str  # content, chain, log, tombstone, checkpoint
    message: str
    event_id: int | None = None

    def __str__(self):
        return self.message


@dataclass
class Report:
    events: int = 0
    visitors: int = 0
    logs: int = 0
    tree_heads: int = 0
    checkpoints: int = 0
    tombstones: int = 0
    unchecked_tail: int = 0  # events in no tree head yet
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind, message, event_id=None, limit=1000):
        if len(self.problems) < limit:
            self.problems.append(Problem(kind, message, event_id))


def verify(site=None, since=None, chains=True, checkpoints=True) -> Report:
    """Recompute every event hash, every visitor chain, every tombstone, site log and checkpoint.

    ``site`` (a key) limits the event, chain and log checks to one site (the
    old checkpoints cover all sites, so they are checked whole). ``since`` (a
    datetime) starts at the first event created at or after it, trusting the
    stored hash of each chain's preceding event, and checks only checkpoints
    reaching it; logs are always checked whole (a root covers every leaf).
    ``checkpoints=False`` skips the logs and the checkpoints.
    """
    report = Report()
    start_id = 0
    if since is not None:
        first = ConsentEvent.objects.filter(created_at__gte=since).order_by("id").values_list("id", flat=True).first()
        start_id = (first - 1) if first is not None else (ConsentEvent.objects.aggregate(m=Max("id"))["m"] or 0)
    purged_heads, purged_leaves, dropped = _verify_tombstones(report, start_id)
    if chains:
        site_keys = dict(Site.objects.values_list("id", "key"))
        events = ConsentEvent.objects.filter(id__gt=start_id)
        if site is not None:
            events = events.filter(site__key=site)
        _verify_chains(report, events, site_keys, purged_heads, trusted_start=start_id > 0)
    if checkpoints:
        for site_id, site_key in Site.objects.filter(**({"key": site} if site else {})).order_by("id").values_list("id", "key"):
            _verify_log(report, site_id, site_key, purged_leaves, dropped.get(site_key))
        _verify_checkpoints(report, AuditCheckpoint.objects.filter(last_event_id__gt=start_id).order_by("last_event_id"), start_id)
    report.problems.sort(key=lambda p: (p.event_id is None, p.event_id or 0))
    return report


@dataclass
class DroppedMonths:
    """What the tombstones of a site's dropped months stand for: events in these id ranges, this many of them,
    besides the anchors they list one by one."""
    ranges: list = field(default_factory=list)
    count: int = 0

    def covers(self, event_id) -> bool:
        return any(first <= event_id <= last for first, last in self.ranges)


def _verify_tombstones(report, start_id):
    """Check each tombstone's signature; return {visitor row id: set of purged hashes}, {(site key, event id): hash}
    and {site key: DroppedMonths}."""
    heads: dict[int, set] = {}
    leaves: dict[tuple[str, int], str] = {}
    dropped: dict[str, DroppedMonths] = {}
    for t in AuditPurge.objects.order_by("id").iterator(chunk_size=100):
        if t.partition:
            months = dropped.setdefault(t.sites[0], DroppedMonths())
            months.ranges.append((t.first_event_id, t.last_event_id))
            months.count += t.event_count - len(t.leaves)
        report.tombstones += 1
        if not signature_valid(tombstone_payload(t), TOMBSTONE, t.key_id, t.signature):
            report.add("tombstone", f"tombstone {t.pk} ({t.reason}): signature does not match its content", t.first_event_id)
        for event_id, visitor_id, hash_hex in t.leaves:
            heads.setdefault(visitor_id, set()).add(hash_hex)
            for site_key in t.sites:
                leaves[(site_key, event_id)] = hash_hex
    return heads, leaves, dropped


def _verify_chains(report, events, site_keys, purged_heads, trusted_start):
    rows = events.order_by("visitor_id", "id").values_list(
        "id", "visitor_id", "visitor__uuid", "site_id", "created_at", "prev_hash", "event_hash", *CONTENT_FIELDS,
        *OPTIONAL_FIELDS,
    )
    current_visitor, previous_hash = None, None
    for row in rows.iterator(chunk_size=5000):
        event_id, visitor_id, visitor_uuid, site_id, created_at, prev_hash, stored = row[:7]
        fields = dict(zip((*CONTENT_FIELDS, *OPTIONAL_FIELDS), row[7:], strict=True))
        report.events += 1
        if visitor_id != current_visitor:
            report.visitors += 1
            current_visitor = visitor_id
            if trusted_start:
                previous_hash = (
                    ConsentEvent.objects.filter(visitor_id=visitor_id, id__lt=event_id)
                    .order_by("-id").values_list("event_hash", flat=True).first()
                )
            else:
                previous_hash = None
            if previous_hash is None:
                # The first event of a chain links to nothing, or to a purged segment's head.
                previous_hash = prev_hash if (prev_hash == GENESIS or prev_hash in purged_heads.get(visitor_id, ())) else GENESIS
        content = canonical_content(
            site_key=site_keys.get(site_id, f"?{site_id}"), visitor_uuid=visitor_uuid, created_at=created_at,
            prev_hash=prev_hash, **fields,
        )
        if event_hash(content) != stored:
            report.add("content", f"event {event_id} (visitor {visitor_uuid}): stored hash does not match its content (altered)", event_id)
        if prev_hash != previous_hash:
            report.add(
                "chain",
                f"event {event_id} (visitor {visitor_uuid}): prev_hash {prev_hash[:12] or '(none)'}… does not link to the "
                f"visitor's previous event ({(previous_hash or '(none)')[:12]}…): an event was deleted, inserted or reordered",
                event_id,
            )
        previous_hash = stored


def _verify_checkpoints(report, checkpoints, start_id):
    previous = None
    for cp in checkpoints.iterator(chunk_size=100):
        report.checkpoints += 1
        if previous is None and cp.after_event_id > 0:
            previous = AuditCheckpoint.objects.filter(last_event_id=cp.after_event_id).first()
            if previous is None:
                report.add("checkpoint", f"checkpoint {cp.pk}: the checkpoint ending at event {cp.after_event_id} is missing", cp.after_event_id + 1)
        elif previous is not None and cp.after_event_id != previous.last_event_id:
            report.add("checkpoint", f"checkpoint {cp.pk}: starts after event {cp.after_event_id}, but the previous one ends at {previous.last_event_id}", cp.after_event_id + 1)
        expected_prev = previous.merkle_root if previous is not None else ""
        if cp.prev_root != expected_prev and not (previous is None and cp.after_event_id > 0):
            report.add("checkpoint", f"checkpoint {cp.pk}: prev_root does not match the previous checkpoint's root", cp.after_event_id + 1)
        if not signature_valid(checkpoint_payload(cp), "", cp.key_id, cp.signature):  # HMAC: no JWS type
            report.add("checkpoint", f"checkpoint {cp.pk}: signature does not match its content (key {cp.key_id!r})", cp.after_event_id + 1)
        tree = Frontier()
        for event_id, hash_hex in leaves_in_range(cp.after_event_id, cp.last_event_id):
            tree.append(leaf_hash(event_id, hash_hex))
        if tree.size != cp.event_count or tree.root().hex() != cp.merkle_root:
            report.add(
                "checkpoint",
                f"checkpoint {cp.pk} (events {cp.after_event_id + 1}–{cp.last_event_id}): Merkle root differs "
                f"({tree.size} events now, {cp.event_count} when checkpointed): events in this range were deleted, "
                f"altered or reordered",
                cp.after_event_id + 1,
            )
        previous = cp


def _verify_log(report, site_id, site_key, purged_leaves, dropped=None) -> None:
    """One site's log: its heads (signatures, roots), stored subtrees and leaves against the events."""
    heads = list(TreeHead.objects.filter(site_id=site_id).order_by("tree_size"))
    events = ConsentEvent.objects.filter(site_id=site_id)
    if not heads:
        report.unchecked_tail += events.count()
        return
    report.logs += 1
    report.tree_heads += len(heads)
    for head in heads:
        if not signature_valid(head_payload(head, site_key), TREE_HEAD, head.key_id, head.signature):
            report.add("log", f"site {site_key}: tree head {head.tree_size} does not match its signature (rewritten)")
    _verify_tree(report, site_id, site_key, heads)
    _verify_leaves(report, site_key, LogLeaf.objects.filter(site_id=site_id), events, heads[-1].last_event_id, purged_leaves,
                   dropped or DroppedMonths())


def _verify_tree(report, site_id, site_key, heads) -> None:
    """Rebuild the tree from its leaves: every head's root and every stored subtree must come out."""
    stored = {(level, index): h for level, index, h in LogNode.objects.filter(site_id=site_id).values_list("level", "index", "hash")}
    tree, pending = Frontier(), iter(heads)
    head = next(pending)
    leaves = LogLeaf.objects.filter(site_id=site_id).order_by("index").values_list("index", "event_id", "event_hash")
    for index, event_id, hash_hex in leaves.iterator(chunk_size=5000):
        if index != tree.size:
            report.add("log", f"site {site_key}: leaf {tree.size} is missing from the log (deleted)", event_id)
            return
        for level, position, node in tree.append(leaf_hash(event_id, hash_hex)):
            if level % STRIDE == 0 and stored.pop((level, position), None) != node.hex():
                report.add("log", f"site {site_key}: stored subtree {position} of level {level} differs from its leaves", event_id)
        while head is not None and tree.size == head.tree_size:
            if tree.root().hex() != head.root_hash:
                report.add("log", f"site {site_key}: the leaves no longer make the root of tree head {head.tree_size} "
                           "(a logged event was changed, removed or reordered)", event_id)
            if head is heads[-1] and [h.hex() for h in tree.hashes] != head.frontier:
                report.add("log", f"site {site_key}: the latest tree head's frontier differs from its leaves")
            head = next(pending, None)
    if head is not None:
        report.add("log", f"site {site_key}: tree head {head.tree_size} has more leaves than the log holds ({tree.size}): leaves were deleted")
    elif tree.size > heads[-1].tree_size:
        report.add("log", f"site {site_key}: {tree.size - heads[-1].tree_size} leaves are beyond the latest tree head "
                   f"({heads[-1].tree_size}): a head was deleted")
    for level, position in stored:
        report.add("log", f"site {site_key}: stored subtree {position} of level {level} is beyond the log's leaves")


def _verify_leaves(report, site_key, leaves, events, last_event_id, purged_leaves, dropped) -> None:
    """Each leaf is its event (same hash), a tombstoned one, or one of a dropped month's (as many as its tombstones
    count); each event up to ``last_event_id`` is a leaf."""
    logged = leaves.order_by("event_id").values_list("event_id", "event_hash", "index").iterator(chunk_size=5000)
    live = events.order_by("id").values_list("id", "event_hash").iterator(chunk_size=5000)
    leaf, event = next(logged, None), next(live, None)
    gone_with_months = 0
    while leaf is not None or event is not None:
        if event is None or (leaf is not None and leaf[0] < event[0]):
            event_id, hash_hex, index = leaf
            if purged_leaves.get((site_key, event_id)) == hash_hex:
                pass
            elif dropped.covers(event_id):
                gone_with_months += 1
            else:
                report.add("log", f"event {event_id} (leaf {index} of site {site_key}) is gone from the database without "
                           "a tombstone: deleted behind the platform's back", event_id)
            leaf = next(logged, None)
        elif leaf is None or event[0] < leaf[0]:
            if event[0] <= last_event_id:
                report.add("log", f"event {event[0]} of site {site_key} is in no tree head: inserted behind the platform's "
                           "back (or its write took longer than the lag before logging)", event[0])
            else:
                report.unchecked_tail += 1
            event = next(live, None)
        else:
            if leaf[1] != event[1]:
                report.add("log", f"event {event[0]} differs from its leaf {leaf[2]} in the log of site {site_key}: "
                           "changed after it was logged", event[0])
            leaf, event = next(logged, None), next(live, None)
    if gone_with_months != dropped.count:
        report.add("log", f"site {site_key}: {gone_with_months} logged events are gone within the id ranges of the dropped "
                   f"months, whose tombstones account for {dropped.count}: events were deleted behind the platform's back")


def chain_status(visitor) -> dict:
    """The chain of one visitor, checked: {"ok", "events", "problems"} (for the admin).

    A chain whose older events went with their month starts at the anchor its
    month's tombstone lists."""
    report = Report()
    site_keys = dict(Site.objects.filter(pk=visitor.site_id).values_list("id", "key"))
    tombstones = AuditPurge.objects.filter(sites=[site_keys[visitor.site_id]]).exclude(partition="")
    anchors = {visitor.pk: {h for leaves in tombstones.values_list("leaves", flat=True) for _, v, h in leaves if v == visitor.pk}}
    _verify_chains(report, ConsentEvent.objects.filter(visitor_id=visitor.pk), site_keys, anchors, trusted_start=False)
    return {"ok": report.ok, "events": report.events, "problems": [str(p) for p in report.problems]}
