"""The Merkle tree of the site logs: RFC 9162 hashing, proofs built and checked, from memory and from storage.

The reference here is the RFC's own recursive definitions (MTH, PATH,
PROOF), computed from the whole list of leaves, and the outsider's
recursive verifiers (tests/support/outsider.py): the platform's builders and
iterative verifiers (audit/merkle.py) must agree with both.
"""
import hashlib
import itertools

import pytest

from audit import log
from audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofInvalid,
    consistency_path,
    inclusion_path,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from consent.models import ConsentEvent, Visitor
from tests.support.outsider import Caught, root_from_path, roots_from_consistency


def sha(data):
    return hashlib.sha256(data).digest()


def mth(leaves):
    """RFC 9162 §2.1.1, literally."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m, leaves):
    """RFC 9162 §2.1.3.1, literally."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return path(m, leaves[:k]) + [mth(leaves[k:])] if m < k else path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, whole):
    """RFC 9162 §2.1.4.1, literally."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


LEAVES = [leaf_hash(i + 1, f"{i:064x}") for i in range(40)]


def memory(leaves):
    """perfect(level, index) over an in-memory list."""
    return lambda level, index: mth(leaves[index << level:(index + 1) << level])


def test_leaf_and_empty_tree_are_hashed_as_rfc_9162_says():
    assert leaf_hash(42, "ab" * 32) == sha(b"\x00" + b"42:" + b"ab" * 32)
    assert EMPTY_ROOT == sha(b"") and Frontier().root() == sha(b"")


def test_frontier_root_is_the_tree_hash_at_every_size():
    frontier = Frontier()
    for size in range(1, len(LEAVES) + 1):
        completed = frontier.append(LEAVES[size - 1])
        assert frontier.root() == mth(LEAVES[:size])
        for level, index, node in completed:  # each completed perfect subtree is what it claims to be
            assert node == mth(LEAVES[index << level:(index + 1) << level])
        resumed = Frontier(size, list(frontier.hashes))  # a tree head's frontier resumes the same tree
        assert resumed.root() == frontier.root()


def test_inclusion_proofs_match_the_definition_and_verify_both_ways():
    for size in range(1, 34):
        leaves = LEAVES[:size]
        root = mth(leaves)
        for index in range(size):
            proof = inclusion_path(index, size, memory(leaves))
            assert proof == path(index, leaves)
            verify_inclusion(index, size, leaves[index], proof, root)
            assert root_from_path(index, size, leaves[index], proof) == root


def test_consistency_proofs_match_the_definition_and_verify_both_ways():
    for second in range(1, 34):
        for first in range(1, second + 1):
            proof = consistency_path(first, second, memory(LEAVES[:second]))
            assert proof == subproof(first, LEAVES[:second], True)
            old, new = mth(LEAVES[:first]), mth(LEAVES[:second])
            verify_consistency(first, second, old, new, proof)
            assert roots_from_consistency(first, second, old, proof) == (old, new)


def test_a_wrong_leaf_root_or_proof_is_refused():
    leaves = LEAVES[:13]
    root, proof = mth(leaves), inclusion_path(5, 13, memory(leaves))
    wrong = [(5, 13, leaves[6], proof, root), (5, 13, leaves[5], proof, LEAVES[0]), (4, 13, leaves[5], proof, root),
             (5, 13, leaves[5], proof[:-1], root), (5, 13, leaves[5], [*proof, root], root), (13, 13, leaves[5], proof, root),
             (5, 13, leaves[5], [proof[1], proof[0], *proof[2:]], root)]
    for case in wrong:
        with pytest.raises(ProofInvalid):
            verify_inclusion(*case)
    cons = consistency_path(6, 13, memory(leaves))
    old, new = mth(leaves[:6]), root
    for case in [(6, 13, old, new, cons[:-1]), (6, 13, old, LEAVES[1], cons), (6, 13, LEAVES[2], new, cons),
                 (6, 13, old, new, []), (7, 13, old, new, cons), (0, 13, old, new, cons), (6, 6, old, new, []),
                 (14, 13, old, new, cons)]:
        with pytest.raises(ProofInvalid):
            verify_consistency(*case)


def test_the_outsiders_recursive_checks_refuse_the_same():
    leaves = LEAVES[:13]
    proof = inclusion_path(5, 13, memory(leaves))
    assert root_from_path(5, 13, leaves[6], proof) != mth(leaves)
    with pytest.raises(Caught):
        root_from_path(5, 13, leaves[5], proof[:-1])
    with pytest.raises(Caught):
        roots_from_consistency(6, 13, mth(leaves[:6]), [*consistency_path(6, 13, memory(leaves)), leaves[0]])


@pytest.mark.slow
def test_proofs_from_the_stored_tree_cross_every_stored_level(demo_site):
    """65,536 leaves and more: the leaves, the stored subtrees of 256 and of 65,536 leaves all serve proofs."""
    visitor = Visitor.objects.create(site=demo_site, uuid="0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10", token_hash="0" * 64)
    total = 65_536 + 300
    ConsentEvent.objects.bulk_create(
        (ConsentEvent(site=demo_site, visitor=visitor, source="api", regime="opt_in", event_hash=f"{i:064x}")
         for i in range(total)), batch_size=5000)
    [head] = log.extend_logs(lag_seconds=0)
    assert head.tree_size == total
    rows = log.LogLeaf.objects.filter(site=demo_site).order_by("index").values_list("event_id", "event_hash")
    leaves = [leaf_hash(event_id, h) for event_id, h in rows]
    assert bytes.fromhex(head.root_hash) == mth(leaves)
    assert log.LogNode.objects.filter(site=demo_site, level=16).count() == 1
    assert log.LogNode.objects.filter(site=demo_site, level=8).count() == total // 256
    stored = log.StoredTree(demo_site.pk)
    for size, index in itertools.product((1, 255, 256, 257, 65_535, 65_536, total), (0, 1, 200, 256, 65_535, total - 1)):
        if index < size:
            proof = inclusion_path(index, size, stored.perfect)
            assert root_from_path(index, size, leaves[index], proof) == mth(leaves[:size]), (index, size)
    for first, second in ((1, total), (255, 257), (256, 65_536), (300, total), (65_536, total), (65_537, total)):
        proof = consistency_path(first, second, stored.perfect)
        assert roots_from_consistency(first, second, mth(leaves[:first]), proof) == (mth(leaves[:first]), mth(leaves[:second]))
