"""One error shape for the whole API: ``{"error": code, "detail": message}``.

Every failure a client can cause is a 4xx that says what is wrong; failures of
our own storage are a 503 (the caller should fail closed and retry); nothing
becomes a stack trace.
"""
import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code: ``raise ApiError(404, "unknown_site", "...")``."""

    def __init__(self, status_code: int, code: str, detail: str):
        self.status_code = status_code
        super().__init__(detail=detail, code=code)
        self.error_code = code


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, "payload_too_large", f"The request body is larger than {limit} bytes.")


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


def error_body(code: str, detail: str, **extra) -> dict:
    return {"error": code, "detail": detail, **extra}


def exception_handler(exc, context):
    """REST framework's hook: our error shape for every API error."""
    error = _error(exc)
    if error is None:
        return None
    status_code, body, headers = error
    return Response(body, status=status_code, headers=headers)


def error_response(exc) -> JsonResponse | None:
    """The same answer for views that skip REST framework (None: not an API error, let it raise)."""
    error = _error(exc)
    if error is None:
        return None
    status_code, body, headers = error
    return JsonResponse(body, status=status_code, headers=headers, json_dumps_params={"separators": (",", ":")})


def _error(exc) -> tuple[int, dict, dict | None] | None:
    """(status, body, headers) for an exception a client or our storage caused; None for the rest."""
    if isinstance(exc, ApiError):
        return exc.status_code, error_body(exc.error_code, str(exc.detail)), None
    if isinstance(exc, exceptions.ValidationError):
        return 400, error_body("invalid_request", _summarise(exc.detail), fields=exc.detail), None
    if isinstance(exc, exceptions.APIException):
        headers = {"Retry-After": str(int(exc.wait))} if getattr(exc, "wait", None) else None
        code = CODES.get(type(exc), exc.default_code)
        return exc.status_code, error_body(code, _plain(exc.detail)), headers
    if isinstance(exc, RequestDataTooBig):
        return 413, error_body("payload_too_large", "The request body is too large."), None
    if isinstance(exc, DatabaseError):
        logger.exception("Storage unavailable")
        return 503, error_body(
            "unavailable", "Consent storage is unavailable; treat every optional purpose as denied and retry later."
        ), {"Retry-After": "5"}
    return None


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    """The same shape for responses made outside DRF (404/500 handlers, plain views)."""
    return JsonResponse(error_body(code, detail), status=status_code)


def _summarise(detail, prefix="") -> str:
    """Flatten DRF's nested errors into one readable sentence."""
    if isinstance(detail, dict):
        parts = [_summarise(value, f"{prefix}{key}.") for key, value in detail.items()]
        return "; ".join(parts)
    if isinstance(detail, list):
        return "; ".join(_summarise(item, prefix) for item in detail)
    return f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)


def _plain(detail) -> str:
    return detail if isinstance(detail, str) else _summarise(detail)
