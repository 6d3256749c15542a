"""The IAB Global Privacy Platform (GPP) string, built from the rule's decisions.

Pure, like the rule itself (no Django, no database): the caller passes the
visitor's region (``consent/regions.py``), the rule's
:class:`~consent.decisions.Outcome`, the signals seen and the site's
:class:`GppSettings`, and gets a :class:`GppString` back.

What the string says (``docs/us-states.md`` has the table):

* In the US, the US National section ``usnat``, and the state's own section
  where the IAB defines one and :data:`~consent.regions.US_STATES` names it.
  Outside the US (or with no known country) no US section applies: the
  string is the bare header (``DBAA``) and the applicable sections ``[-1]``.
* ``SaleOptOut`` follows the ``advertising`` decision, ``SharingOptOut`` and
  ``TargetedAdvertisingOptOut`` follow ``ad_personalization`` (advertising
  and not opted out of interest-based ads): 1 when denied (opted out, for
  whatever reason, including the regime's default), 2 when granted.
* ``Gpc`` is the GPC signal as seen, even where the visitor opted back in.
* The notices and the MSPA fields come from :class:`GppSettings`.
* ``SensitiveDataLimitUseNotice`` (``usnat``, ``usca``) is 1 for a
  Californian on a site that declares it uses sensitive personal information
  (``GppSettings.uses_sensitive_data``): the banner then offers the "Limit the
  use of my sensitive personal information" link (``limit_sensitive_link``).
  Otherwise 0. Every other sensitive data field, the known-child and the
  additional-consent fields are 0 (not applicable): the rule records no
  choice per category of sensitive data, so a value there would be made up.

The bit layouts are the IAB's (``@iabgpp/cmpapi`` decodes every string the
tests make: ``tests/unit/test_gpp_iab.py``). A section is a core segment and,
where the section has one, a GPC segment, each a bit string in base64url
padded to whole bytes and then to whole characters.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from . import decisions, regions

NOT_APPLICABLE, YES, NO = 0, 1, 2  # the IAB's two-bit "nullable boolean"
OPTED_OUT, DID_NOT_OPT_OUT = 1, 2

HEADER_ID, HEADER_VERSION = 3, 1
US_NATIONAL = "usnat"
NO_SECTION_APPLIES = (-1,)

OPT_OUT_OPTION_MODE = "opt_out_option"
SERVICE_PROVIDER_MODE = "service_provider"
MSPA_MODES = (OPT_OUT_OPTION_MODE, SERVICE_PROVIDER_MODE)

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class GppSettings:
    """What the site says about itself (its GPP settings, ``Site.gpp_settings``; the defaults are the demo shop's)."""

    # The privacy notice tells of sharing personal data with third parties / of processing for ads
    # (``SharingNotice``, or ``ProcessingNotice`` in the newer state sections).
    sharing_notice: bool = True
    # The visitor was told of each opt-out (the banner and the "Your Privacy Choices" link).
    sale_opt_out_notice: bool = True
    sharing_opt_out_notice: bool = True
    targeted_advertising_opt_out_notice: bool = True
    # Whether the site signed the IAB Multi-State Privacy Agreement for these transactions, and in which mode.
    mspa_covered_transaction: bool = False
    mspa_mode: str | None = None
    # The site processes sensitive personal information (health, precise location, ...): where a law gives
    # the right to limit its use (California), the banner offers the link and the string says so.
    uses_sensitive_data: bool = False

    def __post_init__(self):
        if self.mspa_covered_transaction and self.mspa_mode not in MSPA_MODES:
            raise ValueError(f"An MSPA-covered site needs a mode: one of {', '.join(MSPA_MODES)}.")
        if not self.mspa_covered_transaction and self.mspa_mode is not None:
            raise ValueError("An MSPA mode applies only to transactions the MSPA covers.")


@dataclass(frozen=True)
class Field:
    name: str
    bits: int = 2
    count: int | None = None  # a list of ``count`` values of ``bits`` each


@dataclass(frozen=True)
class Layout:
    name: str
    id: int
    version: int
    core: tuple[Field, ...]  # the first is the version (``Version``, or ``MspaVersion`` in the 2025 sections)
    gpc: bool  # whether the section has the GPC segment
    # Indiana, Kentucky and Rhode Island: a second segment of sensitive data consents, this many (no type bits).
    sensitive_segment: int | None = None


def _layout(name, id, version, gpc, *fields):
    return Layout(name, id, version, (Field("Version", 6),) + tuple(
        Field(f) if isinstance(f, str) else Field(f[0], 2, f[1]) for f in fields), gpc)


_MSPA = ("MspaCoveredTransaction", "MspaOptOutOptionMode", "MspaServiceProviderMode")
_V1_STATE = ("SharingNotice", "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice", "SaleOptOut",
             "TargetedAdvertisingOptOut")
_PROCESSING = ("ProcessingNotice", "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice", "SaleOptOut",
               "TargetedAdvertisingOptOut")


def _state(name, id, gpc, head, sensitive, child, additional=True):
    child_field = "KnownChildSensitiveDataConsents" if child is None else ("KnownChildSensitiveDataConsents", child)
    extra = ("AdditionalDataProcessingConsent",) if additional else ()
    return _layout(name, id, 1, gpc, *head, ("SensitiveDataProcessing", sensitive), child_field, *extra, *_MSPA)


def _mspa_first(name, id, gpc, child):
    fields = ("MspaCoveredTransaction", "MspaMode", *_PROCESSING) + (
        ("KnownChildSensitiveDataConsents",) if child else ()) + ("AdditionalDataProcessingConsent",)
    return Layout(name, id, 1, (Field("MspaVersion", 6),) + tuple(Field(f) for f in fields), gpc,
                  None if gpc else 8)


LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    _layout(US_NATIONAL, 7, 2, True, "SharingNotice", "SaleOptOutNotice", "SharingOptOutNotice",
            "TargetedAdvertisingOptOutNotice", "SensitiveDataProcessingOptOutNotice", "SensitiveDataLimitUseNotice",
            "SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut", ("SensitiveDataProcessing", 16),
            ("KnownChildSensitiveDataConsents", 3), "PersonalDataConsents", *_MSPA),
    _layout("usca", 8, 1, True, "SaleOptOutNotice", "SharingOptOutNotice", "SensitiveDataLimitUseNotice",
            "SaleOptOut", "SharingOptOut", ("SensitiveDataProcessing", 9), ("KnownChildSensitiveDataConsents", 2),
            "PersonalDataConsents", *_MSPA),
    _state("usva", 9, False, _V1_STATE, 8, None, additional=False),
    _state("usco", 10, True, _V1_STATE, 7, None, additional=False),
    _layout("usut", 11, 1, False, "SharingNotice", "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice",
            "SensitiveDataProcessingOptOutNotice", "SaleOptOut", "TargetedAdvertisingOptOut",
            ("SensitiveDataProcessing", 8), "KnownChildSensitiveDataConsents", *_MSPA),
    _state("usct", 12, True, _V1_STATE, 8, 3, additional=False),
    _state("usmt", 14, True, _V1_STATE, 8, 3),
    _state("usor", 15, True, _PROCESSING, 11, 3),
    _state("ustx", 16, True, _PROCESSING, 8, None),
    _state("usde", 17, True, _PROCESSING, 9, 5),
    _layout("usia", 18, 1, True, "ProcessingNotice", "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice",
            "SensitiveDataOptOutNotice", "SaleOptOut", "TargetedAdvertisingOptOut", ("SensitiveDataProcessing", 8),
            "KnownChildSensitiveDataConsents", *_MSPA),
    _state("usne", 19, True, _PROCESSING, 8, None),
    _state("usnh", 20, True, _PROCESSING, 8, 3),
    _state("usnj", 21, True, _PROCESSING, 10, 5),
    _state("ustn", 22, True, _PROCESSING, 8, None),
    _state("usmn", 23, True, _PROCESSING, 8, None),
    # The 2025 layout: the MSPA fields first, one MspaMode; Indiana, Kentucky and Rhode Island have no GPC
    # segment but one of sensitive data consents (all 0, not applicable: none declared).
    _mspa_first("usmd", 24, True, False),
    _mspa_first("usin", 25, False, True),
    _mspa_first("usky", 26, False, True),
    _mspa_first("usri", 27, False, True),
)}


