"""An outsider's check of a receipt, written apart from the platform's code.

Signatures are checked by PyJWT against the published JWKS; proofs by the
recursive definitions of RFC 9162 §2.1.3.1 and §2.1.4.1 (the platform and
its checker use the iterative algorithms of §2.1.3.2 and §2.1.4.2), so a bug
shared by both would have to be made twice, differently. Everything comes
over HTTP, as an outsider gets it; nothing is read from the database.
"""
import hashlib
import json

import jwt


class Caught(Exception):
    """The outsider found the log or the receipt not what the platform claims."""


def leaf(event_id: int, event_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{event_id}:{event_hash}".encode()).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_from_path(index: int, size: int, start: bytes, path: list[bytes]) -> bytes:
    """MTH(D[size]) rebuilt from leaf ``index`` and PATH(index, D[size]), by the definition's recursion."""
    rest = list(path)

    def up(m, n):
        if n == 1:
            return start
        k, sibling = _k(n), rest.pop()  # the last hash is the sibling at the top
        return node(up(m, k), sibling) if m < k else node(sibling, up(m - k, n - k))

    try:
        root = up(index, size)
    except IndexError:
        raise Caught("the inclusion proof is too short") from None
    if rest:
        raise Caught("the inclusion proof is too long")
    return root


def roots_from_consistency(first: int, second: int, first_root: bytes, path: list[bytes]) -> tuple[bytes, bytes]:
    """(MTH(D[first]), MTH(D[second])) rebuilt from PROOF(first, D[second]), by SUBPROOF's recursion."""
    rest = list(path)

    def sub(m, n, whole):
        if m == n:
            if whole:
                return first_root, first_root
            h = rest.pop()
            return h, h
        k = _k(n)
        if m <= k:
            right = rest.pop()
            old, new = sub(m, k, whole)
            return old, node(new, right)
        left = rest.pop()
        old, new = sub(m - k, n - k, False)
        return node(left, old), node(left, new)

    try:
        roots = sub(first, second, True)
    except IndexError:
        raise Caught("the consistency proof is too short") from None
    if rest:
        raise Caught("the consistency proof is too long")
    return roots


class Outsider:
    """Holds the published keys; checks receipts and tree heads through an HTTP client (Django's, or a live one)."""

    def __init__(self, client, base=""):
        self.client, self.base = client, base
        self.keys = jwt.PyJWKSet.from_dict(self.get("/.well-known/jwks.json"))

    def get(self, path, **params):
        response = self.client.get(self.base + path, params)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.content
        return json.loads(response.content)

    def signed(self, token: str, typ: str) -> dict:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != typ or header.get("alg") != "EdDSA":
            raise Caught(f"not a {typ}: {header}")
        try:
            return jwt.decode(token, self.keys[header["kid"]], algorithms=["EdDSA"])
        except (KeyError, jwt.InvalidTokenError) as error:
            raise Caught(f"bad signature on a {typ}: {error!r}") from None

    def check(self, document: dict, saved_head: str | None = None) -> dict:
        """The receipt's signature, its event's inclusion in the latest head, and that head's consistency
        with ``saved_head``; returns the latest head's payload, or raises Caught."""
        receipt = self.signed(document["jws"], "cmp-receipt+jws")
        site = receipt["piiControllers"][0]["site"]
        log = f"/api/v1/sites/{site}/log"
        latest = self.get(log)
        head = self.signed(latest["tree_head"], "cmp-tree-head+jws")
        if head["site"] != site:
            raise Caught("the log's head is another site's")
        entry = receipt["auditLog"]
        proof = self.get(log + "/inclusion", event_id=entry["eventId"], event_hash=entry["eventHash"], tree_size=head["tree_size"])
        if proof is None:
            raise Caught(f"event {entry['eventId']} with this receipt's hash is not in the log")
        if proof["tree_head"]["tree_head"] != latest["tree_head"]:
            raise Caught("the proof is against another head")
        root = root_from_path(proof["leaf_index"], head["tree_size"], leaf(entry["eventId"], entry["eventHash"]),
                              [bytes.fromhex(h) for h in proof["audit_path"]])
        if root.hex() != head["root_hash"]:
            raise Caught("the inclusion proof does not lead to the head's root")
        if saved_head is not None:
            saved = self.signed(saved_head, "cmp-tree-head+jws")
            self.consistent(saved, head)
            if (receipt["consentTimestamp"] + 1) * 1000 <= saved["complete_until"] and proof["leaf_index"] >= saved["tree_size"]:
                raise Caught("the event claims a time the saved head covers, but was logged after it (backdated)")
        return head

    def consistent(self, saved: dict, head: dict) -> None:
        if saved["site"] != head["site"]:
            raise Caught("the saved head is another site's")
        if saved["tree_size"] > head["tree_size"]:
            raise Caught("the log shrank since the saved head")
        if saved["tree_size"] == head["tree_size"]:
            if saved["root_hash"] != head["root_hash"]:
                raise Caught("two different roots for the same tree size: the log was rewritten")
            return
        proof = self.get(f"/api/v1/sites/{head['site']}/log/consistency", first=saved["tree_size"], second=head["tree_size"])
        old, new = roots_from_consistency(saved["tree_size"], head["tree_size"], bytes.fromhex(saved["root_hash"]),
                                          [bytes.fromhex(h) for h in proof["consistency_path"]])
        if old.hex() != saved["root_hash"] or new.hex() != head["root_hash"]:
            raise Caught("the latest head does not extend the saved one: the log was rewritten behind it")
