"""What the platform stores: sites and their purposes and policies, visitors
with their current consent, and the append-only log of consent events.

Rules about these records live in plain modules beside this one
(``decisions.py``, ``writes.py``, ``lookups.py``, ``sites.py``, ``chain.py``);
the models only hold data and keep it well formed.
"""
import hashlib
import hmac
import re
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from . import decisions, gpp, identity, regions, theme
from .errors import Invalid

REGIME_CHOICES = [
    (decisions.OPT_IN, "Opt-in (GDPR style: nothing optional before consent)"),
    (decisions.OPT_OUT, "Opt-out (US style: optional purposes on until refused)"),
]
MSPA_MODE_CHOICES = [
    (gpp.OPT_OUT_OPTION_MODE, "Opt-out option mode"),
    (gpp.SERVICE_PROVIDER_MODE, "Service provider mode"),
]
ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")
GA_ID_RE = re.compile(r"^(G|UA|AW|DC)-[A-Z0-9-]{4,20}$")
# Two labels at least: a cookie on a top-level domain alone is refused by browsers anyway.
COOKIE_DOMAIN_RE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _error_if(condition, field, message):
    if condition:
        raise ValidationError({field: message})


class SiteGroup(models.Model):
    """Sites of one company that share consent: a signed-in person's choice on one counts on all.

    A person (:class:`Person`) belongs to the group, not to one site, so the
    browsers linked to them on any of its sites share their choices
    (``consent/people.py``, the rule's step 3).
    """

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.name


def new_identity_secret() -> str:
    return secrets.token_urlsafe(32)


