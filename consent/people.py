"""Consent that follows the person: browsers linked to a signed-in person share their choices.

A site's back end signs a short-lived *assertion* for its signed-in user
(:func:`make_assertion` shows the format); the page hands it to the banner
(``cmp.identify``), which sends it with its visitor id and token to the link
route. A site's server may link with its API key and the subject id instead.
The platform keeps only a keyed hash of the subject id (:func:`subject_hash`),
scoped to the site's group (or the site alone), so the same person on two
brand sites of one group is one :class:`~consent.models.Person`.

Linking and unlinking are writes (``consent/writes.py``): the visitor's row
is locked, an event (``link`` / ``unlink``) joins its hash chain, and the
cached state of the visitor and of the person is retired in the same
transaction. From then on the rule (``consent/decisions.py``, step 3) gives
each purpose the most recent choice among the person's browsers.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import decisions, identity, lookups
from .client import ClientInfo
from .errors import Forbidden, Invalid, NotFound
from .models import Handoff, Person, Site, Source, UsedAssertion, Visitor
from .sites import SiteRules
from .writes import ConsentWrite, WriteResult, record_consent

# An assertion is made for one page view: minutes, not hours (a stolen one is soon worthless).
MAX_LIFETIME = timedelta(minutes=10)
# Clocks of the site's back end and of the platform differ a little.
CLOCK_SKEW = timedelta(seconds=60)
SUBJECT_MAX = 256
HASH_SALT = "consent.people.subject"
# A hand-off lives from the click on the sister site's link to its page's first script.
HANDOFF_LIFETIME = timedelta(minutes=2)


@dataclass(frozen=True)
class Assertion:
    subject: str
    expires_at: datetime
    digest: str  # identifies this assertion among those redeemed (replays)


def make_assertion(secret: str, site_key: str, subject: str, expires_at: datetime, nonce: str) -> str:
    """The assertion a site's back end makes (any language does the same in a few lines; README).

    ``base64url(payload) + "." + base64url(HMAC-SHA256(secret, base64url(payload)))``, where
    the payload is the JSON ``{"site", "sub", "exp" (Unix seconds), "nonce"}``.
    """
    payload = json.dumps({"site": site_key, "sub": subject, "exp": int(expires_at.timestamp()), "nonce": nonce})
    body = _b64(payload.encode())
    return f"{body}.{_b64(_mac(secret, body))}"


def read_assertion(site: Site, assertion: str, now: datetime) -> Assertion:
    """The subject ``assertion`` vouches for, if the site signed it for itself and it is still valid."""
    body, _, mac = assertion.partition(".")
    try:
        payload, given_mac = _unb64(body), _unb64(mac)
        signed = hmac.compare_digest(given_mac, _mac(site.identity_secret, body))
        # Only JSON the site signed is parsed: nobody else can make the decoder work.
        claims = json.loads(payload) if signed else None
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: arrays nested past the decoder's stack
        raise Invalid("malformed_assertion", "An assertion is base64url(JSON) + '.' + base64url(HMAC-SHA256) "
                      "(README, Consent that follows the person).") from None
    if not signed:
        raise Forbidden("bad_assertion", f"The assertion is not signed with site '{site.key}''s identity secret.")
    if not isinstance(claims, dict):
        raise Invalid("malformed_assertion", "The assertion's payload must be a JSON object.")
    subject, expires, nonce = claims.get("sub"), claims.get("exp"), claims.get("nonce")
    if claims.get("site") != site.key:
        raise Forbidden("bad_assertion", f"The assertion was made for site {claims.get('site')!r}, not '{site.key}'.")
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX:
        raise Invalid("malformed_assertion", f"'sub' must be a non-empty string of at most {SUBJECT_MAX} characters.")
    if not isinstance(nonce, str) or len(nonce) < 16:
        raise Invalid("malformed_assertion", "'nonce' must be a random string of at least 16 characters: "
                      "each assertion links once.")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise Invalid("malformed_assertion", "'exp' must be the expiry in Unix seconds.")
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError):
        raise Invalid("malformed_assertion", "'exp' is not a time.") from None
    if expires_at <= now:
        raise Forbidden("assertion_expired", "The assertion has expired: make a new one for each page view.")
    if expires_at > now + MAX_LIFETIME + CLOCK_SKEW:
        raise Invalid("assertion_too_long", f"An assertion may live at most {int(MAX_LIFETIME.total_seconds() // 60)} "
                      "minutes.")
    return Assertion(subject, expires_at, hashlib.sha256(given_mac).hexdigest())


def subject_hash(site: Site, subject: str) -> str:
    """The only trace of a subject id the platform keeps: keyed, and scoped to the site's group (or the site)."""
    scope = f"group:{site.group_id}" if site.group_id else f"site:{site.pk}"
    return salted_hmac(HASH_SALT, f"{scope}\n{subject}", algorithm="sha256").hexdigest()


