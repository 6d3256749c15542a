"""The admin's forms for a site's settings: real fields instead of JSON.

The model keeps its JSON columns and its own validation (``Site.clean``
says what is wrong with an origin, a country or a language); these fields
only turn what a person types (one origin per line, a checkbox per language,
a row per country or per language) into those values and back.
"""
from django import forms
from django.conf import settings

from . import decisions, regions, theme
from .models import LANGUAGE_RE, PolicyVersion, Purpose, Site

COLOUR_FIELDS = [*theme.LIGHT, *theme.DARK]
# The banner's look: the choices travel in the site's embed script (banner/config.py).
THEME_FIELDS = ["theme_position", "theme_mode", *COLOUR_FIELDS, "theme_font", "theme_radius", "theme_logo_url"]


class LinesField(forms.CharField):
    """A list of values, one per line (blank lines ignored); ``normalize`` tidies each."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def __init__(self, normalize=str.strip, **kwargs):
        self.normalize = normalize
        super().__init__(required=False, strip=False, **kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        return [self.normalize(line) for line in (value or "").splitlines() if line.strip()]


def normalize_origin(line: str) -> str:
    # What a browser sends as Origin: lower case, no trailing slash.
    return line.strip().rstrip("/").lower()


class RowsWidget(forms.Widget):
    """A table with one row of inputs per item; ``columns`` maps a column to (label, kind).

    Inputs are named ``<field>__<row>__<column>``, so the rows posted are all
    read back, whichever the table showed.
    """

    template_name = "consent/widgets/rows.html"
    row_header = ""  # the first column's heading, when rows have labels

    def __init__(self, columns: dict, attrs=None):
        super().__init__(attrs)
        self.columns = columns

    def value_from_datadict(self, data, files, name):
        rows: dict[str, dict] = {}
        for key in data:
            prefix, _, rest = key.partition("__")
            row, _, column = rest.rpartition("__")
            if prefix == name and row and column in self.columns:
                rows.setdefault(row, {})[column] = data.get(key, "").strip()
        return rows

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        rows = []
        for row, label, cells in self.rows(value or {}):
            inputs = [
                {"name": f"{name}__{row}__{key}", "kind": kind, "choices": self.choices_for(key),
                 "value": (cells or {}).get(key, ""), "label": f"{column}, {label}" if label else column}
                for key, (column, kind) in self.columns.items()
            ]
            rows.append((label, inputs))
        context.update(row_header=self.row_header, headings=[label for label, _ in self.columns.values()], rows=rows)
        return context

    def rows(self, value):
        """(row id, row label, cells) to show."""
        raise NotImplementedError

    def choices_for(self, column):
        return None


class PerLanguageWidget(RowsWidget):
    """One row per language: the site's languages, then any other with text already."""

    row_header = "Language"
    languages: list[str] = []

    def rows(self, value):
        names = dict(settings.LANGUAGES)
        codes = list(dict.fromkeys([*self.languages, *value]))
        return [(code, f"{names.get(code, code)} ({code})", value.get(code)) for code in codes]


class PerLanguageField(forms.Field):
    """``{language: {column: text}}``, keeping only the texts given."""

    def __init__(self, columns: dict, **kwargs):
        super().__init__(widget=PerLanguageWidget(columns), required=False, **kwargs)

    def to_python(self, value):
        texts = {}
        for language, cells in (value or {}).items():
            given = {key: text for key, text in cells.items() if isinstance(text, str) and text.strip()}
            if not given:
                continue
            if not LANGUAGE_RE.match(language):
                raise forms.ValidationError(f"{language!r} is not a language code like en or pt-BR.")
            texts[language] = given
        return texts


class OverridesWidget(RowsWidget):
    """One row per country overridden, and a few empty rows to add more."""

    EMPTY_ROWS = 3

    def rows(self, value):
        if isinstance(value, dict):  # the saved overrides
            value = {str(i): {"country": c, "regime": r} for i, (c, r) in enumerate(sorted(value.items()))}
        filled = [(row, "", cells) for row, cells in value.items()]
        return filled + [(f"new{i}", "", {}) for i in range(self.EMPTY_ROWS)]

    def choices_for(self, column):
        return [("", "—"), *Site._meta.get_field("default_regime").choices] if column == "regime" else None


class RegimeOverridesField(forms.Field):
    """Country or region code to regime; a row needs both, and a place appears once."""

    def __init__(self, **kwargs):
        columns = {"country": ("Country or region (ISO code, e.g. FR or US-CA)", "text"), "regime": ("Regime", "select")}
        super().__init__(widget=OverridesWidget(columns), required=False, **kwargs)

    def to_python(self, value):
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return value  # already the saved mapping
        overrides = {}
        for cells in (value or {}).values():
            country, regime = cells.get("country", "").strip().upper(), cells.get("regime", "")
            if not country and not regime:
                continue
            if not country or regime not in decisions.REGIMES:
                raise forms.ValidationError(f"Give both a country or region code and a regime (row {country or '?'}).")
            problem = regions.override_key_problem(country)
            if problem:
                raise forms.ValidationError(problem)
            if country in overrides:
                raise forms.ValidationError(f"{country} is listed twice.")
            overrides[country] = regime
        return overrides


def language_choices(current=()):
    """The banner's languages (``settings.LANGUAGES``), and any other the site already has."""
    known = dict(settings.LANGUAGES)
    return [*known.items(), *((code, code) for code in current if code not in known)]


