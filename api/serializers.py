"""The JSON shapes of the public API (README, "Public contracts").

The request serializer checks types strictly (``"yes"`` is not a boolean
here); checks against the site's own purposes and policies live in
``consent/writes.py``. Response serializers exist to document the shapes in
the OpenAPI schema.
"""
import re

from rest_framework import serializers

from consent import decisions
from consent.models import LANGUAGE_RE

LANGUAGE_OR_BLANK = re.compile(f"^$|{LANGUAGE_RE.pattern}")


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean and nothing else: DRF's own also takes "yes", 1 and "on"."""

    default_error_messages = {"invalid": "Must be true or false, got {value!r}."}

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", value=data)


class SignalsField(serializers.DictField):
    child = StrictBooleanField()

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(decisions.SIGNAL_NAMES))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown signal(s) {', '.join(unknown)}; known: {', '.join(decisions.SIGNAL_NAMES)}."
            )
        return value


class ConsentWriteSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField(
        help_text="Derived from the token: the first 16 bytes of SHA-256(\"cmp-visitor-v1:\" + token) as a UUID of "
        "version 8 (README, Public contracts). A random UUID is accepted only for a visitor already stored under it.")
    token = serializers.CharField(
        required=False,
        min_length=32,
        max_length=128,
        help_text="The visitor's secret token, made by the client, which the id is derived from; required on every "
        "write, the first included (a retried first write is accepted). For a visitor stored under a random UUID: "
        "the token its first write returned. A write with the site's API key may omit it.",
    )
    choices = serializers.DictField(
        child=StrictBooleanField(),
        required=False,
        help_text="Purpose key to true (allowed) or false (refused). Omit for a signal-only write.",
    )
    signals = SignalsField(required=False, default=dict)
    gpc_conflict_confirmed = StrictBooleanField(
        required=False, default=False,
        help_text="True only when the visitor confirmed that this choice's grants override their opt-out preference "
        "signal (the banner's conflict dialog). Without it, while GPC (or honoured DNT) is on, every purpose the "
        "site marks as sale or sharing stays denied with reason `gpc` (or `dnt`), whatever `choices` says.",
    )
    policy_version = serializers.CharField(
        required=False, max_length=32, allow_null=True,
        help_text="The policy version the visitor was shown; omitted or null: the version in force.",
    )
    banner_version = serializers.CharField(required=False, max_length=32, allow_blank=True, default="")
    # Blank is allowed (and the default), so the documented pattern admits it too.
    language = serializers.RegexField(LANGUAGE_OR_BLANK, required=False, max_length=35, allow_blank=True, default="")

    def validate(self, attrs):
        if "choices" not in attrs and not attrs.get("signals"):
            raise serializers.ValidationError("Send choices, signals, or both.")
        return attrs


class DecisionSerializer(serializers.Serializer):
    granted = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=[
            decisions.ESSENTIAL, decisions.CHOICE, decisions.DEFAULT_OPT_IN, decisions.DEFAULT_OPT_OUT,
            decisions.EXPIRED, decisions.POLICY_CHANGED, decisions.GPC, decisions.DNT,
            decisions.GA_OPTOUT, decisions.NAI_OPTOUT, decisions.LAT, decisions.UNAVAILABLE,
        ]
    )


CONSENT_STATES = ["granted", "denied"]


class ConsentModeSerializer(serializers.Serializer):
    ad_personalization = serializers.ChoiceField(choices=CONSENT_STATES)
    ad_storage = serializers.ChoiceField(choices=CONSENT_STATES)
    ad_user_data = serializers.ChoiceField(choices=CONSENT_STATES)
    analytics_storage = serializers.ChoiceField(choices=CONSENT_STATES)
    functionality_storage = serializers.ChoiceField(choices=CONSENT_STATES)
    personalization_storage = serializers.ChoiceField(choices=CONSENT_STATES)
    security_storage = serializers.ChoiceField(choices=CONSENT_STATES)


class SignalsSerializer(serializers.Serializer):
    gpc = serializers.BooleanField()
    ga_optout = serializers.BooleanField()
    nai_optout = serializers.BooleanField()
    lat = serializers.BooleanField()
    dnt = serializers.BooleanField()


