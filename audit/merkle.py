"""The Merkle tree of a site's log, as RFC 9162 (Certificate Transparency 2.0) §2.1 defines it.

Pure functions, no database: the platform builds trees and proofs with them
(``audit/log.py``), and the receipt checker (``audit/checker.py``), which
runs anywhere, verifies proofs with them.

- A leaf is ``SHA-256(0x00 ‖ "<event id>:<event hash>")``, an interior node
  ``SHA-256(0x01 ‖ left ‖ right)``; a tree of n leaves splits at the largest
  power of two below n, and the empty tree's hash is ``SHA-256("")``.
- An *inclusion proof* (an audit path) lets anyone recompute a tree's root
  from one leaf; a *consistency proof* lets anyone recompute the roots of a
  tree and of a later one from the same path, proving that the later tree
  holds the earlier one unchanged as its first leaves.

A proof is built from the hashes of *perfect* subtrees: the 2**level leaves
starting at ``index * 2**level``. Such a subtree never changes once complete,
so the platform stores some of them and passes a ``perfect(level, index)``
function to the builders here.
"""
import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofInvalid(Exception):
    pass


def leaf_hash(event_id: int, event_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{event_id}:{event_hash}".encode()).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The right edge of a growing tree: enough to append leaves and know the root, in O(log n) memory.

    For a tree of ``size`` leaves, ``hashes`` are the roots of its perfect
    subtrees, largest (leftmost) first: one per bit set in ``size``.
    """

    def __init__(self, size: int = 0, hashes=()):
        self.size, self.hashes = size, list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; returns the perfect subtrees it completes, as (level, index, hash)."""
        completed = []
        node, level, position = leaf, 0, self.size
        while position & 1:  # a perfect subtree of the same height waits on the left: join it
            node = node_hash(self.hashes.pop(), node)
            level, position = level + 1, position >> 1
            completed.append((level, position, node))
        self.hashes.append(node)
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = node_hash(left, node)
        return node


# --- Building proofs (RFC 9162 §2.1.3.1 and §2.1.4.1) ---------------------------------

def tree_hash(start: int, end: int, perfect) -> bytes:
    """The hash of the tree over leaves ``start…end-1``, from perfect subtrees (``start`` aligned as RFC 9162 splits)."""
    size = end - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return perfect(level, start >> level)
    k = split(size)
    return node_hash(tree_hash(start, start + k, perfect), tree_hash(start + k, end, perfect))


def inclusion_path(index: int, size: int, perfect) -> list[bytes]:
    """PATH(index, D[size]): the sibling hashes from the leaf up to the root."""
    path, start, end = [], 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(tree_hash(start + k, end, perfect))
            end = start + k
        else:
            path.append(tree_hash(start, start + k, perfect))
            start += k
    return path[::-1]


def consistency_path(first: int, second: int, perfect) -> list[bytes]:
    """PROOF(first, D[second]) for 0 < first ≤ second: empty when the sizes are equal."""
    path, start, end, m, whole = [], 0, second, first, True
    while end - start != m:
        k = split(end - start)
        if m <= k:
            path.append(tree_hash(start + k, end, perfect))
            end = start + k
        else:
            path.append(tree_hash(start, start + k, perfect))
            start, m, whole = start + k, m - k, False
    if not whole:
        path.append(tree_hash(start, end, perfect))
    return path[::-1]


# --- Verifying proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) --------------------------------

def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> None:
    """Raise ProofInvalid unless ``path`` proves ``leaf`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        raise ProofInvalid(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofInvalid("the inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofInvalid("the inclusion proof is shorter than the tree is high")
    if r != root:
        raise ProofInvalid("the inclusion proof leads to another root: the leaf is not in this tree")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> None:
    """Raise ProofInvalid unless ``path`` proves the tree (``second``, ``second_root``) extends (``first``, ``first_root``)."""
    if not 0 < first <= second:
        raise ProofInvalid(f"no consistency proof from a tree of {first} leaves to one of {second}")
    if first == second:
        if path or first_root != second_root:
            raise ProofInvalid(f"two different roots for the same tree of {first} leaves")
        return
    if not path:
        raise ProofInvalid("the consistency proof is empty")
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofInvalid("the consistency proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofInvalid(f"the tree of {second} leaves does not extend the tree of {first} leaves: "
                           "the log was changed behind the earlier tree head")