@dataclass(frozen=True)
class GppString:
    string: str
    section_ids: tuple[int, ...]
    applicable_sections: tuple[int, ...]
    # Section name -> field -> value, as the page API's getSection answers.
    sections: dict[str, dict]

    def as_answer(self) -> dict:
        """The ``gpp`` field of the API's answers, webhooks and receipts."""
        return {"string": self.string, "applicable_sections": list(self.applicable_sections)}


def limit_sensitive_link(region: str | None, settings: GppSettings) -> bool:
    """The banner offers "Limit the use of my sensitive personal information": the site uses such data
    and the visitor's state gives the right to limit it."""
    preset = regions.preset_for(region)
    return bool(settings.uses_sensitive_data and preset and preset.limit_sensitive_right)


def sections_for(region: str | None) -> tuple[Layout, ...]:
    """The US sections that apply to a visitor in ``region`` (none outside the US)."""
    if regions.country_of(region) != "US":
        return ()
    preset = regions.preset_for(region)
    state = LAYOUTS.get(preset.gpp_section) if preset and preset.gpp_section else None
    return (LAYOUTS[US_NATIONAL],) + ((state,) if state else ())


def encode(region: str | None, outcome: decisions.Outcome, signals: decisions.Signals,
           settings: GppSettings = GppSettings()) -> GppString:
    """The GPP string for one visitor: the header and each applicable US section."""
    layouts = sections_for(region)
    values = _values(outcome, settings)
    if limit_sensitive_link(region, settings):
        values["SensitiveDataLimitUseNotice"] = YES
    sections = {}
    encoded = []
    for layout in layouts:
        version, *rest = layout.core
        fields = {version.name: layout.version, **{field.name: _value(field, values) for field in rest}}
        segments = [_segment([(fields[f.name], f) for f in layout.core])]
        if layout.gpc:
            fields["GpcSegmentType"] = 1
            fields["Gpc"] = signals.gpc
            segments.append(_segment([(1, Field("GpcSegmentType", 2)), (int(signals.gpc), Field("Gpc", 1))]))
        if layout.sensitive_segment:
            sensitive = Field("SensitiveDataProcessing", 2, layout.sensitive_segment)
            fields[sensitive.name] = _value(sensitive, values)
            segments.append(_segment([(fields[sensitive.name], sensitive)]))
        sections[layout.name] = fields
        encoded.append(".".join(segments))
    ids = tuple(layout.id for layout in layouts)
    header = _segment([(HEADER_ID, Field("Type", 6)), (HEADER_VERSION, Field("Version", 6))], _fibonacci_range(ids))
    return GppString("~".join([header, *encoded]), ids, ids or NO_SECTION_APPLIES, sections)


