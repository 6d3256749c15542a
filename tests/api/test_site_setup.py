"""A site owner's first hour: a new site takes choices at once, its settings are form fields,
and origins its CORS refused are listed for the owner to allow."""
import base64
import hashlib
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from audit.groups import ensure_auditor_group
from banner.embed import DIST, RUNTIME_VERSION
from consent import refused_origins
from consent.models import ConsentEvent, PolicyVersion, Site, Visitor
from tests.support import admin_errors, consent_body, form_fields, lookup_url, write_url

pytestmark = pytest.mark.django_db
CONFIG = "/api/v1/sites/{}/config"


@pytest.fixture
def admin_client(client):
    User.objects.create_superuser("owner", "owner@example.com", "pw")
    client.login(username="owner", password="pw")
    return client


@pytest.fixture(autouse=True)
def forget_noted_refusals():
    refused_origins._noted.clear()  # the per-process throttle must not carry over between tests
    yield
    refused_origins._noted.clear()


def add_site(*args):
    out = io.StringIO()
    call_command("add_site", *args, stdout=out)
    return out.getvalue()


# --- Point 1 and 2: a new site, from the command or the admin ---------------------------------------

def test_add_site_prints_both_snippets_and_the_site_takes_a_choice_at_once(api, settings, visitor_id):
    settings.CMP_PUBLIC_URL = "https://cmp.example.org"
    out = add_site("shop", "--origin", "https://Shop.example/", "--languages", "en,fr",
                   "--policy-url", "https://shop.example/privacy")
    sri = "sha384-" + base64.b64encode(hashlib.sha384((DIST / "cmp.min.js").read_bytes()).digest()).decode()
    assert '<script src="https://cmp.example.org/c/shop.js"></script>' in out
    assert f'src="https://cmp.example.org/c/v/{RUNTIME_VERSION}/cmp.min.js" data-site="shop"' in out
    assert f'integrity="{sri}" crossorigin="anonymous"' in out
    site = Site.objects.get(key="shop")
    assert site.allowed_origins == ["https://shop.example"] and site.languages == ["en", "fr"]
    assert site.purposes.count() == 5
    policy = PolicyVersion.objects.get(site=site)
    assert (policy.version, policy.url) == ("1", "https://shop.example/privacy") and policy.effective_at <= timezone.now()
    # The banner sends no version when its config had none to give: the one in force is recorded.
    body = consent_body(visitor_id, policy_version=None)
    written = api.post(write_url("shop"), body, format="json")
    assert written.status_code == 201 and written.json()["policy_version"] == "1"
    assert ConsentEvent.objects.get(visitor__uuid=visitor_id).policy_version == "1"


@pytest.mark.parametrize("args, words", [
    (["--origin", "https://shop.example/path"], "not an origin"),
    (["--origin", "https://shop.example", "--languages", "English"], "language code"),
    (["--origin", "https://shop.example", "--policy-url", "not a url"], "--policy-url: Enter a valid URL"),
])
def test_add_site_explains_what_is_wrong(args, words):
    args = [*args, "--policy-url", "https://shop.example/privacy"] if "--policy-url" not in args else args
    with pytest.raises(CommandError, match=words):
        add_site("shop", *args)
    assert not Site.objects.filter(key="shop").exists()  # nothing half made


def test_add_site_takes_a_policy_url_typed_without_its_scheme_as_https():
    add_site("shop", "--origin", "https://shop.example", "--policy-url", "shop.example/privacy")
    assert PolicyVersion.objects.get(site__key="shop").url == "https://shop.example/privacy"


def test_add_site_refuses_a_key_taken():
    add_site("shop", "--origin", "https://shop.example", "--policy-url", "https://shop.example/privacy")
    with pytest.raises(CommandError, match="already exists"):
        add_site("shop", "--origin", "https://other.example", "--policy-url", "https://other.example/privacy")


def new_site_in_the_admin(admin_client, key="shop", **overrides):
    page = admin_client.get("/admin/consent/site/add/")
    data = {**form_fields(page.content.decode()), "key": key, "name": "My Shop",
            "allowed_origins": "https://shop.example\n", "languages": ["en", "fr"], "default_language": "en",
            "policy_url": "https://shop.example/privacy", **overrides}
    return admin_client.post("/admin/consent/site/add/", data)


def test_site_created_in_the_admin_keeps_a_choice_for_banner_and_server_alike(admin_client, api, visitor_id):
    # The reported bug: created in the admin with no policy version, the banner stored the choice
    # with an empty version and asked again on the next page view, while the lookup said it stood.
    created = new_site_in_the_admin(admin_client)
    site = Site.objects.get(key="shop")
    assert created.status_code == 302 and created["Location"] == f"/admin/consent/site/{site.pk}/change/"
    config = api.get(CONFIG.format("shop")).json()
    assert config["policy"]["version"] == "1"
    body = consent_body(visitor_id, policy_version=config["policy"]["version"])
    assert api.post(write_url("shop"), body, format="json").status_code == 201
    # The next page view: the banner keeps its cookie's choice only if its version is in force…
    again = api.get(CONFIG.format("shop")).json()
    stored = Visitor.objects.get(uuid=visitor_id).policy_version
    assert stored in again["policy"]["versions_in_force"]
    # …and the server agrees the choice stands.
    answer = api.get(lookup_url(visitor_id, "shop")).json()
    assert not answer["needs_choice"] and answer["decisions"]["analytics"] == {"granted": True, "reason": "choice"}


