"""The one JSON parser of the API: strict I-JSON (RFC 7493), size-limited, also read as ``text/plain``.

DRF reads the request stream directly, so Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` never sees the body; this parser applies it.
``text/plain`` is accepted because a cross-origin POST with that type needs
no CORS preflight, which saves the banner a round trip; it also means any
web page can send any body, so the parser refuses, with a 400
``malformed_json`` that says why, everything beyond what the API needs:

- nesting deeper than :data:`MAX_DEPTH` (checked on the text, before
  Python's recursive decoder could run out of stack);
- numbers a double does not hold exactly (integers beyond 2**53, floats that
  overflow), and ``NaN`` / ``Infinity``;
- NUL characters and lone surrogates, in keys or values;
- duplicate keys in one object (which one counts differs between parsers).

Every view that parses a body lists these parsers
(``tests/api/test_strict_json.py`` walks the URL conf to check it).
"""
import json
import math
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from .errors import PayloadTooLarge

MAX_DEPTH = 16  # a consent write nests 2 deep
MAX_SAFE_INTEGER = 2**53
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)
_FORBIDDEN_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class LimitedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(limit)
        return self.loads(raw)

    @staticmethod
    def loads(raw: bytes):
        """The value of ``raw``, or :class:`ParseError` saying why it is not strict I-JSON."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not valid UTF-8 JSON: {exc}") from None
        _check_depth(text)
        try:
            value = json.loads(text, object_pairs_hook=_object, parse_int=_integer, parse_float=_float,
                               parse_constant=_constant)
        except ValueError as exc:
            raise ParseError(f"The body is not valid UTF-8 JSON: {exc}") from None
        if "\\u" in text:  # only an escape can make a NUL or a lone surrogate that strict UTF-8 JSON let through
            _check_strings(value)
        return value


class PlainTextJSONParser(LimitedJSONParser):
    media_type = "text/plain"


def _check_depth(text: str) -> None:
    brackets = _STRINGS.sub("", text)
    if brackets.count("[") + brackets.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for character in brackets:
        if character in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"The body nests arrays or objects deeper than {MAX_DEPTH} levels.")
        elif character in "]}":
            depth -= 1


def _object(pairs):
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ParseError(f"The body has a duplicate key {_shown(duplicate)} in one object.")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise ParseError(f"The body has a number beyond ±2**53, which JSON cannot carry exactly: {text[:40]}.")
    return int(text)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ParseError(f"The body has a number too large for a double: {text[:40]}.")
    return number


def _constant(name: str):
    raise ParseError(f"The body has {name}, which is not JSON.")


def _check_strings(value) -> None:
    strings = value.items() if isinstance(value, dict) else value if isinstance(value, list) else None
    if strings is None:
        if isinstance(value, str):
            _check_string(value)
        return
    for item in strings:
        if isinstance(item, tuple):
            _check_string(item[0])
            _check_strings(item[1])
        else:
            _check_strings(item)


def _check_string(text: str) -> None:
    found = _FORBIDDEN_CHARACTER.search(text)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
        raise ParseError(f"The body has {what} in the string {_shown(text)}.")


def _shown(text: str) -> str:
    return json.dumps(text[:40], ensure_ascii=True)
