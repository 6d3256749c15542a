"""The banner's built-in interface strings, sent with its config.

Keeping them on the server keeps the banner's runtime small and lets a new
language ship without a new runtime. A site's own texts (``banner_texts``)
override ``title`` and ``description``; a language without a catalog gets the
English strings, while the site's texts and ``direction`` still apply.

Each string is its English text, marked for gettext under the context
``banner`` (so its translations never mix with the request pages' or
Django's); the translations are in ``locale/<lang>/LC_MESSAGES/django.po``.
``{purpose}`` is filled in by the runtime and stays as it is in every
language. Adding a string is one line here plus its translation in every
catalog: the README's "Translations" section gives the steps.
"""
from django.utils.translation import override, pgettext_lazy

from consent.languages import interface_language

UI_STRINGS = {
    "title": pgettext_lazy("banner", "Your privacy choices"),
    "description": pgettext_lazy(
        "banner",
        "We use cookies and similar technologies to run this site, measure its use and show ads. "
        "Choose what you allow; you can change your mind at any time.",
    ),
    "notice": pgettext_lazy(
        "banner",
        "We and our partners use cookies to measure the site and show ads, which may count as selling or "
        "sharing your personal information. You can opt out at any time.",
    ),
    "accept_all": pgettext_lazy("banner", "Accept all"),
    "reject_all": pgettext_lazy("banner", "Reject all"),
    "customize": pgettext_lazy("banner", "Customize"),
    "save": pgettext_lazy("banner", "Save my choices"),
    "close": pgettext_lazy("banner", "Close"),
    "policy": pgettext_lazy("banner", "Privacy policy"),
    "preferences": pgettext_lazy("banner", "Cookie preferences"),
    "always_on": pgettext_lazy("banner", "Always on"),
    "do_not_sell": pgettext_lazy("banner", "Do not sell or share my personal information"),
    # For sites that neither sell nor share personal information (``Site.sells_or_shares`` off): the
    # config sends these as ``notice`` and ``do_not_sell`` (banner/config.py), so the runtime is the same.
    "notice_targeted": pgettext_lazy(
        "banner",
        "We and our partners use cookies to measure the site and to show ads based on your interests "
        "(targeted advertising). You can opt out at any time.",
    ),
    "opt_out_targeted": pgettext_lazy("banner", "Opt out of targeted advertising"),
    "gpc_honored": pgettext_lazy("banner", "Opt-out preference signal honored"),
    "gpc_conflict": pgettext_lazy(
        "banner",
        "Your browser asks sites not to sell or share your data (Global Privacy Control). Allow advertising anyway?",
    ),
    "confirm": pgettext_lazy("banner", "Yes, allow advertising"),
    "nai_optout": pgettext_lazy("banner", "Opt out of interest-based ads"),
    # What the box above does (consent/decisions.py: ad_personalization denied, advertising as chosen).
    "nai_explained": pgettext_lazy(
        "banner",
        "This turns off ads chosen from your interests and the sites you visit; if you allow advertising, "
        "you may still see ads that are not personalized.",
    ),
    # The other opt-outs the policy promises; the config sends them as ``opt_outs`` with their links (banner/config.py).
    "other_opt_outs": pgettext_lazy("banner", "Other ways to opt out"),
    "opt_out_nai": pgettext_lazy(
        "banner",
        "Opt out of interest-based ads from the member companies of the Network Advertising Initiative on its "
        "opt-out page.",
    ),
    "opt_out_ga": pgettext_lazy(
        "banner", "Stop Google Analytics from measuring your visits to any site with Google's opt-out browser add-on."),
    "opt_out_phone": pgettext_lazy(
        "banner",
        "On a phone, limit ad tracking in its settings: turn off “Allow Apps to Request to Track” on an "
        "iPhone, or delete the advertising ID on Android.",
    ),
    "help_ios": pgettext_lazy("banner", "iPhone help"),
    "help_android": pgettext_lazy("banner", "Android help"),
    "allow": pgettext_lazy("banner", "Allow {purpose}"),
    "blocked": pgettext_lazy("banner", "This content needs your consent to {purpose}."),
    "rights": pgettext_lazy("banner", "Your privacy rights"),
    "receipt": pgettext_lazy("banner", "Download my consent receipt"),
    # Where US sections apply (the config's ``us_privacy``): the CPRA's link, in its own words and capitals,
    # beside its opt-out icon, and the link to limit sensitive data, which opens the preferences and its note.
    "privacy_choices": pgettext_lazy("banner", "Your Privacy Choices"),
    "limit_sensitive": pgettext_lazy("banner", "Limit the Use of My Sensitive Personal Information"),
    "limit_sensitive_note": pgettext_lazy(
        "banner",
        "To limit the use of your sensitive personal information, turn off below the purposes you do not want it "
        "used for, then save your choices.",
    ),
}


def ui_strings(language: str) -> dict:
    """The interface strings for ``language`` (``fr-CA`` → ``fr``), English for the rest."""
    with override(interface_language(language)):
        return {key: str(text) for key, text in UI_STRINGS.items()}
