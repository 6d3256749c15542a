"""Holding trackers in the markup itself, before a browser sees it: what a site's server (or its build) does
so that not even the browser's preload scanner requests them.

The banner holds what nobody tagged as the parser adds it, but Chromium's
preload scanner reads ahead of the parser and requests every ``<script src>``
and ``<img src>`` in the markup while the banner's own script loads: the
script is then kept from running, yet its request (for a pixel, the whole
hit) has left. :func:`hold_markup` makes the same change the banner makes
(``banner_static/src/gating.js``, ``hold``) in the page's HTML instead, so
there is nothing to request: a script of a held host becomes
``type="text/plain"``, an iframe's or image's ``src`` becomes ``data-src`` (an
image's ``srcset``, and a ``<picture>``'s ``<source srcset>``, ``data-srcset``),
and each gets ``data-cmp-purpose``; a
``<link>`` that would fetch it ahead (``preload``, ``prefetch``,
``modulepreload``) keeps its ``rel`` as ``data-cmp-rel`` only. The banner then releases them, in document
order, once their purpose is granted, as it does for tags marked by hand.

The page comes out the same for every visitor (consent is not read here), so
it may be cached like any page. Pure: no Django, so any Python server can run
it with the ``hosts`` and ``essential`` of ``GET /api/v1/sites/{site}/trackers``.
"""
import re
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from .catalogue import covering

HELD = {"script", "iframe", "img", "source", "link"}
# Link types that request their href at once: a held one is kept as data-cmp-rel (the banner releases the
# element the hint was for, and a hint comes too late by then anyway).
REQUESTING_LINKS = {"preload", "prefetch", "modulepreload"}
# An image's (or a picture source's) attributes that request: srcset would load a candidate though src is held.
IMAGE_SOURCES = {"src": "data-src", "srcset": "data-srcset"}
# Elements whose content a browser reads as text: a tag-like string in them is not an element.
TEXT_ONLY = {"textarea", "title", "noembed", "noframes", "xmp"}


def hold_markup(html: str, hosts: dict[str, list[str]], essential: list[str] = ()) -> str:
    """``html`` with every untagged script, iframe, image and ``<picture>`` source whose ``src`` host (else
    its ``srcset``'s first candidate's) is under a purpose of ``hosts`` (purpose -> hosts, each covering its
    subdomains) held for that purpose; all other bytes unchanged. A ``<source>`` of a video or an audio is left:
    its media element chose its source already, and would not choose again once it was released.

    ``hosts`` and ``essential`` are those of the tracker rules; an ``essential`` host is never held, though a
    host listed under a purpose covers it (the most specific listing wins).
    """
    purpose_of = {host.lower(): purpose for purpose, listed in hosts.items() for host in listed}
    purpose_of.update((host.lower(), "") for host in essential)
    if not any(purpose_of.values()):
        return html
    finder = _HeldTags(purpose_of)
    finder.feed(html)
    finder.close()
    # The offset at which each line starts, for the parser's (line, column) positions.
    lines = [0, *(newline.end() for newline in re.finditer("\n", html))]
    out, done = [], 0
    for (line, column), original, replacement in finder.found:
        start = lines[line - 1] + column
        out += [html[done:start], replacement]
        done = start + len(original)
    return "".join(out) + html[done:]


def held_purpose(url: str, purpose_of: dict[str, str]) -> str:
    """The purpose whose listed host covers ``url``'s host (the most specific listing wins); '' if none."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    listed = covering(host, purpose_of)
    return purpose_of[listed] if listed else ""


def _first_candidate(srcset: str | None) -> str:
    """The URL of a ``srcset``'s first candidate (a URL never holds whitespace; its descriptor follows one)."""
    candidates = (srcset or "").split(maxsplit=1)
    return candidates[0] if candidates else ""


class _HeldTags(HTMLParser):
    """Finds the start tags to hold: ``found`` lists (position, original text, held text)."""

    def __init__(self, purpose_of):
        super().__init__(convert_charrefs=True)
        self.purpose_of, self.found, self.text_only, self.pictures = purpose_of, [], None, 0

    def handle_starttag(self, tag, attrs):
        if self.text_only:
            return
        if tag in TEXT_ONLY:
            self.text_only = tag
        if tag == "picture":
            self.pictures += 1  # a source in one chooses an image; elsewhere, a video's or an audio's media
        attributes = dict(attrs)
        url = attributes.get("href") if tag == "link" else attributes.get("src") or _first_candidate(attributes.get("srcset"))
        if tag not in HELD or "data-cmp-purpose" in attributes or not url or (tag == "source" and not self.pictures):
            return
        if tag == "link" and not REQUESTING_LINKS & set((attributes.get("rel") or "").lower().split()):
            return
        purpose = held_purpose(url, self.purpose_of)
        if not purpose:
            return
        original = self.get_starttag_text()
        if tag == "script":
            held = [(name, value) for name, value in attrs if name != "type"] + [("type", "text/plain")]
        elif tag == "link":
            held = [("data-cmp-rel" if name == "rel" else name, value) for name, value in attrs]
        else:
            held = [(IMAGE_SOURCES.get(name, name), value) for name, value in attrs
                    if name not in IMAGE_SOURCES.values()]
        held.append(("data-cmp-purpose", purpose))
        text = "".join(f" {name}" if value is None else f' {name}="{escape(value)}"' for name, value in held)
        self.found.append((self.getpos(), original, f"<{tag}{text}{'/>' if original.endswith('/>') else '>'}"))

    def handle_endtag(self, tag):
        if tag == self.text_only:
            self.text_only = None
        if tag == "picture" and self.pictures:
            self.pictures -= 1
