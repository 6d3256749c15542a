"""What the platform stores: sites and their purposes and policies, visitors
with their current consent, and the append-only log of consent events.

Rules about these records live in plain modules beside this one
(``decisions.py``, ``writes.py``, ``lookups.py``, ``sites.py``); the models
only hold data and keep it well formed.
"""
import functools
import re
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone

from . import decisions

REGIME_CHOICES = [
    (decisions.OPT_IN, "Opt-in (GDPR style: nothing optional before consent)"),
    (decisions.OPT_OUT, "Opt-out (US style: optional purposes on until refused)"),
]
ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
GA_ID_RE = re.compile(r"^(G|UA|AW|DC)-[A-Z0-9-]{4,20}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _error_if(condition, field, message):
    if condition:
        raise ValidationError({field: message})


class Site(models.Model):
    """One website: one brand in one country, with its own banner and rules."""

    key = models.SlugField(max_length=64, unique=True, help_text="Used in the embed URL: /c/<key>.js")
    name = models.CharField(max_length=200)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Origins that may embed the banner and call the API, e.g. ["https://shop.example.com"].',
    )
    default_regime = models.CharField(
        max_length=10,
        choices=REGIME_CHOICES,
        default=decisions.OPT_IN,
        help_text="Applies where the visitor's country is unknown or not overridden: keep the strictest.",
    )
    regime_overrides = models.JSONField(
        default=dict, blank=True, help_text='Country code to regime, e.g. {"US": "opt_out", "FR": "opt_in"}.'
    )
    consent_lifetime_days = models.PositiveIntegerField(
        default=365, help_text="After this many days a choice counts as absent and the banner asks again."
    )
    honor_dnt = models.BooleanField(default=False, help_text="Treat Do Not Track like Global Privacy Control.")
    ga_measurement_ids = models.JSONField(default=list, blank=True, help_text='e.g. ["G-ABC123XYZ"]')
    languages = models.JSONField(default=list, blank=True, help_text='First is the default, e.g. ["en", "fr"].')
    banner_texts = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per language: {"en": {"title": "...", "description": "..."}}. Shown as plain text.',
    )
    retention_days = models.PositiveIntegerField(
        default=730,
        help_text="Consent events and visitors are deleted this many days after the visitor's last event (24 months by default).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return f"{self.name} ({self.key})"

    @property
    def default_language(self):
        return self.languages[0] if self.languages else "en"

    def clean(self):
        origins = self.allowed_origins
        _error_if(not isinstance(origins, list), "allowed_origins", "Must be a list of origins.")
        for origin in origins:
            _error_if(
                not isinstance(origin, str) or not ORIGIN_RE.match(origin),
                "allowed_origins",
                f"{origin!r} is not an origin like https://shop.example.com (scheme, host, optional port; lower case, no path).",
            )
        overrides = self.regime_overrides
        _error_if(not isinstance(overrides, dict), "regime_overrides", "Must map country codes to regimes.")
        for country, regime in overrides.items():
            _error_if(not COUNTRY_RE.match(country), "regime_overrides", f"{country!r} is not an ISO country code like FR.")
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


class Purpose(models.Model):
    """Something a site does with data, which the visitor allows or refuses."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="purposes")
    key = models.SlugField(max_length=64)
    essential = models.BooleanField(default=False, help_text="Essential purposes cannot be refused.")
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
    """A version of a site's privacy policy. A *material* one asks everyone again."""

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


class Visitor(models.Model):
    """One browser (or app install) on one site, and its current consent.

    The id is a random UUID made in the browser, so a choice can be taken
    while the server is unreachable and sent later. Only a hash of the write
    token is kept.
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
    signals = models.JSONField(default=dict, blank=True, help_text="Signals seen most recently.")
    banner_version = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    # Global Privacy Control as seen from this browser. Once seen, it stays in
    # force: a later visit without the signal is not consent to opt back in
    # (California CCPA regulations §7025(c)(5)).
    gpc_first_seen = models.DateTimeField(null=True, blank=True)
    gpc_last_seen = models.DateTimeField(null=True, blank=True)
    # The choice (by its time) whose expiry has been logged, so it is logged once.
    expiry_logged_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "uuid"], name="visitor_unique_uuid_per_site")]
        indexes = [models.Index(fields=["site", "chosen_at"], name="visitor_choice_age")]

    def __str__(self):
        return f"{self.site.key}:{self.uuid}"

    def choice(self):
        """The explicit choice as the decision rule sees it, or None."""
        if self.chosen_at is None:
            return None
        return decisions.Choice(
            choices=self.choices,
            made_at=self.chosen_at,
            policy_version=self.policy_version or None,
            signals=decisions.Signals.from_mapping(self.choice_signals),
        )


def insert_row(instance: models.Model, *, ignore_conflicts: bool = False, child: models.Model | None = None) -> bool:
    """INSERT ``instance`` in one statement and set its id; False if it was not inserted.

    ``ignore_conflicts``: a row that would break a unique constraint (one
    that exists, or that a concurrent transaction inserts and commits) is
    not inserted, and no error is raised (``ON CONFLICT DO NOTHING``).
    ``child``: a new row whose foreign key points at ``instance``, inserted
    with it when ``instance`` is; on PostgreSQL in the same statement (one
    round trip fewer), on SQLite right after.

    This is ``save()`` for a new row without what surrounds it (signals, SQL
    compiled anew each time), which costs more than the statement itself on
    the write path: the SQL is built once per model, and each value goes
    through its field's own ``pre_save`` and ``get_db_prep_save``, as the
    ORM sends it. No ``pre_save``/``post_save`` signals are sent.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of django.db.connection is a thread-local lookup
    together = child is not None and db.vendor == "postgresql"
    sql = _insert_sql(type(instance), ignore_conflicts, type(child) if together else None)
    params = _values(db, instance) + (_values(db, child, instance) if together else [])
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _saved(instance, row[0], db)
    if child is not None:
        setattr(child, _link(type(child), type(instance)).attname, row[0])
        if together:
            _saved(child, row[1], db)
        else:
            insert_row(child)
    return True


def _values(db, instance, parent=None) -> list:
    """The row's values as the database takes them; without the link to ``parent`` (the statement makes it)."""
    skip = _link(type(instance), type(parent)) if parent is not None else None
    return [f.get_db_prep_save(f.pre_save(instance, True), db) for f in _columns(type(instance)) if f is not skip]


def _saved(instance, pk, db) -> None:
    instance.pk = pk
    instance._state.adding, instance._state.db = False, db.alias


@functools.cache
def _columns(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@functools.cache
def _link(child_model, parent_model):
    """The foreign key of ``child_model`` that points at ``parent_model``."""
    return next(f for f in child_model._meta.concrete_fields if f.is_relation and f.related_model is parent_model)


@functools.cache
def _insert_sql(model, ignore_conflicts: bool, child_model=None) -> str:
    """``INSERT … RETURNING id`` (the same on PostgreSQL and SQLite); with
    ``child_model``, a PostgreSQL CTE that also inserts the child row, linked to the new id."""
    quote, table = connections[DEFAULT_DB_ALIAS].ops.quote_name, model._meta.db_table
    columns = _columns(model)
    sql = f"INSERT INTO {quote(table)} ({', '.join(quote(f.column) for f in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    sql += f" RETURNING {quote(model._meta.pk.column)}"
    if child_model is None:
        return sql
    link, child_columns = _link(child_model, model), _columns(child_model)
    values = ", ".join("parent.id" if f is link else "%s" for f in child_columns)
    return (f"WITH parent AS ({sql} AS id) INSERT INTO {quote(child_model._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in child_columns)}) SELECT {values} FROM parent "
            f"RETURNING {quote(link.column)}, {quote(child_model._meta.pk.column)}")


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


class ConsentEvent(models.Model):
    """One entry of the append-only audit log: what was chosen and what followed."""

    SOURCE_CHOICES = [
        ("banner", "Banner"),
        ("api", "Server API"),
        ("gpc", "Global Privacy Control"),
        ("nai", "NAI opt-out"),
        ("ga_optout", "Google Analytics opt-out"),
        ("lat", "Limit ad tracking"),
        ("dnt", "Do Not Track"),
        ("expiry", "Expiry"),
        ("policy", "Policy change"),
        ("erasure", "Erasure"),
    ]

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="events")
    # No index of its own: event_visitor_history (visitor, id) starts with it.
    visitor = models.ForeignKey(Visitor, on_delete=models.PROTECT, related_name="events", db_index=False)
    source = models.CharField(max_length=16, choices=SOURCE_CHOICES)
    choices = models.JSONField(default=dict, blank=True)
    signals = models.JSONField(default=dict, blank=True)
    decisions = models.JSONField(default=dict, help_text="Each purpose's decision right after this event.")
    consent_mode = models.JSONField(default=dict)
    regime = models.CharField(max_length=10, choices=REGIME_CHOICES)
    policy_version = models.CharField(max_length=32, blank=True)
    banner_version = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    region = models.CharField(max_length=2, blank=True, help_text="ISO country code from the trusted header.")
    ip_prefix = models.CharField(max_length=64, blank=True, help_text="IPv4 /24 or IPv6 /48, never the full address.")
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Tamper evidence (consent/audit.py): the SHA-256 of this event's canonical
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



class AuditCheckpoint(models.Model):
    """A Merkle root over every event appended since the previous checkpoint.

    Covers the event ids in ``(after_event_id, last_event_id]``, counting the
    leaves of purged events recorded by tombstones (:class:`AuditPurge`), so a
    deleted or reordered event, or a whole deleted visitor chain, changes the
    root. Each checkpoint names the previous one's root and is signed.
    """

    created_at = models.DateTimeField(default=timezone.now)
    after_event_id = models.BigIntegerField(unique=True, help_text="The previous checkpoint's last event id (0 for the first).")
    first_event_id = models.BigIntegerField(null=True, blank=True)
    last_event_id = models.BigIntegerField()
    event_count = models.PositiveIntegerField()
    merkle_root = models.CharField(max_length=64)
    prev_root = models.CharField(max_length=64, blank=True, help_text="The previous checkpoint's root ('' for the first).")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-last_event_id"]
        get_latest_by = "last_event_id"

    def __str__(self):
        return f"checkpoint {self.after_event_id + 1}–{self.last_event_id} ({self.event_count} events)"


class AuditPurge(models.Model):
    """A tombstone: the only trace of events deleted by retention or erasure.

    It keeps no personal data, only each purged event's id, its visitor's row
    id and its hash (``leaves``), so checkpoints and chains still verify.
    """

    created_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=200)
    sites = models.JSONField(default=list)
    visitor_count = models.PositiveIntegerField()
    event_count = models.PositiveIntegerField()
    first_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    last_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    leaves = models.JSONField(default=list, help_text="[event id, visitor row id, event hash] per purged event.")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit purge (tombstone)"
        verbose_name_plural = "audit purges (tombstones)"

    def __str__(self):
        return f"purge {self.pk}: {self.event_count} events ({self.reason})"