class SiteForm(forms.ModelForm):
    """A site's settings; the model's ``clean`` checks each value and says what is wrong."""

    allowed_origins = LinesField(
        normalize=normalize_origin, label="Allowed origins",
        help_text="One per line, e.g. https://shop.example.com: the pages that may show the banner and call the API.",
    )
    ga_measurement_ids = LinesField(label="Google measurement ids", help_text="One per line, e.g. G-ABC123XYZ.")
    # Help texts are HTML in Django's forms: angle brackets are written as entities.
    languages = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, required=False,
        help_text="The languages the banner speaks on this site (the page's &lt;html lang&gt; picks one).",
    )
    default_language = forms.ChoiceField(help_text="For visitors whose language the site does not offer.")
    regime_overrides = RegimeOverridesField(
        label="Regime by country or region",
        help_text="Countries (FR) or regions below them (US-CA) whose visitors get another regime than the default; "
                  "a region wins over its country, and a country over the US state presets.",
    )
    banner_texts = PerLanguageField(
        {"title": ("Title", "text"), "description": ("Description", "textarea")},
        label="Banner texts",
        help_text="Per language; leave empty for the built-in text. Tick a language above and save to add its row.",
    )

    theme_logo_url = forms.URLField(
        label="Logo URL", max_length=500, required=False, assume_scheme="https",
        help_text=Site._meta.get_field("theme_logo_url").help_text,
    )

    class Meta:
        model = Site
        fields = ["key", "name", "allowed_origins", "languages", "default_language", "default_regime",
                  "regime_overrides", "consent_lifetime_days", "honor_dnt", "ga_measurement_ids", "banner_texts",
                  "retention_days", "sells_or_shares", "uses_sensitive_data", "gpp_sharing_notice", "gpp_opt_out_notice",
                  "mspa_covered_transaction", "mspa_mode", "group", "cookie_domain", *THEME_FIELDS]
        widgets = {field: forms.TextInput(attrs={"type": "color"}) for field in COLOUR_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.languages or []
        choices = language_choices(current)
        self.fields["languages"].choices = choices
        self.fields["default_language"].choices = choices
        self.initial.setdefault("languages", current or [settings.LANGUAGE_CODE])
        self.initial.setdefault("default_language", current[0] if current else settings.LANGUAGE_CODE)
        if "banner_texts" in self.fields:
            self.fields["banner_texts"].widget.languages = current

    def clean(self):
        cleaned = super().clean()
        default = cleaned.get("default_language")
        if default:
            # The model keeps the default first.
            cleaned["languages"] = [default, *(c for c in cleaned.get("languages", []) if c != default)]
        if "banner_texts" in cleaned:
            # Keep any other text a language has (interface strings a site overrides).
            saved = self.instance.banner_texts or {}
            cleaned["banner_texts"] = {
                language: {**{k: v for k, v in saved.get(language, {}).items() if k not in ("title", "description")},
                           **texts}
                for language, texts in cleaned["banner_texts"].items()
            }
        return cleaned


class NewSiteForm(SiteForm):
    """What a site needs to start: its first policy version's URL besides its settings."""

    policy_url = forms.URLField(
        label="Privacy policy URL", max_length=500, assume_scheme="https",
        help_text="Recorded as policy version 1, in force from now. Publish later versions under Policy versions.",
    )

    class Meta(SiteForm.Meta):
        fields = ["key", "name", "allowed_origins", "languages", "default_language", "default_regime",
                  "consent_lifetime_days"]


class PurposeForm(forms.ModelForm):
    """A purpose, with its name and description per language in one table."""

    texts = PerLanguageField(
        {"name": ("Name", "text"), "description": ("Description", "textarea")},
        label="Name and description", help_text="Per language of the site.",
    )

    class Meta:
        model = Purpose
        fields = ["key", "essential", "sale_or_sharing", "position"]

    def __init__(self, *args, languages=(), **kwargs):
        super().__init__(*args, **kwargs)
        names, descriptions = self.instance.names or {}, self.instance.descriptions or {}
        self.initial.setdefault("texts", {
            language: {"name": names.get(language, ""), "description": descriptions.get(language, "")}
            for language in dict.fromkeys([*names, *descriptions])
        })
        self.fields["texts"].widget.languages = list(languages)

    def clean(self):
        cleaned = super().clean()
        texts = cleaned.get("texts", {})
        self.instance.names = {lang: t["name"] for lang, t in texts.items() if t.get("name")}
        self.instance.descriptions = {lang: t["description"] for lang, t in texts.items() if t.get("description")}
        return cleaned


class PolicyVersionForm(forms.ModelForm):
    """A policy version in the site's page: frozen once in force (the model refuses any change too)."""

    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")  # a policy page typed without its scheme

    class Meta:
        model = PolicyVersion
        fields = ["version", "url", "effective_at", "material"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.in_force():
            for name in PolicyVersion.FROZEN:
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "In force: frozen. Publish a new version to change it."

    def clean(self):
        cleaned = super().clean()
        # A frozen field is shown, not posted: keep it as stored. Django's initial value drops the microseconds
        # of a version made now (its widget shows whole seconds), which the model would refuse as a change.
        for name, field in self.fields.items():
            if field.disabled:
                cleaned[name] = getattr(self.instance, name)
        return cleaned


class PolicyVersionFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and form.instance.named_by_events():
                raise forms.ValidationError(
                    f"Policy version {form.instance.version} cannot be deleted: consent events name it.")

