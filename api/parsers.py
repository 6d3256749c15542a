"""A JSON parser that refuses oversized bodies and also reads ``text/plain``.

DRF reads the request stream directly, so Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` never sees the body; this parser applies it.
``text/plain`` is accepted because a cross-origin POST with that type needs
no CORS preflight, which saves the banner a round trip.
"""
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from .errors import PayloadTooLarge


class LimitedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(limit)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"The body is not valid UTF-8 JSON: {exc}") from None


class PlainTextJSONParser(LimitedJSONParser):
    media_type = "text/plain"