def answer(region: str | None, outcome: decisions.Outcome, signals: decisions.Signals,
           settings: GppSettings = GppSettings()) -> dict:
    """``encode(...).as_answer()``, remembered: the lookup asks on every page view.

    The string depends on nothing but the region, the two decisions
    :func:`_values` reads (advertising; ad personalization), GPC and the
    settings, so it is kept per those (a few hundred microseconds to make for
    a US state; ``tests/unit/test_gpp.py`` checks it equals ``encode``).
    """
    advertising = outcome.purposes.get(decisions.ADVERTISING)
    string, sections = _answer(region, bool(advertising and advertising.granted), outcome.ad_personalization.granted,
                               signals.gpc, settings)
    return {"string": string, "applicable_sections": list(sections)}


@lru_cache(maxsize=4096)
def _answer(region, sold: bool, tailored: bool, gpc: bool, settings: GppSettings) -> tuple[str, tuple[int, ...]]:
    outcome = decisions.Outcome(
        purposes={decisions.ADVERTISING: decisions.Decision(sold, decisions.CHOICE)},
        ad_personalization=decisions.Decision(tailored, decisions.CHOICE), needs_choice=False)
    encoded = encode(region, outcome, decisions.Signals(gpc=gpc), settings)
    return encoded.string, encoded.applicable_sections


