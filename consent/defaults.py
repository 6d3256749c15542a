"""The default purposes every new site starts with (README, "Public contracts").

They come from the policy this platform was designed around. A site may edit
their texts and add purposes of its own; the GA opt-out acts on the key
``analytics``, opt-out preference signals (GPC) on the purposes marked *sale
or sharing* (``advertising`` and ``recognition`` here), and Consent Mode maps
all five.
"""
from django.db.models.signals import post_save

from .models import Purpose, Site

DEFAULT_PURPOSES = [
    {
        "key": "authentication",
        "essential": True,
        "names": {"en": "Sign-in and session", "fr": "Connexion et session"},
        "descriptions": {
            "en": "Knowing that you are signed in and keeping your session.",
            "fr": "Savoir que vous êtes connecté et maintenir votre session.",
        },
    },
    {
        "key": "security",
        "essential": True,
        "names": {"en": "Security", "fr": "Sécurité"},
        "descriptions": {
            "en": "Keeping accounts safe, preventing fraud and abuse, and protecting the integrity of the site.",
            "fr": "Protéger les comptes, prévenir la fraude et les abus, et garantir l'intégrité du site.",
        },
    },
    {
        "key": "analytics",
        "essential": False,
        "names": {"en": "Analytics", "fr": "Mesure d'audience"},
        "descriptions": {
            "en": "Measuring how the site is used (for example with Google Analytics) so we can improve it.",
            "fr": "Mesurer l'utilisation du site (par exemple avec Google Analytics) pour l'améliorer.",
        },
    },
    {
        "key": "advertising",
        "essential": False,
        "sale_or_sharing": True,
        "names": {"en": "Advertising", "fr": "Publicité"},
        "descriptions": {
            "en": "Showing ads, measuring them, and tailoring them to your interests.",
            "fr": "Afficher des publicités, mesurer leur efficacité et les adapter à vos centres d'intérêt.",
        },
    },
    {
        "key": "recognition",
        "essential": False,
        "sale_or_sharing": True,
        "names": {"en": "Cross-device recognition", "fr": "Reconnaissance multi-appareils"},
        "descriptions": {
            "en": "Recognising you across your devices and linking pseudonymous data to your identity.",
            "fr": "Vous reconnaître sur vos différents appareils et relier des données pseudonymes à votre identité.",
        },
    },
]


def create_default_purposes(site, purpose_model):
    """Give ``site`` any default purpose it lacks; safe to call again."""
    for position, spec in enumerate(DEFAULT_PURPOSES):
        purpose_model.objects.get_or_create(
            site=site,
            key=spec["key"],
            defaults={
                "essential": spec["essential"],
                "sale_or_sharing": spec.get("sale_or_sharing", False),
                "position": position,
                "names": spec["names"],
                "descriptions": spec["descriptions"],
            },
        )


def _on_site_created(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        create_default_purposes(instance, Purpose)


def connect_defaults():
    post_save.connect(_on_site_created, sender=Site, dispatch_uid="default-purposes")
