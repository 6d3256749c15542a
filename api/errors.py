"""One error shape for the whole HTTP API: ``{"error": code, "detail": message}``.

Every failure a client can cause is a 4xx that says what is wrong; failures of
our own storage are a 503 (the caller should fail closed and retry); nothing
becomes a stack trace. Services raise domain errors (``consent/errors.py``)
with a code and a sentence; :data:`STATUS` below is the one place that says
which HTTP status each kind becomes. REST framework's views reach it through
:func:`exception_handler`, the lean lookup through :func:`error_response`.
"""
import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from consent import errors

logger = logging.getLogger(__name__)

# Domain errors -> HTTP status.
STATUS = {
    errors.Invalid: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.RateLimited: 429,
}

# REST framework's own errors -> our codes.
CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "rate_limited",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
}

UNAVAILABLE = "Consent storage is unavailable; treat every optional purpose as denied and retry later."


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"

    def __init__(self, limit: int):
        super().__init__(f"The request body is larger than {limit} bytes.")


CODES[PayloadTooLarge] = "payload_too_large"


def error_body(code: str, detail: str, **extra) -> dict:
    return {"error": code, "detail": detail, **extra}


def exception_handler(exc, context):
    """REST framework's hook: our error shape for every API error (None: not ours, let it raise)."""
    error = _error(exc)
    if error is None:
        return None
    status, body, headers = error
    return Response(body, status=status, headers=headers)


def error_response(exc) -> JsonResponse | None:
    """The same answer for views that skip REST framework (None: not an API error, let it raise)."""
    error = _error(exc)
    if error is None:
        return None
    status, body, headers = error
    return JsonResponse(body, status=status, headers=headers, json_dumps_params={"separators": (",", ":")})


def json_error(status: int, code: str, detail: str) -> JsonResponse:
    """The shape for answers made outside REST framework (the NAI endpoints, 404/500 handlers)."""
    return JsonResponse(error_body(code, detail), status=status)


def _error(exc) -> tuple[int, dict, dict | None] | None:
    """(status, body, headers) for an exception a client or our storage caused; None for the rest."""
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            retry = getattr(exc, "retry_after", None)
            return status, error_body(exc.code, exc.detail), {"Retry-After": str(retry)} if retry else None
    if isinstance(exc, exceptions.ValidationError):
        return 400, error_body("invalid_request", _summarise(exc.detail), fields=exc.detail), None
    if isinstance(exc, exceptions.APIException):
        headers = {"Retry-After": str(int(exc.wait))} if getattr(exc, "wait", None) else None
        code = CODES.get(type(exc), exc.default_code)
        return exc.status_code, error_body(code, _plain(exc.detail)), headers
    if isinstance(exc, Http404):  # REST framework's own 404s (an unknown ?format=, say)
        return 404, error_body("not_found", str(exc) or "Not found."), None
    if isinstance(exc, RequestDataTooBig):
        return 413, error_body("payload_too_large", "The request body is too large."), None
    if isinstance(exc, DatabaseError):
        logger.exception("Storage unavailable")
        return 503, error_body("unavailable", UNAVAILABLE), {"Retry-After": "5"}
    return None


def _summarise(detail, prefix="") -> str:
    """Flatten REST framework's nested errors into one readable sentence."""
    if isinstance(detail, dict):
        return "; ".join(_summarise(value, f"{prefix}{key}.") for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_summarise(item, prefix) for item in detail)
    return f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)


def _plain(detail) -> str:
    return detail if isinstance(detail, str) else _summarise(detail)


# --- The project's 404 and 500 handlers (cmp/urls.py): JSON under /api/, Django's pages elsewhere.

def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return json_error(404, "not_found", f"No API endpoint at {request.path[:200]}.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return json_error(500, "server_error", "Something went wrong on our side; treat optional purposes as denied.")
    return defaults.server_error(request)
