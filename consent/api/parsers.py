"""A JSON parser that refuses oversized bodies and also reads ``text/plain``.

DRF reads the request stream directly, so Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` never sees the body; this parser applies it.
``text/plain`` is accepted because a cross-origin POST with that type needs
no CORS preflight, which saves the banner a round trip.
"""
import json

from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
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


PARSERS = {parser.media_type: parser() for parser in (LimitedJSONParser, PlainTextJSONParser)}


def json_body(request):
    """The body of a plain Django ``request``, read as REST framework reads it with the parsers above.

    No body reads as ``{}`` (the validation then names the missing fields);
    a media type other than theirs is a 415.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if not length:
        return {}
    parser = PARSERS.get(request.content_type)
    if parser is None:
        raise UnsupportedMediaType(request.META.get("CONTENT_TYPE", ""))
    return parser.parse(request)
