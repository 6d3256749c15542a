"""The banner's config API, the embed script, the demo page and the API docs."""

import pytest
from django.core.management import call_command

from consent.models import Purpose, Site

pytestmark = pytest.mark.django_db
CONFIG = "/api/v1/sites/demo/config"


def test_config_in_the_requested_language(api, demo_site):
    body = api.get(CONFIG + "?lang=fr-CA").json()
    assert body["language"] == "fr"
    assert body["texts"]["title"] == "Vos choix de confidentialité"
    analytics = next(p for p in body["purposes"] if p["key"] == "analytics")
    assert analytics == {
        "key": "analytics",
        "essential": False,
        "sale_or_sharing": False,
        "name": "Mesure d'audience",
        "description": analytics["description"],
    }
    assert [p["key"] for p in body["purposes"]] == ["authentication", "security", "analytics", "advertising", "recognition"]
    assert body["policy"] == {"version": "1", "url": "https://example.com/privacy", "versions_in_force": ["1"]}
    assert body["ga_measurement_ids"] == ["G-DEMO12345"]
    assert body["direction"] == "ltr"


def test_config_carries_the_other_opt_outs_with_their_links_in_the_visitors_language(api, demo_site):
    demo_site.languages = ["en", "he"]
    demo_site.save()
    for lang, words in (("en", "Other ways to opt out"), ("he", "דרכים נוספות לסירוב")):
        body = api.get(CONFIG + f"?lang={lang}").json()
        assert body["ui"]["other_opt_outs"] == words and body["ui"]["nai_explained"]
        links = [[href for _, href in item] for item in body["opt_outs"]]
        assert links == [["https://optout.networkadvertising.org/"], ["https://tools.google.com/dlpage/gaoptout"],
                         [None, "https://support.apple.com/en-us/102420",
                          "https://support.google.com/googleplay/android-developer/answer/6048248"]]
        texts = [text for item in body["opt_outs"] for text, _ in item]
        assert all(texts) and "opt_out_nai" not in body["ui"]  # sent once, with its link
    assert texts[0].startswith("סרבו") and "“Allow Apps to Request to Track”" not in texts[2]


def test_config_falls_back_to_the_site_default_language(api, demo_site):
    body = api.get(CONFIG + "?lang=ja").json()
    assert body["language"] == "en"
    assert body["texts"]["title"] == "Your privacy choices"


def test_config_regime_follows_the_region(api, demo_site):
    assert api.get(CONFIG, HTTP_CF_IPCOUNTRY="US").json()["regime"] == "opt_out"
    assert api.get(CONFIG).json()["regime"] == "opt_in"


def test_config_etag_gives_304_and_changes_with_the_site(api, demo_site):
    first = api.get(CONFIG)
    etag = first["ETag"]
    assert api.get(CONFIG, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert api.get(CONFIG, HTTP_IF_NONE_MATCH=etag).status_code == 304
    purpose = Purpose.objects.get(site=demo_site, key="analytics")
    purpose.names = {"en": "Audience measurement"}
    purpose.save()  # as the admin does
    changed = api.get(CONFIG, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert "Audience measurement" in changed.content.decode()


def test_rtl_language(api, demo_site):
    demo_site.languages = ["en", "ar"]
    demo_site.save()
    assert api.get(CONFIG + "?lang=ar").json()["direction"] == "rtl"


def test_new_site_gets_the_five_default_purposes():
    site = Site.objects.create(key="fresh", name="Fresh")
    purposes = {p.key: p.essential for p in site.purposes.all()}
    assert purposes == {
        "authentication": True, "security": True, "analytics": False, "advertising": False, "recognition": False,
    }


def test_seed_demo_is_idempotent_and_adds_origins(demo_site):
    call_command("seed_demo", "--origin", "http://localhost:3000", stdout=open("/dev/null", "w"))
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    site = Site.objects.get(key="demo")
    assert Site.objects.filter(key="demo").count() == 1
    assert site.purposes.count() == 5
    assert site.policy_versions.count() == 1
    assert site.allowed_origins == ["http://localhost:3000", "https://shop.example.com"]
    assert site.regime_overrides["US"] == "opt_out"
    assert site.regime_overrides["FR"] == "opt_in"
    assert site.regime_overrides["GB"] == "opt_in"


def test_seed_demo_refuses_a_bad_origin(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not an origin"):
        call_command("seed_demo", "--origin", "shop.example.com/path")


def test_demo_page_embeds_the_banner_and_gated_tags(client, demo_site):
    html = client.get("/demo/").content.decode()
    assert '<script src="/c/demo.js"></script>' in html
    for purpose in ("analytics", "advertising", "recognition"):
        assert f'data-cmp-purpose="{purpose}"' in html
    assert "data-cmp-open" in html


def test_embed_script_for_known_and_unknown_site(client, demo_site):
    ok = client.get("/c/demo.js")
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/javascript") or ok["Content-Type"].startswith("application/javascript")
    assert client.get("/c/nope.js").status_code == 404


def test_openapi_schema_documents_every_endpoint_with_examples(client):
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    write = paths["/api/v1/sites/{site_key}/consents"]["post"]
    lookup = paths["/api/v1/sites/{site_key}/decisions/{visitor_id}"]["get"]
    config = paths["/api/v1/sites/{site_key}/config"]["get"]
    assert write["requestBody"]["content"]["application/json"]["examples"]
    assert write["responses"]["201"]["content"]["application/json"]["examples"]
    assert lookup["responses"]["200"]["content"]["application/json"]["examples"]
    assert {"400", "403", "404", "413"} <= set(write["responses"])
    assert config["summary"]


def test_api_docs_page_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content


@pytest.mark.parametrize("lang, words", [("en", "always on"), ("fr", "toujours actif")])
def test_essential_purposes_say_always_on_once(client, demo_site, lang, words):
    # The banner adds "(Always on)" to an essential purpose's name; its description need not repeat it.
    config = client.get(f"/api/v1/sites/demo/config?lang={lang}").json()
    for purpose in config["purposes"]:
        assert words not in purpose["description"].lower(), purpose