def identify(rules: SiteRules, visitor_id: uuid.UUID, token: str | None, assertion: str, client: ClientInfo,
             now: datetime | None = None) -> WriteResult:
    """Link the browser (proven by its token) to the person an assertion names; the answer is the merged decision."""
    now = now or timezone.now()
    site = _site(rules)
    vouched = read_assertion(site, assertion, now)
    with transaction.atomic():
        _redeem(vouched, now)
        return _link(rules, site, visitor_id, token, vouched.subject, client, now, by_api_key=False)


def link_by_server(rules: SiteRules, visitor_id: uuid.UUID, subject: str, client: ClientInfo,
                   now: datetime | None = None) -> WriteResult:
    """The site's server (API key) links one of its visitors to a subject: apps, or a back end that knows both."""
    now = now or timezone.now()
    with transaction.atomic():
        return _link(rules, _site(rules), visitor_id, None, subject, client, now, by_api_key=True)


def unlink(rules: SiteRules, visitor_id: uuid.UUID, token: str | None, client: ClientInfo, *, by_api_key: bool,
           now: datetime | None = None) -> WriteResult:
    """Take the browser's link away (signing out of shared consent): from now on its own choice alone counts."""
    write = ConsentWrite(visitor_id=visitor_id, token=token, unlink=True, by_api_key=by_api_key, source=Source.UNLINK)
    return record_consent(rules, write, client, now)


def subject_decisions(rules: SiteRules, subject: str, now: datetime | None = None) -> lookups.LookupResult:
    """The decision for a signed-in person as a whole, for server-side tags that know no browser.

    Every linked browser's choice counts (the rule's step 3), no browser's
    signals do (they are per browser); the region is that of the person's
    latest choice. A subject never linked gets the site's defaults.
    """
    now = now or timezone.now()
    person = Person.objects.filter(subject_hash=subject_hash(_site(rules), subject)).first()
    rows = lookups.person_state(person.pk) if person else []
    linked = lookups.linked_from_rows(rules, rows)
    region = rows[-1].get("region") if rows else None
    regime = rules.regime_for(region)
    signals = decisions.Signals()
    outcome = decisions.decide(rules.context(now=now, regime=regime, choice=None, signals=signals, linked=linked))
    policy = rules.current_policy(now)
    return lookups.LookupResult(regime, policy.version if policy else None, outcome, signals, bool(rows), region,
                                rules.gpp(region, outcome, signals))


def browsers_of(visitor: Visitor) -> list[Visitor]:
    """The browsers a request about ``visitor`` covers: every one linked to its person, else itself."""
    if visitor.person_id is None:
        return [visitor]
    return list(Visitor.objects.filter(person_id=visitor.person_id).select_related("site").order_by("site_id", "id"))


