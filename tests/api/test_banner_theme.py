"""A site's banner theme in the admin: saved as chosen, refused with a clear message when it fails WCAG AA."""
import pytest
from django.core.exceptions import ValidationError

from consent import theme
from consent.models import Site

from .test_site_setup import admin_client, forget_noted_refusals, post_settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("a, b, ratio", [
    ("#000000", "#ffffff", 21.0), ("#ffffff", "#ffffff", 1.0), ("#767676", "#ffffff", 4.54), ("#1f3f99", "#ffffff", 9.42),
])
def test_contrast_is_wcag_s(a, b, ratio):
    assert theme.contrast(a, b) == pytest.approx(ratio, abs=0.05)


def test_the_defaults_pass_in_light_and_dark(demo_site):
    demo_site.theme_mode = "auto"
    demo_site.full_clean()


def test_the_admin_saves_a_theme_and_the_config_carries_it(admin_client, client, demo_site):  # noqa: F811
    response = post_settings(
        admin_client, demo_site, theme_position="modal", theme_mode="dark", theme_accent="#005a32",
        theme_font='Georgia, "Times New Roman", serif', theme_radius="10", theme_logo_url="https://shop.example.com/logo.png")
    assert response.status_code == 302, response.content.decode()[:3000]
    demo_site.refresh_from_db()
    assert (demo_site.theme_position, demo_site.theme_mode, demo_site.theme_accent) == ("modal", "dark", "#005a32")
    config = client.get("/api/v1/sites/demo/config").json()
    assert config["theme"]["position"] == "modal" and config["theme"]["logo"] == "https://shop.example.com/logo.png"
    assert config["theme"]["css"].startswith(":host{--bg:#1c1c1e;") and "color-scheme:dark" in config["theme"]["css"]


@pytest.mark.parametrize("changes, field, words", [
    ({"theme_accent": "#ffeb3b"}, "theme_accent", "The brand colour #ffeb3b (links, focus, button borders) on the background #ffffff has a contrast of 1.2"),
    ({"theme_accent_text": "#7a8fcc"}, "theme_accent_text", "Button text #7a8fcc on the brand colour #1f3f99 has a contrast of 2."),
    ({"theme_text": "#aaaaaa"}, "theme_text", "WCAG AA needs at least 4.5:1"),
    ({"theme_mode": "dark", "theme_dark_text": "#333333"}, "theme_dark_text", "Dark theme: Text #333333 on the background #1c1c1e"),
    ({"theme_accent": "blue"}, "theme_accent", "'blue' is not a colour like #1f3f99."),
    ({"theme_font": 'Georgia;} :host{display:none'}, "theme_font", "Only font names"),
    ({"theme_radius": "40"}, "theme_radius", "At most 24 px"),
    ({"theme_logo_url": "http://shop.example.com/logo.png"}, "theme_logo_url", "Must be an https:// address"),
])
def test_a_theme_that_fails_is_refused_with_a_clear_message(admin_client, demo_site, changes, field, words):  # noqa: F811
    response = post_settings(admin_client, demo_site, **changes)
    assert response.status_code == 200
    page = response.content.decode()
    assert words.replace('"', "&quot;").replace("'", "&#x27;") in page, page[page.find("errorlist"):][:600]
    site = Site.objects.get(pk=demo_site.pk)
    for name in changes:
        setattr(site, name, changes[name] if name != "theme_radius" else int(changes[name]))
    with pytest.raises(ValidationError) as refused:
        site.full_clean()
    assert field in refused.value.message_dict


def test_dark_colours_are_not_checked_while_the_banner_is_light_only(demo_site):
    demo_site.theme_dark_text = "#333333"
    demo_site.full_clean()  # light mode: the dark palette is never shown
    demo_site.theme_mode = "auto"
    with pytest.raises(ValidationError, match="Dark theme"):
        demo_site.full_clean()


@pytest.mark.parametrize("sells, language, button, words", [
    (True, "en", "Do not sell or share my personal information", "selling or sharing"),
    (False, "en", "Opt out of targeted advertising", "targeted advertising"),
    (False, "fr", "Refuser la publicité ciblée", "publicité ciblée"),
])
def test_the_us_notice_and_button_follow_whether_the_site_sells_or_shares(client, demo_site, sells, language, button, words):
    demo_site.sells_or_shares = sells
    demo_site.save()
    ui = client.get(f"/api/v1/sites/demo/config?lang={language}", HTTP_CF_IPCOUNTRY="US").json()["ui"]
    assert ui["do_not_sell"] == button and words in ui["notice"]
    assert "notice_targeted" not in ui and "opt_out_targeted" not in ui
