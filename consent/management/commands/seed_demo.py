"""Create (or bring up to date) the demo site, safely repeatable."""
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from consent import decisions
from consent.models import ORIGIN_RE, PolicyVersion, Site

# EU and EEA members, the UK and Switzerland: GDPR-style opt-in.
OPT_IN_COUNTRIES = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO GB CH"
).split()
DEMO_TEXTS = {
    "en": {
        "title": "Your privacy choices",
        "description": "Demo Shop uses cookies and similar technologies to run the site, measure its use and show ads. "
        "Choose what you allow; you can change your mind at any time with the Cookie preferences link.",
    },
    "fr": {
        "title": "Vos choix de confidentialité",
        "description": "Demo Shop utilise des cookies et technologies similaires pour faire fonctionner le site, "
        "mesurer son audience et afficher des publicités. Choisissez ce que vous acceptez ; vous pouvez changer "
        "d'avis à tout moment via le lien Préférences cookies.",
    },
}


class Command(BaseCommand):
    help = "Create the demo site (key 'demo') with its purposes, texts, policy version and regimes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            help="An origin allowed to embed the banner, e.g. http://localhost:3000 (repeatable).",
        )

    @transaction.atomic
    def handle(self, *args, origin, **options):
        for value in origin:
            if not ORIGIN_RE.match(value):
                raise CommandError(f"{value!r} is not an origin like https://shop.example.com (no path, lower case).")
        site, created = Site.objects.get_or_create(key="demo", defaults={"name": "Demo Shop"})
        site.name = "Demo Shop"
        site.default_regime = decisions.OPT_IN
        site.regime_overrides = {**{c: decisions.OPT_IN for c in OPT_IN_COUNTRIES}, "US": decisions.OPT_OUT}
        site.languages = ["en", "fr"]
        site.banner_texts = DEMO_TEXTS
        site.ga_measurement_ids = ["G-DEMO12345"]
        site.allowed_origins = sorted(set(site.allowed_origins) | set(origin))
        site.full_clean()
        site.save()
        PolicyVersion.objects.get_or_create(
            site=site,
            version="1",
            defaults={
                "url": "https://example.com/privacy",
                "effective_at": datetime(2026, 1, 1, tzinfo=UTC),
                "material": True,
            },
        )
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} site 'demo'; origins: {', '.join(site.allowed_origins) or 'none'}"))
