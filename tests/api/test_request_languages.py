"""The request form, every page a requester sees and every email they get, in each of the banner's languages.

A page or email in another language must hold none of the English texts the
code can show a requester (the msgids of locale/en/LC_MESSAGES/django.po,
cut at placeholders and line breaks, and Django's own form messages), and
an Arabic or Hebrew page reads right to left.
"""
import io
import re
import zipfile
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from django.utils.translation import trans_real

from privacy_requests import service
from privacy_requests.models import DataSubjectRequest as Request
from tests.support import ROOT, consent_body, write_url
from tests.support.documents import PDF, PNG

pytestmark = pytest.mark.django_db(transaction=True)  # emails are sent by tasks queued on commit
FORM = "/privacy/requests/demo/"
# Site language -> (<html lang>, the page's heading). A site lists "zh"; its pages are Simplified Chinese.
LANGUAGES = {
    "en": ("en", "Your privacy rights"),
    "fr": ("fr", "Vos droits sur vos données"),
    "de": ("de", "Ihre Datenschutzrechte"),
    "es": ("es", "Sus derechos de privacidad"),
    "nl": ("nl", "Uw privacyrechten"),
    "sv": ("sv", "Dina integritetsrättigheter"),
    "da": ("da", "Dine privatlivsrettigheder"),
    "ja": ("ja", "プライバシーに関する権利"),
    "zh": ("zh-hans", "您的隐私权利"),
    "ar": ("ar", "حقوقك في الخصوصية"),
    "he": ("he", "זכויות הפרטיות שלכם"),
}
RIGHT_TO_LEFT = {"ar", "he"}
# Django's own messages the form can show (translated by Django's catalogs).
DJANGO_MESSAGES = ("This field is required.", "Enter a valid email address.", "Select a valid choice.")


