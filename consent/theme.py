"""A site's banner theme: what the owner may choose, and the contrast it must keep.

Colours are checked against WCAG 2.2 level AA at save (``Site.clean``): text
and links need a contrast of 4.5:1 with what is behind them, for the light
palette and, when the site shows dark mode (``dark`` or ``auto``), for the
dark one. Pure functions: no Django, no database.
"""
from __future__ import annotations

import re

HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
# A CSS font-family list: names, quoted or not, separated by commas. Nothing else reaches the stylesheet.
FONT_RE = re.compile(r"""^[A-Za-z0-9 ,'"-]{1,200}$""")
AA_TEXT = 4.5

POSITIONS = [("bar", "Bottom bar"), ("box", "Corner box"), ("modal", "Centred modal")]
MODES = [("light", "Light"), ("dark", "Dark"), ("auto", "Follow the visitor's system (light or dark)")]
MAX_RADIUS = 24

# (field, default): the platform's own look, which passes every check below.
LIGHT = {"theme_background": "#ffffff", "theme_text": "#1a1a1a", "theme_accent": "#1f3f99", "theme_accent_text": "#ffffff"}
DARK = {"theme_dark_background": "#1c1c1e", "theme_dark_text": "#f2f2f2", "theme_dark_accent": "#9db7ff",
        "theme_dark_accent_text": "#0d1b3f"}

# (what is read, on what, the field an error names, how to say it)
PAIRS = [
    ("text", "background", "text", "Text {fg} on the background {bg}"),
    ("accent", "background", "accent", "The brand colour {fg} (links, focus, button borders) on the background {bg}"),
    ("accent_text", "accent", "accent_text", "Button text {fg} on the brand colour {bg}"),
]


def luminance(colour: str) -> float:
    """Relative luminance of ``#rrggbb`` (WCAG 2.2, definition of relative luminance)."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def contrast_errors(palette: dict, prefix: str, label: str) -> dict[str, str]:
    """``{field: message}`` for each pair of ``palette`` (``{"text": "#…", …}``) below AA."""
    errors = {}
    for fg, bg, field, what in PAIRS:
        ratio = contrast(palette[fg], palette[bg])
        if ratio < AA_TEXT:
            errors[prefix + field] = (
                f"{label}: {what.format(fg=palette[fg], bg=palette[bg])} has a contrast of {ratio:.2f}:1; "
                f"WCAG AA needs at least {AA_TEXT}:1. Choose a darker or lighter colour.")
    return errors
