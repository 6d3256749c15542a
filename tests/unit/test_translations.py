"""The gettext catalogs (locale/<lang>/LC_MESSAGES/django.po) and the banner's strings drawn from them.

The compiled ``.mo`` files are committed, since a fresh machine has no
``msgfmt``: these tests fail when a ``.po`` was edited and not compiled
(``make messages``), when a language lacks a string or has it fuzzy, and
when a translation lost or invented a placeholder the code fills in.
"""
import gettext
import re

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation import to_locale

from banner.ui_strings import ui_strings
from tests.support import ROOT

LANGUAGES = [code for code, _ in settings.LANGUAGES]
TRANSLATED = [code for code in LANGUAGES if code != settings.LANGUAGE_CODE]
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")


def catalog_path(language, suffix):
    return ROOT / "locale" / to_locale(language) / "LC_MESSAGES" / f"django.{suffix}"


def read_catalog(language):
    with open(catalog_path(language, "po"), "rb") as po:
        return read_po(po)


def messages(language):
    """The catalog's entries by the key gettext looks them up with (context, then msgid)."""
    return {(f"{m.context}\x04" if m.context else "") + (m.id if isinstance(m.id, str) else m.id[0]): m
            for m in read_catalog(language) if m.id}


def placeholders(text):
    return sorted(named or braced for named, braced in PLACEHOLDER.findall(text))


def test_every_language_has_its_catalog_in_locale_paths():
    assert settings.LOCALE_PATHS == [ROOT / "locale"]
    missing = [language for language in LANGUAGES for suffix in ("po", "mo") if not catalog_path(language, suffix).exists()]
    assert not missing


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_file_holds_exactly_what_its_po_file_says(language):
    expected = {}
    for key, message in messages(language).items():
        if message.fuzzy or not any(message.string):
            continue  # neither msgfmt nor Babel compiles these
        if isinstance(message.id, str):
            expected[key] = message.string
        else:
            expected.update({(key, n): form for n, form in enumerate(message.string)})
    with open(catalog_path(language, "mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    assert {k: v for k, v in compiled._catalog.items() if k != ""} == expected, (
        f"{catalog_path(language, 'mo').relative_to(ROOT)} is not its .po compiled: run `make messages`")
    plural_forms = " ".join(read_catalog(language).plural_forms.split())
    assert " ".join(compiled.info()["plural-forms"].split()) == plural_forms


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated_in_every_language(language):
    english, translated = messages(settings.LANGUAGE_CODE), messages(language)
    assert set(translated) == set(english), "run `manage.py makemessages -a` (README, Translations)"
    assert [key for key, m in translated.items() if m.fuzzy or not all(m.string)] == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_the_code_fills_in(language):
    wrong = []
    for message in messages(language).values():
        for msgid, msgstr in zip(*[[x] if isinstance(x, str) else x for x in (message.id, message.string)], strict=False):
            if placeholders(msgstr) != placeholders(msgid):
                wrong.append(msgstr)
            # A lone % makes the % formatting of the text fail.
            elif message.python_format and "%" in re.sub(r"%\(\w+\)s|%%", "", msgstr):
                wrong.append(msgstr)
    assert wrong == []


def test_the_english_catalog_translates_nothing():
    # English is the msgids themselves: the catalog is the template a new language starts from.
    assert [m.id for m in messages(settings.LANGUAGE_CODE).values() if any(m.string)] == []


# The banner's strings: what banner/config.py sends as "ui".

UI_KEYS = {
    "title", "description", "notice", "accept_all", "reject_all", "customize", "save", "close", "policy",
    "preferences", "always_on", "do_not_sell", "gpc_honored", "gpc_conflict", "confirm", "nai_optout", "allow",
    "blocked", "rights", "receipt", "notice_targeted", "opt_out_targeted",
    "nai_explained", "other_opt_outs", "opt_out_nai", "opt_out_ga", "opt_out_phone", "help_ios", "help_android",
    "privacy_choices", "limit_sensitive", "limit_sensitive_note",
}
REJECT_ALL = {
    "en": "Reject all", "fr": "Tout refuser", "de": "Alle ablehnen", "es": "Rechazar todo", "nl": "Alles weigeren",
    "sv": "Avvisa alla", "da": "Afvis alle", "ja": "すべて拒否", "zh": "全部拒绝", "ar": "رفض الكل", "he": "דחיית הכול",
}


@pytest.mark.parametrize("language", sorted(REJECT_ALL))
def test_the_banner_strings_in_each_language(language):
    strings = ui_strings(language)
    assert set(strings) == UI_KEYS
    assert strings["reject_all"] == REJECT_ALL[language]
    assert "{purpose}" in strings["allow"] and "{purpose}" in strings["blocked"]
    if language != "en":
        english = ui_strings("en")
        assert [key for key in UI_KEYS if strings[key] == english[key]] == []


@pytest.mark.parametrize("asked, served", [
    ("fr-CA", "fr"), ("FR", "fr"), ("zh-TW", "zh"), ("zh-Hans", "zh"), ("ar-EG", "ar"), ("he", "he"),
    ("pt-BR", "en"), ("", "en"), (None, "en"), ("x" * 600, "en"), ("../../etc", "en"),
])
def test_the_banner_strings_follow_the_closest_language_and_fall_back_to_english(asked, served):
    assert ui_strings(asked)["reject_all"] == REJECT_ALL[served]
