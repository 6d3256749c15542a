"""Checking a consent receipt from the outside, with no secret and no access to the platform's database.

What a visitor, an auditor or a regulator runs. Everything comes over HTTP
from the platform, as anyone can fetch it, and is checked here:

1. the receipt's signature (its JWS) with the platform's published keys
   (``/.well-known/jwks.json``, or a copy the checker pinned);
2. the site's latest signed tree head, and the inclusion proof of the
   receipt's event in it (RFC 9162 §2.1.3.2, ``audit/merkle.py``);
3. when the checker saved a tree head earlier: the consistency proof that the
   latest head extends it (§2.1.4.2), so nothing logged before it was changed
   or removed since; and that the receipt's event, if its time is one the
   saved head promised to hold (``complete_until``), was in it (not logged
   later with an earlier date).

It needs only the standard library, ``cryptography`` and ``audit/merkle.py``:
``python -m audit.checker receipt.json [--tree-head saved.jws]`` runs it
outside the platform; ``manage.py verify_receipt`` runs the same.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .merkle import ProofInvalid, leaf_hash, verify_consistency, verify_inclusion

RECEIPT, TREE_HEAD = "cmp-receipt+jws", "cmp-tree-head+jws"


class CheckFailed(Exception):
    """The receipt, or the log behind it, is not what the platform claims."""


class NotLoggedYet(Exception):
    """The receipt's event has not joined its site's log yet, and no head says it should have."""


@dataclass
class Checked:
    receipt: dict
    head: dict  # the latest tree head's signed payload
    head_jws: str
    leaf_index: int
    lines: list[str] = field(default_factory=list)


def http_get(url: str):
    """GET a JSON document; None for a 404."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "cmp-receipt-checker/1"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise CheckFailed(f"{url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise CheckFailed(f"cannot fetch {url}: {error}") from None


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class Checker:
    def __init__(self, platform: str, jwks: dict | None = None, get=http_get):
        self.platform, self.get = platform.rstrip("/"), get
        jwks = jwks if jwks is not None else get(self.platform + "/.well-known/jwks.json")
        try:
            self.keys = {k["kid"]: Ed25519PublicKey.from_public_bytes(_b64(k["x"]))
                         for k in jwks["keys"] if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"}
        except (KeyError, TypeError, ValueError):
            raise CheckFailed("the key set is not a JWKS of Ed25519 keys") from None

    def signed(self, token: str, typ: str) -> dict:
        """The payload of a compact JWS of type ``typ``, signed (EdDSA) by one of the keys."""
        try:
            header_part, payload_part, signature = token.strip().split(".")
            header, payload = json.loads(_b64(header_part)), json.loads(_b64(payload_part))
        except (AttributeError, ValueError):
            raise CheckFailed(f"not a JWS (expected <header>.<payload>.<signature>) where a {typ} should be") from None
        if not isinstance(header, dict) or header.get("alg") != "EdDSA" or header.get("typ") != typ:
            raise CheckFailed(f"not a {typ} signed with EdDSA: its header is {header}")
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise CheckFailed(f"signed with key {header.get('kid')!r}, which the platform does not publish")
        try:
            key.verify(_b64(signature), f"{header_part}.{payload_part}".encode())
        except (InvalidSignature, ValueError):
            raise CheckFailed(f"the {typ}'s signature does not match its content: altered, or not signed by the platform") from None
        if not isinstance(payload, dict):
            raise CheckFailed(f"the {typ}'s payload is not a JSON object")
        return payload

    def check(self, document: dict, saved_head: str | None = None) -> Checked:
        """Check one receipt end to end; raises CheckFailed or NotLoggedYet."""
        if not isinstance(document, dict) or not isinstance(document.get("jws"), str):
            raise CheckFailed("not a consent receipt: it has no \"jws\"")
        receipt = self.signed(document["jws"], RECEIPT)
        try:
            site, entry = receipt["piiControllers"][0]["site"], receipt["auditLog"]
            event_id, event_hash, stamp = int(entry["eventId"]), str(entry["eventHash"]), int(receipt["consentTimestamp"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise CheckFailed("the signed receipt lacks its site, its time or its audit log entry") from None
        lines = [f"signature valid: receipt {receipt.get('receiptId')} signed by the platform's key "
                 f"{json.loads(_b64(document['jws'].split('.')[0]))['kid']!r}"]
        log = f"{self.platform}/api/v1/sites/{urllib.parse.quote(site)}/log"
        latest = self.get(log)
        if latest is None:
            raise NotLoggedYet(f"site {site!r} has no tree head yet: check again in a few minutes")
        head = self._head(latest, site)
        query = urllib.parse.urlencode({"event_id": event_id, "event_hash": event_hash, "tree_size": head["tree_size"]})
        proof = self.get(f"{log}/inclusion?{query}")
        if proof is None:
            if (stamp + 1) * 1000 <= head["complete_until"]:
                raise CheckFailed(f"event {event_id} is missing from the log: the latest tree head ({head['tree_size']} "
                                  "leaves) promises every event up to its complete_until, and this one is older")
            raise NotLoggedYet(f"event {event_id} has not joined the log yet: check again in a few minutes")
        try:
            index = int(proof["leaf_index"])
            verify_inclusion(index, head["tree_size"], leaf_hash(event_id, event_hash),
                             [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(head["root_hash"]))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckFailed(f"the inclusion proof is malformed: {error}") from None
        except ProofInvalid as error:
            raise CheckFailed(f"event {event_id} is not in the log as signed: {error}") from None
        lines.append(f"in the log: event {event_id} is leaf {index} of the tree head of {head['tree_size']} leaves "
                     f"(root {head['root_hash'][:16]}…), signed for site {site!r}")
        if saved_head is not None:
            saved = self.signed(saved_head, TREE_HEAD)
            self.consistent(saved, head)
            lines.append(f"consistent: the log still holds, unchanged, the {saved['tree_size']} leaves of the tree head you saved")
            if (stamp + 1) * 1000 <= saved["complete_until"] and index >= saved["tree_size"]:
                raise CheckFailed(f"event {event_id} claims a time your saved tree head covers, but was logged after it: backdated")
        return Checked(receipt, head, latest["tree_head"], index, lines)

    def _head(self, published: dict, site: str) -> dict:
        head = self.signed(published.get("tree_head", ""), TREE_HEAD) if isinstance(published, dict) else {}
        if head.get("site") != site:
            raise CheckFailed(f"the log's tree head is for site {head.get('site')!r}, not {site!r}")
        if not all(isinstance(head.get(name), int) for name in ("tree_size", "timestamp", "complete_until")):
            raise CheckFailed("the tree head lacks its size or its times")
        return head

    def consistent(self, saved: dict, head: dict) -> None:
        """Raise CheckFailed unless ``head`` extends the earlier ``saved`` (both signed payloads)."""
        if saved.get("site") != head["site"]:
            raise CheckFailed(f"the saved tree head is for site {saved.get('site')!r}, not {head['site']!r}")
        first, second = saved.get("tree_size"), head["tree_size"]
        if not isinstance(first, int) or first > second:
            raise CheckFailed(f"the log shrank: your saved tree head has {first} leaves, the latest {second}")
        path = []
        if first < second:
            query = urllib.parse.urlencode({"first": first, "second": second})
            proof = self.get(f"{self.platform}/api/v1/sites/{urllib.parse.quote(head['site'])}/log/consistency?{query}")
            if proof is None:
                raise CheckFailed("the platform gives no consistency proof between your saved tree head and the latest")
            path = [bytes.fromhex(h) for h in proof.get("consistency_path", [])]
        try:
            verify_consistency(first, second, bytes.fromhex(saved["root_hash"]), bytes.fromhex(head["root_hash"]), path)
        except ProofInvalid as error:
            raise CheckFailed(f"the log was rewritten: {error}") from None


def read_tree_head(text: str) -> str:
    """A saved tree head: its JWS, or the JSON the log publishes (with ``tree_head``)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)["tree_head"]
        except (ValueError, KeyError, TypeError):
            raise CheckFailed("the saved tree head is JSON without \"tree_head\"") from None
    return text


def platform_of(document: dict) -> str:
    """The origin of the log a receipt names (``log.url``)."""
    try:
        url = urllib.parse.urlsplit(document["log"]["url"])
    except (KeyError, TypeError, ValueError):
        raise CheckFailed("the receipt names no log: give the platform's address (--platform)") from None
    return f"{url.scheme}://{url.netloc}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Check a consent receipt: signature, inclusion in its site's log, "
                                     "and consistency with a tree head you saved earlier.")
    parser.add_argument("receipt", help="The receipt file (JSON), '-' for standard input.")
    parser.add_argument("--tree-head", help="A tree head you saved earlier (its JWS, or the log's JSON).")
    parser.add_argument("--save-tree-head", help="Write the latest tree head here once checked, for next time.")
    parser.add_argument("--platform", help="The platform's address (default: the origin of the receipt's log.url).")
    parser.add_argument("--jwks", help="A copy of the platform's keys (JWKS file) to trust instead of fetching them.")
    args = parser.parse_args(argv)
    try:
        document = json.loads(sys.stdin.read() if args.receipt == "-" else open(args.receipt).read())
        platform = args.platform or platform_of(document)
        checker = Checker(platform, json.loads(open(args.jwks).read()) if args.jwks else None)
        saved = read_tree_head(open(args.tree_head).read()) if args.tree_head else None
        result = checker.check(document, saved)
    except NotLoggedYet as pending:
        print(f"NOT YET: {pending}")
        return 2
    except (CheckFailed, OSError, ValueError) as failure:
        print(f"INVALID: {failure}", file=sys.stderr)
        return 1
    for line in result.lines:
        print(line)
    if args.save_tree_head:
        with open(args.save_tree_head, "w") as file:
            file.write(result.head_jws + "\n")
        print(f"saved the latest tree head ({result.head['tree_size']} leaves) to {args.save_tree_head}")
    print("VALID")
    return 0


if __name__ == "__main__":
    sys.exit(main())
