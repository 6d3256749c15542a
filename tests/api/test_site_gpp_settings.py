"""What a site says about itself in the GPP string (notices, MSPA): fields in the admin, checked, and read back."""
from datetime import timedelta

import pytest
from django.utils import timezone

from consent import decisions as d
from consent import gpp
from consent.models import Site
from tests.support import form_fields


def post_settings(admin_client, site, drop=(), **changes):
    url = f"/admin/consent/site/{site.pk}/change/"
    data = {**form_fields(admin_client.get(url).content.decode()), **changes}
    for name in drop:  # an unticked checkbox is not posted at all
        data.pop(name, None)
    return admin_client.post(url, data)


def test_a_new_site_gives_the_notices_and_is_not_mspa_covered(demo_site):
    assert demo_site.gpp_settings() == gpp.GppSettings()


def test_the_admin_saves_the_gpp_settings_and_the_string_says_them(admin_client, demo_site):
    page = admin_client.get(f"/admin/consent/site/{demo_site.pk}/change/").content.decode()
    assert 'name="mspa_covered_transaction"' in page and 'name="mspa_mode"' in page
    response = post_settings(admin_client, demo_site, drop=("gpp_opt_out_notice",),
                             mspa_covered_transaction="on", mspa_mode=gpp.SERVICE_PROVIDER_MODE)
    assert response.status_code == 302, response.content.decode()[:2000]
    site = Site.objects.get(pk=demo_site.pk)
    settings = site.gpp_settings()
    assert settings.mspa_covered_transaction and settings.mspa_mode == gpp.SERVICE_PROVIDER_MODE
    assert settings.sharing_notice and not settings.sale_opt_out_notice
    outcome = d.decide(d.Context((d.Purpose("advertising"),), d.OPT_OUT, timezone.now(), timedelta(days=365)))
    usnat = gpp.encode("US-CA", outcome, d.Signals(), settings).sections["usnat"]
    assert (usnat["MspaCoveredTransaction"], usnat["MspaServiceProviderMode"], usnat["SaleOptOutNotice"]) == (1, 1, 2)


@pytest.mark.parametrize("changes, drop, words", [
    ({"mspa_covered_transaction": "on", "mspa_mode": ""}, (), "Choose the mode the site signed the MSPA in."),
    ({"mspa_mode": gpp.OPT_OUT_OPTION_MODE}, ("mspa_covered_transaction",), "only to transactions the MSPA covers"),
    ({"mspa_covered_transaction": "on", "mspa_mode": "both"}, (), "Select a valid choice"),
])
def test_mspa_settings_that_contradict_themselves_say_what_is_wrong(admin_client, demo_site, changes, drop, words):
    response = post_settings(admin_client, demo_site, drop=drop, **changes)
    assert response.status_code == 200 and words in response.content.decode()
    assert Site.objects.get(pk=demo_site.pk).gpp_settings() == gpp.GppSettings()

