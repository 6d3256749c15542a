"""Compressed answers: brotli where the client asks for it, else gzip (Django's GZipMiddleware).

It sits just below the fast path (``cmp/fastpath.py``), so the
lookup, a few hundred bytes on the hot path, never passes through it; the
banner script ``/c/<site>.js``, the config API and the HTML pages do. Static
files are compressed ahead of time by WhiteNoise.

BREACH: compressing a body that holds a secret next to text an attacker can
put in it (a reflected query) lets the attacker guess the secret from sizes
seen on the wire. So nothing meant for one person is compressed: answers
marked ``Cache-Control: private`` or ``no-store``, which every admin page
(Django's ``never_cache``), consent write (its token) and receipt carries.
What remains holds no secret but Django's CSRF token, which is masked with
fresh random bytes on every response and so cannot be guessed this way;
gzip also pads each answer with a random length (Django's ``max_random_bytes``).
"""
import brotli
from django.middleware.gzip import GZipMiddleware
from django.utils.cache import patch_vary_headers

MIN_BYTES = 200  # as GZipMiddleware: below this, compressing saves nothing worth the work
PRIVATE = ("private", "no-store")


def accepts(request, coding: str) -> bool:
    """Does Accept-Encoding list ``coding`` with a non-zero weight?"""
    for item in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() == coding:
            weight = params.strip().removeprefix("q=").strip()
            return not weight or _weight(weight) > 0
    return False


def _weight(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


class CompressionMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        cache_control = response.get("Cache-Control", "").lower()
        if any(word in cache_control for word in PRIVATE):
            return response
        if response.streaming or not accepts(request, "br"):
            return super().process_response(request, response)
        if len(response.content) < MIN_BYTES or response.has_header("Content-Encoding"):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        compressed = brotli.compress(response.content, quality=5)  # near gzip's cost, smaller output
        if len(compressed) >= len(response.content):
            return response
        response.content = compressed
        response.headers["Content-Length"] = str(len(compressed))
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag  # another representation (RFC 9110 8.8.1)
        response.headers["Content-Encoding"] = "br"
        return response