def _values(outcome: decisions.Outcome, settings: GppSettings) -> dict[str, int]:
    advertising = outcome.purposes.get(decisions.ADVERTISING)
    sale = DID_NOT_OPT_OUT if advertising and advertising.granted else OPTED_OUT
    tailored = DID_NOT_OPT_OUT if outcome.ad_personalization.granted else OPTED_OUT

    def told(flag: bool) -> int:
        return YES if flag else NO

    covered = settings.mspa_covered_transaction
    mode = settings.mspa_mode
    return {
        "SharingNotice": told(settings.sharing_notice),
        "ProcessingNotice": told(settings.sharing_notice),
        "SaleOptOutNotice": told(settings.sale_opt_out_notice),
        "SharingOptOutNotice": told(settings.sharing_opt_out_notice),
        "TargetedAdvertisingOptOutNotice": told(settings.targeted_advertising_opt_out_notice),
        "SaleOptOut": sale,
        "SharingOptOut": tailored,
        "TargetedAdvertisingOptOut": tailored,
        "MspaCoveredTransaction": YES if covered else NO,
        "MspaOptOutOptionMode": (YES if mode == OPT_OUT_OPTION_MODE else NO) if covered else NOT_APPLICABLE,
        "MspaServiceProviderMode": (YES if mode == SERVICE_PROVIDER_MODE else NO) if covered else NOT_APPLICABLE,
        # The 2025 sections' single field: 1 opt-out option mode, 2 service provider mode (see docs/us-states.md).
        "MspaMode": MSPA_MODES.index(mode) + 1 if covered else NOT_APPLICABLE,
    }


def _value(field: Field, values: dict[str, int]):
    if field.count is not None:
        return [NOT_APPLICABLE] * field.count  # sensitive data and known-child consents: no choice recorded
    return values.get(field.name, NOT_APPLICABLE)


def _segment(fields, tail: str = "") -> str:
    bits = "".join(_bits(value, field) for value, field in fields) + tail
    bits += "0" * (-len(bits) % 8)
    bits += "0" * (-len(bits) % 6)
    return "".join(BASE64URL[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6))


def _bits(value, field: Field) -> str:
    if field.count is not None:
        return "".join(_bits(v, Field(field.name, field.bits)) for v in value)
    if not 0 <= value < 1 << field.bits:
        raise ValueError(f"{field.name}={value} does not fit in {field.bits} bits")
    return format(value, f"0{field.bits}b")


def _fibonacci(value: int) -> str:
    """Fibonacci coding (Zeckendorf bits, lowest first, then a closing 1) of a positive integer."""
    fib = [1, 2]
    while fib[-1] + fib[-2] <= value:
        fib.append(fib[-1] + fib[-2])
    bits = []
    for f in reversed(fib):
        if f <= value:
            bits.append("1")
            value -= f
        else:
            bits.append("0")
    code = "".join(reversed(bits)).rstrip("0")
    return code + "1"


def _fibonacci_range(ids: tuple[int, ...]) -> str:
    """The header's section ids: a 12-bit count of runs, then each run as Fibonacci-coded offsets."""
    runs: list[list[int]] = []
    for section_id in sorted(ids):
        if runs and runs[-1][-1] + 1 == section_id:
            runs[-1].append(section_id)
        else:
            runs.append([section_id])
    bits, offset = format(len(runs), "012b"), 0
    for run in runs:
        if len(run) == 1:
            bits += "0" + _fibonacci(run[0] - offset)
        else:
            bits += "1" + _fibonacci(run[0] - offset) + _fibonacci(run[-1] - run[0])
        offset = run[-1]
    return bits