def hand_off(rules: SiteRules, visitor_id: uuid.UUID, token: str | None, to_site_key: str,
             now: datetime | None = None) -> tuple[str, datetime]:
    """A single-use token that carries the browser's current choice to a sister site of the group, anonymously.

    The browser proves itself with its token; the sister site must be of the
    same group. The token travels in the link's fragment (never sent to a
    server, nor in a Referer) and the sister site's banner redeems it
    (:func:`redeem`). Returns the token and its expiry.
    """
    now = now or timezone.now()
    site = _site(rules)
    target = Site.objects.filter(key=to_site_key).first() if isinstance(to_site_key, str) else None
    if target is None or site.group_id is None or target.group_id != site.group_id or target.pk == site.pk:
        raise Invalid("not_a_sister_site", f"Site '{str(to_site_key)[:64]}' is not another site of "
                      f"'{rules.key}''s group: only sites of one group share consent.")
    visitor = Visitor.objects.filter(site_id=rules.id, uuid=visitor_id).first()
    if not (visitor.holds_token(token) if visitor else identity.certifies(token, visitor_id)):
        raise Forbidden("bad_token", "Only the browser itself (its token) can carry its choice to another site.")
    if visitor is None or visitor.chosen_at is None:
        raise Invalid("nothing_to_carry", "This browser has made no choice yet: there is nothing to carry.")
    handoff = secrets.token_urlsafe(24)
    expires_at = now + HANDOFF_LIFETIME
    Handoff.objects.create(digest=_digest(handoff), visitor=visitor, to_site=target, expires_at=expires_at)
    return handoff, expires_at


def redeem(rules: SiteRules, handoff: str, visitor_id: uuid.UUID, token: str | None, client: ClientInfo,
           now: datetime | None = None) -> WriteResult:
    """Record, for this browser on the sister site, the choice a hand-off carries: a write of its own, logged
    as ``handoff``, under this site's policy version in force. Each hand-off is redeemed once."""
    now = now or timezone.now()
    with transaction.atomic():
        found = (Handoff.objects.select_for_update().select_related("visitor")
                 .filter(digest=_digest(handoff)).first() if isinstance(handoff, str) else None)
        if found is None or found.to_site_id != rules.id:
            raise Forbidden("bad_handoff", f"This hand-off was not made for site '{rules.key}'.")
        if found.used_at is not None:
            raise Forbidden("handoff_used", "This hand-off was already redeemed: follow the link again.")
        if found.expires_at <= now:
            raise Forbidden("handoff_expired", "This hand-off has expired: follow the link again.")
        found.used_at = now
        found.save(update_fields=["used_at"])
        purposes = rules.purpose_keys - {p.key for p in rules.purposes if p.essential}
        carried = {key: value for key, value in found.visitor.choices.items() if key in purposes}
        write = ConsentWrite(visitor_id=visitor_id, token=token, choices=carried, source=Source.HANDOFF,
                             signals={}, gpc_conflict_confirmed=found.visitor.gpc_conflict_confirmed)
        return record_consent(rules, write, client, now)


def forget_expired(now: datetime | None = None) -> int:
    """Drop used assertions and hand-offs past their expiry (they would be refused as expired anyway)."""
    cutoff = (now or timezone.now()) - CLOCK_SKEW
    assertions, _ = UsedAssertion.objects.filter(expires_at__lte=cutoff).delete()
    handoffs, _ = Handoff.objects.filter(expires_at__lte=cutoff).delete()
    return assertions + handoffs


def _link(rules, site, visitor_id, token, subject, client, now, *, by_api_key) -> WriteResult:
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX:
        raise Invalid("malformed_subject", f"The subject must be a non-empty string of at most {SUBJECT_MAX} characters.")
    person, _ = Person.objects.get_or_create(subject_hash=subject_hash(site, subject), defaults={"created_at": now})
    write = ConsentWrite(visitor_id=visitor_id, token=token, person_id=person.pk, by_api_key=by_api_key,
                         source=Source.LINK)
    return record_consent(rules, write, client, now)


def _redeem(vouched: Assertion, now) -> None:
    """Record the assertion as used, in the link's transaction: a second use is refused."""
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(digest=vouched.digest, expires_at=vouched.expires_at)
    except IntegrityError:
        raise Forbidden("assertion_replayed", "This assertion was already used: make a new one for each page view.") \
            from None


def _site(rules: SiteRules) -> Site:
    site = Site.objects.filter(pk=rules.id).first()
    if site is None:
        raise NotFound("unknown_site", f"No site with key '{rules.key}'.")
    return site


def _digest(handoff: str) -> str:
    # A 192-bit random token: a plain hash is enough (nothing to brute-force).
    return hashlib.sha256(handoff.encode()).hexdigest()


def _mac(secret: str, body: str) -> bytes:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