def test_admin_add_form_requires_the_policy_url(admin_client):
    response = new_site_in_the_admin(admin_client, policy_url="")
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not Site.objects.filter(key="shop").exists()


def test_a_choice_no_policy_covers_is_refused_and_nothing_is_logged(api, visitor_id):
    # A site made some other way than create_site (or whose only version starts later).
    site = Site.objects.create(key="bare", name="Bare")
    PolicyVersion.objects.create(site=site, version="1", url="https://bare.example/p",
                                 effective_at=timezone.now() + timedelta(days=3))
    response = api.post(write_url("bare"), consent_body(visitor_id, policy_version=None), format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "no_policy_version"
    assert "publish one" in response.json()["detail"]
    assert not Visitor.objects.filter(uuid=visitor_id).exists() and not ConsentEvent.objects.exists()


def test_a_blank_policy_version_is_refused(api, demo_site, visitor_id):
    response = api.post(write_url(), consent_body(visitor_id, policy_version=""), format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "policy_version" in response.json()["detail"]
    assert not ConsentEvent.objects.exists()


def test_site_list_shows_the_policy_in_force(admin_client, demo_site):
    Site.objects.create(key="bare", name="Bare")
    listing = admin_client.get("/admin/consent/site/").content.decode()
    assert "none: choices are refused" in listing


# --- Point 3: origins refused recently, allowed with a click ---------------------------------------

def test_a_refused_origin_is_listed_and_allowed_with_one_click(admin_client, api, demo_site):
    refused = api.get(CONFIG.format("demo"), HTTP_ORIGIN="https://blog.example.com")
    assert "Access-Control-Allow-Origin" not in refused
    page = admin_client.get(f"/admin/consent/site/{demo_site.pk}/change/").content.decode()
    assert "https://blog.example.com" in page
    assert f'formaction="/admin/consent/site/{demo_site.pk}/allow-origin/"' in page
    allowed = admin_client.post(f"/admin/consent/site/{demo_site.pk}/allow-origin/", {"origin": "https://blog.example.com"})
    assert allowed.status_code == 302
    demo_site.refresh_from_db()
    assert "https://blog.example.com" in demo_site.allowed_origins
    now = api.get(CONFIG.format("demo"), HTTP_ORIGIN="https://blog.example.com")
    assert now["Access-Control-Allow-Origin"] == "https://blog.example.com"
    page = admin_client.get(f"/admin/consent/site/{demo_site.pk}/change/").content.decode()
    assert 'value="https://blog.example.com">Allow' not in page  # allowed now: no longer offered


def test_only_refusals_are_noted_and_never_more_than_kept(api, demo_site, visitor_id):
    api.get(lookup_url(visitor_id), HTTP_ORIGIN="https://shop.example.com")  # allowed
    api.get(lookup_url(visitor_id), HTTP_ORIGIN="http://testserver")  # the platform's own pages
    for junk in ("null", "https://x.example/path", "javascript:alert(1)", "https://<b>.example"):
        api.get(lookup_url(visitor_id), HTTP_ORIGIN=junk)
    assert refused_origins.refused_recently("demo") == []
    for i in range(refused_origins.KEPT + 5):
        api.get(lookup_url(visitor_id), HTTP_ORIGIN=f"https://s{i}.example")
    listed = [origin for origin, _ in refused_origins.refused_recently("demo")]
    assert len(listed) == refused_origins.KEPT
    assert f"https://s{refused_origins.KEPT + 4}.example" in listed  # the newest are kept


def test_allowing_an_origin_takes_a_post_by_someone_who_may_change_the_site(client, admin_client, demo_site):
    url = f"/admin/consent/site/{demo_site.pk}/allow-origin/"
    assert admin_client.get(url, {"origin": "https://evil.example"}).status_code == 405
    anonymous = Client()
    assert anonymous.post(url, {"origin": "https://evil.example"}).status_code == 302  # to the login page
    ensure_auditor_group()
    auditor = User.objects.create_user("ann", password="x", is_staff=True)
    auditor.groups.add(Group.objects.get(name="auditor"))
    reader = Client()
    reader.force_login(auditor)
    assert reader.post(url, {"origin": "https://evil.example"}).status_code == 403
    bad = admin_client.post(url, {"origin": "https://evil.example/path"}, follow=True)
    assert b"not an origin" in bad.content
    demo_site.refresh_from_db()
    assert demo_site.allowed_origins == ["https://shop.example.com"]


# --- Point 4: settings as form fields ---------------------------------------------------------------

def test_site_settings_are_form_fields(admin_client, demo_site):
    page = admin_client.get(f"/admin/consent/site/{demo_site.pk}/change/").content.decode()
    assert '<textarea name="allowed_origins"' in page and "https://shop.example.com</textarea>" in page
    for code in ("en", "fr", "de", "ar", "he", "ja"):
        assert f'type="checkbox" name="languages" value="{code}"' in page
    assert 'name="banner_texts__fr__title" value="Vos choix de confidentialité"' in page
    assert 'name="regime_overrides__' in page and '<option value="opt_out" selected>' in page
    assert 'name="purposes-0-texts__fr__name"' in page
    assert "/c/&lt;key&gt;.js" in page  # the help text shows the placeholder, not an empty tag
    assert "/c/demo.js" in page  # the embed snippet


def post_settings(admin_client, site, **changes):
    url = f"/admin/consent/site/{site.pk}/change/"
    data = {**form_fields(admin_client.get(url).content.decode()), **changes}
    return admin_client.post(url, data)


@pytest.mark.parametrize("changes, words", [
    ({"allowed_origins": "https://ok.example\nhttps://bad.example/path"}, "is not an origin"),
    ({"regime_overrides__new0__country": "France", "regime_overrides__new0__regime": "opt_in"}, "ISO country code"),
    ({"regime_overrides__new0__country": "FR", "regime_overrides__new0__regime": "opt_out"}, "FR is listed twice"),
    ({"regime_overrides__new0__country": "BR"}, "both a country or region code and a regime"),
    ({"regime_overrides__new0__country": "California", "regime_overrides__new0__regime": "opt_in"},
     "or a region code like US-CA"),
    ({"regime_overrides__new0__country": "US-CALIF", "regime_overrides__new0__regime": "opt_in"},
     "or a region code like US-CA"),
    ({"regime_overrides__new0__country": "XX-CA", "regime_overrides__new0__regime": "opt_in"}, "names no country"),
    ({"ga_measurement_ids": "12345"}, "measurement id"),
])
def test_site_settings_say_what_is_wrong(admin_client, demo_site, changes, words):
    response = post_settings(admin_client, demo_site, **changes)
    assert response.status_code == 200 and words in response.content.decode()
    demo_site.refresh_from_db()
    assert demo_site.allowed_origins == ["https://shop.example.com"]


def test_site_settings_are_saved_in_the_models_shapes(admin_client, demo_site):
    response = post_settings(
        admin_client, demo_site,
        allowed_origins="https://shop.example.com\r\nHTTPS://Blog.Example.com/\r\n\r\n",
        languages=["en", "fr", "de"], default_language="fr",
        regime_overrides__new0__country="br", regime_overrides__new0__regime="opt_in",
        regime_overrides__new1__country=" us-ca ", regime_overrides__new1__regime="opt_in",
        uses_sensitive_data="on",
        banner_texts__de__title="Ihre Wahl",
        **{"purposes-2-texts__de__name": "Reichweitenmessung"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    demo_site.refresh_from_db()
    assert demo_site.allowed_origins == ["https://shop.example.com", "https://blog.example.com"]
    assert demo_site.languages == ["fr", "en", "de"]
    assert demo_site.regime_overrides["BR"] == "opt_in" and demo_site.regime_overrides["US"] == "opt_out"
    assert demo_site.regime_overrides["US-CA"] == "opt_in"  # a state below its country
    assert demo_site.uses_sensitive_data is True
    assert demo_site.banner_texts["de"] == {"title": "Ihre Wahl"}
    assert demo_site.banner_texts["en"]["title"] == "Your privacy choices"
    analytics = demo_site.purposes.get(key="analytics")
    assert analytics.names["de"] == "Reichweitenmessung" and analytics.names["fr"] == "Mesure d'audience"


def test_policy_urls_typed_without_their_scheme_are_taken_as_https(admin_client):
    """In the new site's form and in the site's page alike (not http, Django's default until 6.0)."""
    new_site_in_the_admin(admin_client, policy_url="shop.example/privacy")
    site = Site.objects.get(key="shop")
    assert site.policy_versions.get().url == "https://shop.example/privacy"
    change = f"/admin/consent/site/{site.pk}/change/"
    data = form_fields(admin_client.get(change).content.decode())
    n = int(data["policy_versions-TOTAL_FORMS"])
    data.update({"policy_versions-TOTAL_FORMS": str(n + 1), f"policy_versions-{n}-version": "2",
                 f"policy_versions-{n}-url": "shop.example/privacy-2",
                 f"policy_versions-{n}-effective_at_0": "2030-01-01", f"policy_versions-{n}-effective_at_1": "00:00:00"})
    saved = admin_client.post(change, data)
    assert saved.status_code == 302, admin_errors(saved)
    assert site.policy_versions.get(version="2").url == "https://shop.example/privacy-2"
