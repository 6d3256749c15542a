"""The client address header counts only when the trusted proxy sent it.

Behind the compose file's nginx, ``X-Forwarded-For`` is what nginx saw; a
client that reaches the app some other way must not choose its own address
(and so its own rate-limit bucket) with that header.
"""
import ipaddress
import uuid

import pytest
from django.test import override_settings

from consent.models import ConsentEvent
from tests.support import consent_body, write_url

pytestmark = pytest.mark.django_db
PROXY = (ipaddress.ip_network("10.0.0.2/32"),)


def write(api, **headers):
    return api.post(write_url(), consent_body(str(uuid.uuid4())), format="json", **headers).status_code


@override_settings(CMP_CLIENT_IP_HEADER="X-Forwarded-For", CMP_TRUSTED_PROXIES=PROXY)
def test_the_header_counts_from_the_proxy_only(api, demo_site):
    assert write(api, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.77") == 201
    assert write(api, REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="203.0.113.88") == 201
    assert sorted(ConsentEvent.objects.values_list("ip_prefix", flat=True)) == ["198.51.100.0/24", "203.0.113.0/24"]


@override_settings(CMP_CLIENT_IP_HEADER="X-Forwarded-For", CMP_TRUSTED_PROXIES=PROXY, CMP_RATE_WRITES_PER_IP=(2, 60))
def test_a_direct_client_cannot_pick_its_rate_limit_bucket(api, demo_site):
    codes = [write(api, REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") for n in range(4)]
    assert codes == [201, 201, 429, 429]