class ConsentRollup(models.Model):
    """Daily counts behind the dashboard, kept by a Celery task (consent/rollups.py)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="rollups")
    day = models.DateField()
    source = models.CharField(max_length=16)
    region = models.CharField(max_length=2, blank=True)
    pattern = models.CharField(max_length=12, blank=True, help_text="accept_all, reject_all, custom; blank for events without a choice.")
    events = models.PositiveIntegerField(default=0)
    purposes = models.JSONField(default=dict, help_text='Per optional purpose: [times asked, times granted].')
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "day"]
        constraints = [
            models.UniqueConstraint(fields=["site", "day", "source", "region", "pattern"], name="rollup_unique_cell")
        ]

    def __str__(self):
        return f"{self.site_id} {self.day} {self.source}/{self.region}/{self.pattern}: {self.events}"


def _webhook_secret():
    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """A site's back end that wants to hear when a visitor's decisions change."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=64, default=_webhook_secret, help_text="Shared HMAC-SHA256 key; the receiver checks X-CMP-Signature with it."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.site.key} → {self.url}"


class OutboxMessage(models.Model):
    """One webhook delivery, written in the same transaction as the change it reports."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
    STATUS_CHOICES = [(PENDING, "Pending"), (DELIVERED, "Delivered"), (FAILED, "Gave up after 24 hours")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, help_text="The event id receivers deduplicate on.")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self):
        return f"webhook {self.id} ({self.status})"


class CacheInvalidationFailure(models.Model):
    """A change whose cached copies could not be invalidated (Redis unreachable).

    Its existence makes every reader start a new cache epoch at its next lease
    renewal (consent/cache.py), so no copy from before the change is served.
    """

    keys = models.CharField(max_length=500)
    failed_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"cache invalidation failed at {self.failed_at:%Y-%m-%d %H:%M:%S}"


from .dsr.models import DataSubjectRequest, RequestStep  # noqa: E402,F401  (same app, own module)
