"""Self-certifying visitor ids (consent/identity.py): the server's derivation, the banner's, and the spec.

The same tokens and ids (tests/unit/identity_vectors.json) are answered by
the server's Python, by an independent reading of the README's definition
(tests/support), and by the banner's JavaScript under ``node --test``.
"""
import json
import uuid

import pytest

from consent import identity
from tests.support import ROOT, banner_node_test, self_certifying_id

VECTORS = json.loads((ROOT / "tests/unit/identity_vectors.json").read_text())


@pytest.mark.parametrize("token, visitor_id", VECTORS)
def test_the_server_derives_each_id(token, visitor_id):
    assert str(identity.certified_id(token)) == visitor_id == self_certifying_id(token)
    assert identity.is_self_certifying(visitor_id) and identity.certifies(token, visitor_id)


def test_only_the_token_certifies_its_id():
    visitor, token = identity.new_visitor()
    assert identity.certifies(token, visitor)
    assert not identity.certifies(token + "x", visitor)
    assert not identity.certifies(None, visitor) and not identity.certifies("", visitor)
    random_id = uuid.uuid4()  # an id of before: no token certifies it
    assert not identity.is_self_certifying(random_id) and not identity.certifies(token, random_id)


def test_the_banner_derives_each_id():
    output = banner_node_test("identity.test.js", "tests/unit/identity_vectors.json")
    assert f"# pass {len(VECTORS) + 1}\n" in output, output