def english_texts():
    with open(ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po", "rb") as po:
        msgids = [m.id for m in read_po(po) if m.id and m.context != "banner"]
    pieces = {piece.strip() for msgid in msgids for piece in re.split(r"%\(\w+\)s|\n", msgid)}
    return {piece for piece in pieces if len(piece) >= 5} | set(DJANGO_MESSAGES)


ENGLISH = english_texts()


class Page(HTMLParser):
    """An HTML page's language, direction and visible text."""

    def __init__(self, html):
        super().__init__()
        self.attributes, self.texts, self.hidden = {}, [], 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.attributes = dict(attrs)
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def test_every_language_of_the_platform_is_checked_here():
    assert set(LANGUAGES) == {code.split("-")[0] for code, _ in settings.LANGUAGES}


@pytest.fixture
def site(demo_site):
    demo_site.languages = list(LANGUAGES)
    demo_site.save()
    return demo_site


class Requester:
    """Goes through everything a requester can see in one language, keeping each page and email."""

    def __init__(self, client, language):
        self.client, self.language, self.seen = client, language, {}

    def page(self, name, response, status):
        assert response.status_code == status, (name, response.status_code)
        page = Page(response.content.decode())
        self.seen[name] = page
        return page

    def post(self, name, data, status):
        return self.page(name, self.client.post(f"{FORM}?lang={self.language}", data), status)

    def email(self, name, to):
        message = [m for m in mail.outbox if m.to == [to]][-1]
        self.seen[name] = message.subject + "\n" + message.body
        return message.body

    def link(self, body, kind):
        """The emailed link to ``kind`` (verify, download), as a path on the platform."""
        link = re.search(rf"{re.escape(settings.CMP_PUBLIC_URL)}(/privacy/requests/{kind}/\S+)", body).group(1)
        assert link.endswith(f"?lang={self.language}")  # the page it opens speaks the request's language
        return link

    def readme(self, name, link):
        response = self.client.get(link)
        assert response.status_code == 200 and response["Content-Type"] == "application/zip"
        self.seen[name] = zipfile.ZipFile(io.BytesIO(response.content)).read("README.txt").decode()

    def file(self, name, kind, email, **extra):
        self.post(name, {"kind": kind, "email": email, **extra}, 200)
        return Request.objects.get(email=email)


@pytest.mark.parametrize("language", list(LANGUAGES))
@override_settings(CMP_RATE_REQUESTS_PER_IP=(100, 3600))  # every page below, from one client
def test_the_form_its_pages_and_its_emails_speak_the_requesters_language(client, api, site, visitor_id, language):
    person = Requester(client, language)
    person.page("form", client.get(FORM, {"lang": language}), 200)
    person.post("errors: missing kind, bad email, agent without document", {"email": "not-an-email", "agent_name": "A"}, 400)
    person.post("errors: unknown kind", {"kind": "sell-it", "email": "a@example.org"}, 400)
    person.post("errors: document not a PDF", {"kind": "know", "email": "a@example.org", "agent_name": "A",
                                               "agent_document": SimpleUploadedFile("a.pdf", b"MZ not a pdf")}, 400)
    person.post("errors: document too large", {"kind": "know", "email": "a@example.org", "agent_name": "A",
                                               "agent_document": SimpleUploadedFile("a.pdf", PDF + b"0" * 5 * 1024 * 1024)}, 400)
    person.post("errors: document without agent", {"kind": "know", "email": "a@example.org",
                                                   "agent_document": SimpleUploadedFile("a.pdf", PDF)}, 400)
    person.post("errors: a PDF that does not parse", {"kind": "know", "email": "a@example.org", "agent_name": "A",
                                                      "agent_document": SimpleUploadedFile("a.pdf", b"%PDF-1.4\n%%EOF\n")}, 400)
    person.post("errors: an image that does not decode", {"kind": "know", "email": "a@example.org", "agent_name": "A",
                                                          "agent_document": SimpleUploadedFile("a.png", PNG[:40])}, 400)
    person.post("too large", {"kind": "know", "email": "a@example.org", "agent_name": "A",
                              "agent_document": SimpleUploadedFile("a.pdf", PDF + b"%" * 6 * 1024 * 1024)}, 413)

    # A right-to-know request from a browser: confirmed, extended, answered, downloaded.
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    know = person.file("filed", "know", "know@example.org", visitor_id=visitor_id, visitor_token=token)
    assert know.language == language
    link = person.link(person.email("email: verification", "know@example.org"), "verify")
    person.page("verified", client.get(link), 200)
    person.page("link already used", client.get(link), 410)
    person.page("link tampered with", client.get(link.replace("/?lang=", "xx/?lang=")), 400)
    service.extend(know, "Archive.", "dpo")
    person.email("email: extended", "know@example.org")
    service.fulfil(Request.objects.get(pk=know.pk), "dpo")
    download = person.link(person.email("email: fulfilled", "know@example.org"), "download")
    person.readme("download: README.txt (a browser's data)", download)
    person.page("download link already used", client.get(download), 410)
    person.page("download link not valid", client.get(download.replace("/?lang=", "xx/?lang=")), 404)

    # A request without a browser: its archive says there is nothing to link.
    nothing = person.file("filed without a browser", "know", "nothing@example.org")
    client.get(person.link(person.email("email: verification 2", "nothing@example.org"), "verify"))
    service.fulfil(Request.objects.get(pk=nothing.pk), "dpo")
    second = person.link(person.email("email: fulfilled 2", "nothing@example.org"), "download")
    expires = Request.objects.get(pk=nothing.pk).download_expires_at
    Request.objects.filter(pk=nothing.pk).update(download_expires_at=timezone.now() - timedelta(minutes=1))
    person.page("download link expired", client.get(second), 410)
    Request.objects.filter(pk=nothing.pk).update(download_expires_at=expires)
    person.readme("download: README.txt (no browser)", second)

    # A correction request, denied.
    correct = person.file("filed a correction", "correct", "correct@example.org")
    client.get(person.link(person.email("email: verification 3", "correct@example.org"), "verify"))
    service.deny(Request.objects.get(pk=correct.pk), "None held.", "dpo")
    person.email("email: denied", "correct@example.org")

    # Links that ran out: the signature itself, and a request that expired unverified.
    person.file("filed a deletion", "delete", "late@example.org")
    late = person.link(person.email("email: verification 4", "late@example.org"), "verify")
    with override_settings(CMP_DSR_VERIFY_HOURS=0):
        person.page("verification link expired", client.get(late), 410)
    Request.objects.filter(email="late@example.org").update(received_at=timezone.now() - timedelta(days=4))
    assert service.expire_unverified() == 1
    person.page("request expired unverified", client.get(late), 410)

    with override_settings(CMP_RATE_REQUESTS_PER_ADDRESS=(1, 3600)):
        person.file("filed for one address", "know", "once@example.org")
        person.post("too many requests for one address", {"kind": "know", "email": "once@example.org"}, 429)
    with override_settings(CMP_RATE_REQUESTS_PER_IP=(1, 3600)):
        person.post("too many requests", {"kind": "know", "email": "a@example.org"}, 429)

    html_lang, heading = LANGUAGES[language]
    pages = {name: page for name, page in person.seen.items() if isinstance(page, Page)}
    assert {name: page.attributes for name, page in pages.items()} == {
        name: {"lang": html_lang, "dir": "rtl" if language in RIGHT_TO_LEFT else "ltr"} for name in pages}
    assert pages["form"].texts[1] == heading  # after the <title>
    shown = {name: " ".join(page.texts) if isinstance(page, Page) else page for name, page in person.seen.items()}
    if language == "en":
        assert "Check your email" in shown["filed"] and "Reference:" in shown["email: verification"]
    else:
        leaks = {name: [text for text in ENGLISH if text in what] for name, what in shown.items()}
        assert {name: found for name, found in leaks.items() if found} == {}


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_the_form_shows_no_english_where_a_translation_exists(client, site, language):
    # Not even a text the catalogs do not hold (one a template would have written out in English).
    english = set(Page(client.get(FORM, {"lang": "en"}).content.decode()).texts)
    page = Page(client.get(FORM, {"lang": language}).content.decode())
    assert [text for text in page.texts if text in english] == []


@pytest.mark.parametrize("accept_language, html_lang", [
    ("fr-CA,fr;q=0.9,en;q=0.5", "fr"), ("de-AT", "de"), ("zh-TW,zh;q=0.9", "zh-hans"), ("ar-EG", "ar"),
    ("he-IL", "he"), ("pt-BR,pt;q=0.9", "en"), ("", "en"),
])
def test_the_form_follows_the_browsers_language_among_the_sites(client, site, accept_language, html_lang):
    page = Page(client.get(FORM, HTTP_ACCEPT_LANGUAGE=accept_language).content.decode())
    assert page.attributes["lang"] == html_lang


def test_the_form_speaks_only_the_sites_languages(client, demo_site):
    # The demo site lists English and French: German visitors get its first language.
    assert Page(client.get(FORM, {"lang": "de"}).content.decode()).attributes["lang"] == "en"
    assert Page(client.get(FORM, {"lang": "fr"}).content.decode()).attributes["lang"] == "fr"


def test_a_made_up_language_is_never_loaded_and_never_echoed(client, site):
    # A client picks ?lang= on the page an emailed link opens. Django keeps every
    # translation it loads (trans_real._translations): only the platform's own may come in.
    ours = {code for code, _ in settings.LANGUAGES}
    before = set(trans_real._translations)
    for lang in ("<script>alert(1)</script>", "x" * 5000, "../../etc/passwd", "de-XX-1234", "xx", "zh-hant", "EN"):
        response = client.get("/privacy/requests/verify/made-up/?" + urlencode({"lang": lang}))
        assert response.status_code == 400
        assert Page(response.content.decode()).attributes["lang"] in ours
        assert b"<script>alert" not in response.content
    assert set(trans_real._translations) - before <= ours
