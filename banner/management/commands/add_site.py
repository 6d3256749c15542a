"""``manage.py add_site KEY --origin … --languages … --policy-url …``: a site ready to embed, and its snippet."""
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from consent.forms import normalize_origin
from consent.models import Site
from consent.site_setup import create_site

from ...embed import embed_snippets


class Command(BaseCommand):
    help = ("Create a site with the default purposes and policy version 1 in force, "
            "then print the snippet that embeds its banner.")

    def add_arguments(self, parser):
        parser.add_argument("key", help="The site's key, used in its embed URL (/c/<key>.js): letters, digits, - and _.")
        parser.add_argument("--name", help="A name for people (default: the key).")
        parser.add_argument("--origin", action="append", default=[], required=True,
                            help="An origin whose pages show the banner, e.g. https://shop.example (repeatable).")
        parser.add_argument("--languages", default="en",
                            help="Comma-separated language codes, the default first (default: en).")
        parser.add_argument("--policy-url", required=True, help="The privacy policy's URL (policy version 1).")

    def handle(self, *args, key, name, origin, languages, policy_url, **options):
        try:  # as the admin's form takes it: a URL typed without its scheme is https
            policy_url = forms.URLField(assume_scheme="https").clean(policy_url)
        except ValidationError as error:
            raise CommandError(f"--policy-url: {' '.join(error.messages)}") from None
        site = Site(key=key, name=name or key, allowed_origins=[normalize_origin(o) for o in origin],
                    languages=[code.strip() for code in languages.split(",") if code.strip()])
        try:
            create_site(site, policy_url)
        except ValidationError as error:
            raise CommandError(" ".join(f"{field}: {' '.join(messages)}"
                                        for field, messages in error.message_dict.items())) from None
        plain, pinned = embed_snippets(settings.CMP_PUBLIC_URL, site.key)
        self.stdout.write(self.style.SUCCESS(
            f"Created site '{site.key}' (policy version 1, the five default purposes); origins: "
            f"{', '.join(site.allowed_origins)}."))
        self.stdout.write(f"\nPaste this into the <head> of its pages:\n\n{plain}\n\n"
                          f"or pin the runtime with Subresource Integrity:\n\n{pinned}\n")