class Site(models.Model):
    """One website: one brand in one country, with its own banner and rules."""

    # Help texts are HTML in Django's forms and admin: the placeholder's brackets are entities.
    key = models.SlugField(max_length=64, unique=True, help_text="Used in the embed URL: /c/&lt;key&gt;.js")
    name = models.CharField(max_length=200)
    group = models.ForeignKey(
        SiteGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="sites",
        help_text="Sites of one group share a signed-in person's consent. Changing it unlinks nobody: "
                  "people linked before stay in the group they were linked in.")
    cookie_domain = models.CharField(
        max_length=253, blank=True,
        help_text="Empty: the banner's cookie belongs to the page's own host. A parent domain of every allowed "
                  "origin (e.g. example.com for shop.example.com and blog.example.com): its subdomains share one choice.")
    identity_secret = models.CharField(
        max_length=64, default=new_identity_secret,
        help_text="Signs the assertions the site's back end makes for its signed-in users (README, "
                  "Consent that follows the person). Keep it on the server; replace it to revoke every assertion.")
    allowed_origins = models.JSONField(default=list, blank=True, help_text=(
        'Origins that may embed the banner and call the API, e.g. ["https://shop.example.com"].'))
    default_regime = models.CharField(
        max_length=10,
        choices=REGIME_CHOICES,
        default=decisions.OPT_IN,
        help_text="Applies where the visitor's country is unknown or not overridden: keep the strictest.",
    )
    regime_overrides = models.JSONField(
        default=dict, blank=True,
        help_text='Country or region code to regime, e.g. {"US": "opt_out", "US-CA": "opt_out", "FR": "opt_in"}: '
                  "a region (ISO 3166-2) wins over its country, a country over the US state presets.",
    )
    consent_lifetime_days = models.PositiveIntegerField(
        default=365, help_text="After this many days a choice counts as absent and the banner asks again."
    )
    honor_dnt = models.BooleanField(default=False, help_text="Treat Do Not Track like Global Privacy Control.")
    ga_measurement_ids = models.JSONField(default=list, blank=True, help_text='e.g. ["G-ABC123XYZ"]')
    languages = models.JSONField(default=list, blank=True, help_text='First is the default, e.g. ["en", "fr"].')
    banner_texts = models.JSONField(default=dict, blank=True, help_text=(
        'Per language: {"en": {"title": "...", "description": "..."}}. Shown as plain text.'))
    retention_days = models.PositiveIntegerField(
        default=730,
        help_text="Visitors and their consent events are deleted this many days after the visitor's last event (24 months "
                  "by default). On PostgreSQL a whole month of events is also deleted once it is older than every "
                  "site's retention period and consent lifetime.",
    )
    # What the IAB GPP string says about the site itself (consent/gpp.py, docs/us-states.md).
    gpp_sharing_notice = models.BooleanField(
        "GPP: notice of sharing", default=True,
        help_text="The privacy notice tells visitors that personal data is sold or shared with third parties "
                  "for advertising (SharingNotice, ProcessingNotice).",
    )
    gpp_opt_out_notice = models.BooleanField(
        "GPP: opt-out notices", default=True,
        help_text="Visitors are told how to opt out of sale, sharing and targeted advertising: the banner and a "
                  "&ldquo;Your Privacy Choices&rdquo; link (SaleOptOutNotice, SharingOptOutNotice, "
                  "TargetedAdvertisingOptOutNotice).",
    )
    mspa_covered_transaction = models.BooleanField(
        "MSPA covered", default=False,
        help_text="The site signed the IAB Multi-State Privacy Agreement for its advertising transactions.",
    )
    mspa_mode = models.CharField(
        "MSPA mode", max_length=20, blank=True, choices=MSPA_MODE_CHOICES,
        help_text="The mode the site signed the MSPA in; only for covered transactions.",
    )
    uses_sensitive_data = models.BooleanField(
        "uses sensitive personal information", default=False,
        help_text="The site processes sensitive personal information (health, precise location, religion, sexual "
                  "orientation, ...). Where the law gives a right to limit its use (California), the banner then "
                  "offers &ldquo;Limit the use of my sensitive personal information&rdquo; and the GPP string says "
                  "the visitor was told (SensitiveDataLimitUseNotice).",
    )
    sells_or_shares = models.BooleanField(
        "sells or shares personal information", default=True,
        help_text="Where the opt-out regime applies, the banner then offers &ldquo;Do not sell or share my personal "
                  "information&rdquo;; otherwise &ldquo;Opt out of targeted advertising&rdquo;, with a notice to match.",
    )
    # The banner's look (consent/theme.py checks the colours' contrast at save).
    theme_position = models.CharField(max_length=8, choices=theme.POSITIONS, default="bar", verbose_name="position")
    theme_mode = models.CharField(max_length=8, choices=theme.MODES, default="light", verbose_name="light or dark")
    theme_background = models.CharField(max_length=7, default=theme.LIGHT["theme_background"], verbose_name="background")
    theme_text = models.CharField(max_length=7, default=theme.LIGHT["theme_text"], verbose_name="text colour")
    theme_accent = models.CharField(
        max_length=7, default=theme.LIGHT["theme_accent"], verbose_name="brand colour",
        help_text="Buttons, links and the focus ring.")
    theme_accent_text = models.CharField(max_length=7, default=theme.LIGHT["theme_accent_text"], verbose_name="button text colour")
    theme_dark_background = models.CharField(max_length=7, default=theme.DARK["theme_dark_background"], verbose_name="dark background")
    theme_dark_text = models.CharField(max_length=7, default=theme.DARK["theme_dark_text"], verbose_name="dark text colour")
    theme_dark_accent = models.CharField(max_length=7, default=theme.DARK["theme_dark_accent"], verbose_name="dark brand colour")
    theme_dark_accent_text = models.CharField(
        max_length=7, default=theme.DARK["theme_dark_accent_text"], verbose_name="dark button text colour")
    theme_font = models.CharField(
        max_length=200, blank=True, verbose_name="font family",
        help_text='A CSS font-family list, e.g. Georgia, "Times New Roman", serif; the page must load web fonts itself. '
                  "Empty: the system's font.")
    theme_radius = models.PositiveSmallIntegerField(default=6, verbose_name="corner radius (px)")
    theme_logo_url = models.URLField(
        max_length=500, blank=True, verbose_name="logo URL",
        help_text="An https image shown at the banner's top (in a 120 × 32 px box), best served by the site itself.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return f"{self.name} ({self.key})"

    @property
    def default_language(self):
        return self.languages[0] if self.languages else "en"

    def pick_language(self, requested: str | None) -> str:
        """The site language that best matches ``requested`` (``fr-CA`` → ``fr``)."""
        languages = self.languages or ["en"]
        if requested:
            requested = requested.strip()
            for candidate in (requested, requested.split("-")[0]):
                for language in languages:
                    if language.lower() == candidate.lower():
                        return language
        return self.default_language

    def gpp_settings(self) -> gpp.GppSettings:
        return gpp.GppSettings(
            sharing_notice=self.gpp_sharing_notice, sale_opt_out_notice=self.gpp_opt_out_notice,
            sharing_opt_out_notice=self.gpp_opt_out_notice, targeted_advertising_opt_out_notice=self.gpp_opt_out_notice,
            mspa_covered_transaction=self.mspa_covered_transaction, mspa_mode=self.mspa_mode or None,
            uses_sensitive_data=self.uses_sensitive_data,
        )

    def clean(self):
        _error_if(self.mspa_covered_transaction and not self.mspa_mode, "mspa_mode",
                  "Choose the mode the site signed the MSPA in.")
        _error_if(self.mspa_mode and not self.mspa_covered_transaction, "mspa_mode",
                  "A mode applies only to transactions the MSPA covers: tick MSPA covered, or leave the mode empty.")
        origins = self.allowed_origins
        _error_if(not isinstance(origins, list), "allowed_origins", "Must be a list of origins.")
        for origin in origins:
            _error_if(
                not isinstance(origin, str) or not ORIGIN_RE.match(origin),
                "allowed_origins",
                f"{origin!r} is not an origin like https://shop.example.com (scheme, host, optional port; lower case, no path).",
            )
        overrides = self.regime_overrides
        _error_if(not isinstance(overrides, dict), "regime_overrides", "Must map country or region codes to regimes.")
        for place, regime in overrides.items():
            problem = regions.override_key_problem(place)
            _error_if(problem is not None, "regime_overrides", problem)
            _error_if(regime not in decisions.REGIMES, "regime_overrides", f"{regime!r} is not one of {decisions.REGIMES}.")
        ga_ids = self.ga_measurement_ids
        _error_if(not isinstance(ga_ids, list), "ga_measurement_ids", "Must be a list.")
        for ga_id in ga_ids:
            _error_if(not isinstance(ga_id, str) or not GA_ID_RE.match(ga_id), "ga_measurement_ids", f"{ga_id!r} is not a Google measurement id like G-ABC123.")
        languages = self.languages
        _error_if(not isinstance(languages, list), "languages", "Must be a list of language codes.")
        for language in languages:
            _error_if(not isinstance(language, str) or not LANGUAGE_RE.match(language), "languages", f"{language!r} is not a language code like en or pt-BR.")
        _error_if(not isinstance(self.banner_texts, dict), "banner_texts", "Must map languages to texts.")
        _error_if(self.consent_lifetime_days < 1, "consent_lifetime_days", "Must be at least one day.")
        self.clean_cookie_domain()
        self.clean_theme()

    def clean_cookie_domain(self):
        domain = self.cookie_domain = (self.cookie_domain or "").strip().lower().removeprefix(".")
        if not domain:
            return
        _error_if(not COOKIE_DOMAIN_RE.match(domain), "cookie_domain",
                  f"{domain!r} is not a domain like example.com (a registrable domain or below, no scheme).")
        hosts = [origin.split("://", 1)[1].split(":")[0] for origin in self.allowed_origins or [] if "://" in origin]
        outside = [host for host in hosts if host != domain and not host.endswith("." + domain)]
        _error_if(not hosts or outside, "cookie_domain",
                  f"Browsers set a cookie only on a domain the page is on: {', '.join(outside) or 'no allowed origin'} "
                  f"is not {domain} or below it.")

    def clean_theme(self):
        colours = {**theme.LIGHT, **theme.DARK}
        errors = {field: f"{getattr(self, field)!r} is not a colour like #1f3f99." for field in colours
                  if not isinstance(getattr(self, field), str) or not theme.HEX_RE.match(getattr(self, field))}
        if not errors:
            light = {name: getattr(self, f"theme_{name}") for name in ("background", "text", "accent", "accent_text")}
            errors.update(theme.contrast_errors(light, "theme_", "Light theme"))
            if self.theme_mode in ("dark", "auto"):
                dark = {name: getattr(self, f"theme_dark_{name}") for name in ("background", "text", "accent", "accent_text")}
                errors.update(theme.contrast_errors(dark, "theme_dark_", "Dark theme"))
        if self.theme_font and not theme.FONT_RE.match(self.theme_font):
            errors["theme_font"] = "Only font names, quotes, spaces, hyphens and commas, e.g. Georgia, serif."
        if self.theme_radius > theme.MAX_RADIUS:
            errors["theme_radius"] = f"At most {theme.MAX_RADIUS} px."
        if self.theme_logo_url and not self.theme_logo_url.startswith("https://"):
            errors["theme_logo_url"] = "Must be an https:// address (the banner shows on https pages)."
        if errors:
            raise ValidationError(errors)


class Purpose(models.Model):
    """Something a site does with data, which the visitor allows or refuses."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="purposes")
    key = models.SlugField(max_length=64)
    essential = models.BooleanField(default=False, help_text="Essential purposes cannot be refused.")
    sale_or_sharing = models.BooleanField(
        default=False, verbose_name="sale or sharing",
        help_text="Selling or sharing personal data (CPRA): Global Privacy Control denies it unless the visitor "
        "confirms the conflict. On by default for advertising and cross-device recognition.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the banner.")
    names = models.JSONField(default=dict, help_text='Per language, e.g. {"en": "Analytics", "fr": "Mesure d\'audience"}.')
    descriptions = models.JSONField(default=dict, blank=True, help_text="Per language, like names.")

    class Meta:
        ordering = ["site", "position", "key"]
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="purpose_unique_key_per_site")]

    def __str__(self):
        return f"{self.site.key}:{self.key}"

    def clean(self):
        for field in ("names", "descriptions"):
            value = getattr(self, field)
            _error_if(
                not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()),
                field,
                "Must map language codes to text.",
            )


class PolicyVersion(models.Model):
    """A version of a site's privacy policy. A *material* one asks everyone again.

    Once in force (its date has come) a version is a record that consents
    were given under: its version, URL, material flag and date are frozen
    (:meth:`clean`, :meth:`save`), and it cannot be deleted once an event
    names it (:meth:`delete`). Publish a new version instead.
    """

    FROZEN = ("version", "url", "material", "effective_at")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="policy_versions")
    version = models.CharField(max_length=32)
    url = models.URLField(max_length=500)
    effective_at = models.DateTimeField(default=timezone.now)
    material = models.BooleanField(
        default=False, help_text="Material changes make every earlier choice count as absent."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "effective_at", "id"]
        constraints = [models.UniqueConstraint(fields=["site", "version"], name="policy_unique_version_per_site")]

    def __str__(self):
        return f"{self.site.key} policy {self.version}"

    def save(self, *args, **kwargs):
        self.clean()  # frozen everywhere, not only in the admin's forms
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.named_by_events():
            raise ValidationError(f"Policy version {self.version} cannot be deleted: consent events name it.")
        return super().delete(*args, **kwargs)

    def clean(self):
        changed = self.frozen_changes()
        if changed:
            raise ValidationError({name: "This version is in force: consents were given under it as published. "
                                   "Publish a new version instead." for name in changed})

    def in_force(self, now=None) -> bool:
        return self.effective_at is not None and self.effective_at <= (now or timezone.now())

    def frozen_changes(self) -> list[str]:
        """The frozen fields this unsaved state would change on a version already in force."""
        if self.pk is None:
            return []
        stored = PolicyVersion.objects.filter(pk=self.pk).first()
        if stored is None or not stored.in_force():
            return []
        return [name for name in self.FROZEN if getattr(stored, name) != getattr(self, name)]

    def named_by_events(self) -> bool:
        return ConsentEvent.objects.filter(site_id=self.site_id, policy_version=self.version).exists()


EXAMPLE_VISITOR = "0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10"


def parse_visitor_id(value: str) -> uuid.UUID:
    """A visitor id from a URL; Invalid (``malformed_visitor_id``) if it is not a UUID."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("malformed_visitor_id", f"'{value[:64]}' is not a UUID like {EXAMPLE_VISITOR}.") from None


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a plain hash is enough: there is
    # nothing to brute-force that a slow hash would protect.
    return hashlib.sha256(token.encode()).hexdigest()


class Visitor(models.Model):
    """One browser (or app install) on one site, and its current consent.

    The id is made in the browser, derived from the visitor's secret token
    (``consent/identity.py``), so a choice can be taken while the server is
    unreachable and sent later, and only the token's holder can write for
    it. Only a hash of the token is kept.
    """

    # No index of its own: (site, uuid) and (site, chosen_at) start with it.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="visitors", db_index=False)
    uuid = models.UUIDField()
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The current consent: the latest explicit choice and the signals seen.
    choices = models.JSONField(default=dict, blank=True)
    chosen_at = models.DateTimeField(null=True, blank=True)
    policy_version = models.CharField(max_length=32, blank=True)
    choice_signals = models.JSONField(default=dict, blank=True, help_text="Signals in force when the choice was made.")
    gpc_conflict_confirmed = models.BooleanField(
        default=False, db_default=False, help_text="The choice's grants were confirmed over an opt-out preference signal.")
    signals = models.JSONField(default=dict, blank=True, help_text="Signals seen most recently.")
    banner_version = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    # Where the visitor was at first contact (the trusted region headers of its first write: US-CA, or
    # the country alone; "" when there was none): lookups answer with this region's regime and GPP
    # sections, whoever asks from wherever. None for a visitor stored before regions were (and whose
    # first event named none). Visitors stored before states were told apart keep their country.
    region = models.CharField(max_length=6, null=True, blank=True)
    # Global Privacy Control as seen from this browser. Once seen, it stays in
    # force: a later visit without the signal is not consent to opt back in
    # (California CCPA regulations §7025(c)(5)).
    gpc_first_seen = models.DateTimeField(null=True, blank=True)
    gpc_last_seen = models.DateTimeField(null=True, blank=True)
    # The choice (by its time) whose expiry has been logged, so it is logged once.
    expiry_logged_for = models.DateTimeField(null=True, blank=True)
    # Where the visitor's chain goes on (consent/chain.py): read with the row the write locks anyway,
    # instead of from the event table, whose months are each a partition on PostgreSQL.
    last_event_hash = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False,
        help_text="The hash of the visitor's latest event.")
    # The signed-in person this browser is linked to (consent/people.py); their browsers share choices.
    person = models.ForeignKey("Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="browsers")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "uuid"], name="visitor_unique_uuid_per_site")]
        indexes = [models.Index(fields=["site", "chosen_at"], name="visitor_choice_age")]

    def __str__(self):
        return f"{self.site.key}:{self.uuid}"

    def holds_token(self, token: str | None) -> bool:
        """Does ``token`` prove ownership of this visitor? (Compared in constant time.)

        A self-certifying id is proven by the token it is derived from; an
        id of before (a random UUID) by the token stored at its first write.
        """
        if identity.is_self_certifying(self.uuid):
            return identity.certifies(token, self.uuid)
        return bool(token) and bool(self.token_hash) and hmac.compare_digest(hash_token(token), self.token_hash)

    def choice(self):
        """The explicit choice as the decision rule sees it, or None."""
        if self.chosen_at is None:
            return None
        return decisions.Choice(
            choices=self.choices,
            made_at=self.chosen_at,
            policy_version=self.policy_version or None,
            signals=decisions.Signals.from_mapping(self.choice_signals),
            gpc_conflict_confirmed=self.gpc_conflict_confirmed,
        )


class Person(models.Model):
    """A signed-in person of a site or group, known only by a keyed hash of the subject id.

    The subject id is the site's own (derived from its account id); the
    platform never stores it, only ``subject_hash`` (``consent/people.py``),
    which includes the site or group it belongs to.
    """

    subject_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"person {self.pk}"


class UsedAssertion(models.Model):
    """An identity assertion already redeemed: each one links once (replays are refused)."""

    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"assertion used, expires {self.expires_at:%Y-%m-%d %H:%M:%S}"


class Handoff(models.Model):
    """A browser's choice on its way to a sister site of the group: one link, redeemed once, within minutes.

    The link carries only a random token (its hash is kept here); the sister
    site's banner redeems it, and the choice is read from the browser it
    came from at that moment (``consent/people.py``).
    """

    digest = models.CharField(max_length=64, unique=True)
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="+")
    to_site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"hand-off to {self.to_site_id}, expires {self.expires_at:%Y-%m-%d %H:%M:%S}"