class GppSerializer(serializers.Serializer):
    """The IAB Global Privacy Platform string of the answer's decisions (``docs/us-states.md``)."""

    string = serializers.CharField(help_text="The GPP string, e.g. `DBABrw~CVQqAAAAAACA.QA~BUoAAACA.QA` for a "
                                   "Californian; `DBAA` (the header alone) outside the US.")
    applicable_sections = serializers.ListField(
        child=serializers.IntegerField(min_value=-1), min_length=1,
        help_text="The IAB section ids that apply: 7 (US National) and the state's own (8 for California, ...); "
        "`[-1]` where no US section applies.")


GPP_HELP = ("The IAB GPP string of these decisions, in the visitor's region (its first contact's; a visitor never "
            "seen: this request's), with the request's GPC: what the page API `__gpp` answers.")


class DecisionsResponseSerializer(serializers.Serializer):
    site = serializers.CharField()
    visitor_id = serializers.UUIDField()
    regime = serializers.ChoiceField(choices=list(decisions.REGIMES))
    policy_version = serializers.CharField(allow_null=True)
    decisions = serializers.DictField(child=DecisionSerializer())
    ad_personalization = DecisionSerializer(help_text="Interest-based ads; NAI opt-out or limit-ad-tracking deny it.")
    consent_mode = ConsentModeSerializer()
    signals = SignalsSerializer()
    needs_choice = serializers.BooleanField(help_text="True when the banner should ask this visitor.")
    gpp = GppSerializer(help_text=GPP_HELP)
    purpose = serializers.CharField(required=False, help_text="With ?purpose=: the purpose asked about.")
    granted = serializers.BooleanField(required=False, help_text="With ?purpose=: its decision.")
    reason = serializers.CharField(required=False, help_text="With ?purpose=: why.")


class ConsentWriteResponseSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField()
    token = serializers.CharField(allow_null=True, help_text="Null for an API-key write to an existing visitor.")
    regime = serializers.ChoiceField(choices=list(decisions.REGIMES))
    policy_version = serializers.CharField(allow_null=True)
    decisions = serializers.DictField(child=DecisionSerializer())
    ad_personalization = DecisionSerializer()
    consent_mode = ConsentModeSerializer()
    signals = SignalsSerializer()
    gpp = GppSerializer(help_text=GPP_HELP)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()


class LinkSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField(help_text="The browser to link, as in a write.")
    token = serializers.CharField(
        required=False, min_length=32, max_length=128,
        help_text="The visitor's secret token, as in a write; not needed with the site's API key.")
    assertion = serializers.CharField(
        required=False, max_length=2048,
        help_text="From the banner: the assertion the site's back end signed for its signed-in user "
        "(README, Consent that follows the person).")
    subject = serializers.CharField(
        required=False, max_length=256,
        help_text="With the site's API key only, instead of an assertion: the site's subject id for the person.")


class UnlinkSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField()
    token = serializers.CharField(required=False, min_length=32, max_length=128,
                                  help_text="Not needed with the site's API key.")


class LinkResponseSerializer(ConsentWriteResponseSerializer):
    needs_choice = serializers.BooleanField(
        help_text="True when the person must be asked (no choice, or none since a material policy change): "
        "the banner asks now, and the answer applies to every linked browser.")


class SubjectLookupSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=256, help_text="The site's subject id for the person.")


class SubjectDecisionsSerializer(serializers.Serializer):
    site = serializers.CharField()
    known_person = serializers.BooleanField(help_text="False: no browser of this person has chosen; the defaults.")
    regime = serializers.ChoiceField(choices=list(decisions.REGIMES))
    policy_version = serializers.CharField(allow_null=True)
    decisions = serializers.DictField(child=DecisionSerializer())
    ad_personalization = DecisionSerializer()
    consent_mode = ConsentModeSerializer()
    needs_choice = serializers.BooleanField()
    gpp = GppSerializer(help_text=GPP_HELP)


class HandoffSerializer(serializers.Serializer):
    visitor_id = serializers.UUIDField(help_text="The browser whose choice the link carries.")
    token = serializers.CharField(min_length=32, max_length=128, help_text="Its secret token: only it may carry it.")
    to = serializers.SlugField(max_length=64, help_text="The key of the sister site (of the same group) to carry it to.")


class HandoffResponseSerializer(serializers.Serializer):
    handoff = serializers.CharField(help_text="Single-use; put it in the link's fragment as #cmp-handoff=<it>.")
    expires_at = serializers.DateTimeField()


class RedeemSerializer(serializers.Serializer):
    handoff = serializers.CharField(max_length=64, help_text="From the link's fragment.")
    visitor_id = serializers.UUIDField(help_text="This browser on this site, as in a write.")
    token = serializers.CharField(min_length=32, max_length=128)