class ApiKey(models.Model):
    """A site's key for server-to-server writes (apps reporting limit-ad-tracking).

    Only a hash is stored; the key itself is shown once, when it is created.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'iOS app'.")
    prefix = models.CharField(max_length=12, editable=False, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.site.key}: {self.name} ({self.prefix}…)"


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit record in place."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Consent events are append-only; they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Consent events are append-only; they cannot be deleted.")


class Source(models.TextChoices):
    """What made a consent event."""

    BANNER = "banner", "Banner"
    API = "api", "Server API"
    GPC = "gpc", "Global Privacy Control"
    NAI = "nai", "NAI opt-out"
    GA_OPTOUT = "ga_optout", "Google Analytics opt-out"
    LAT = "lat", "Limit ad tracking"
    DNT = "dnt", "Do Not Track"
    EXPIRY = "expiry", "Expiry"
    POLICY = "policy", "Policy change"
    ERASURE = "erasure", "Erasure"
    LINK = "link", "Linked to a person"
    UNLINK = "unlink", "Unlinked from a person"
    HANDOFF = "handoff", "Carried from a sister site"


class ConsentEvent(models.Model):
    """One entry of the append-only audit log: what was chosen and what followed."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="events")
    # No index of its own: event_visitor_history (visitor, id) starts with it.
    visitor = models.ForeignKey(Visitor, on_delete=models.PROTECT, related_name="events", db_index=False)
    source = models.CharField(max_length=16, choices=Source.choices)
    choices = models.JSONField(default=dict, blank=True)
    signals = models.JSONField(default=dict, blank=True)
    decisions = models.JSONField(default=dict, help_text="Each purpose's decision right after this event.")
    consent_mode = models.JSONField(default=dict)
    regime = models.CharField(max_length=10, choices=REGIME_CHOICES)
    policy_version = models.CharField(max_length=32, blank=True)
    banner_version = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    region = models.CharField(
        max_length=6, blank=True,
        help_text="ISO 3166-2 region (US-CA) or country (FR) from the trusted headers; a country alone before regions.")
    ip_prefix = models.CharField(max_length=64, blank=True, help_text="IPv4 /24 or IPv6 /48, never the full address.")
    user_agent = models.CharField(max_length=512, blank=True)
    policy_url = models.CharField(
        max_length=500, blank=True, default="", db_default="",
        help_text="The URL of the policy version, as it was when the event happened (receipts name it).")
    gpc_conflict_confirmed = models.BooleanField(
        default=False, db_default=False, help_text="The write confirmed grants over an opt-out preference signal.")
    # The IAB GPP string the event's decisions gave, as answered then ({"string", "applicable_sections"}):
    # kept with the event (and covered by its hash) so its receipt states what was said at the time,
    # whatever the site's GPP settings became. None for events of before.
    gpp = models.JSONField(null=True, blank=True, help_text="The IAB GPP string of the event's decisions.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Tamper evidence (consent/chain.py): the SHA-256 of this event's canonical
    # content, which includes the hash of the same visitor's previous event.
    prev_hash = models.CharField(max_length=64, blank=True, editable=False, help_text="Hash of this visitor's previous event ('' for the first).")
    event_hash = models.CharField(max_length=64, blank=True, editable=False, help_text="SHA-256 of the canonical content.")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["visitor", "id"], name="event_visitor_history")]

    def __str__(self):
        return f"event {self.pk} ({self.source})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Consent events are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Consent events are append-only; they cannot be deleted.")



class CacheInvalidationFailure(models.Model):
    """A change whose cached copies could not be invalidated (Redis unreachable).

    Its existence makes every reader start a new cache epoch at its next lease
    renewal (consent/cache.py), so no copy from before the change is served.
    """

    keys = models.CharField(max_length=500)
    failed_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"cache invalidation failed at {self.failed_at:%Y-%m-%d %H:%M:%S}"

