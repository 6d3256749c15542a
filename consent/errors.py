"""What the domain refuses, and why: errors that carry a code and a sentence, never an HTTP status.

Services raise these; the HTTP API maps each kind to a response in one table
(``api/errors.py``). ``code`` is the stable machine-readable name clients
branch on (``unknown_purpose``, ``bad_token``…); ``detail`` tells a person
what is wrong.
"""


class DomainError(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


class Invalid(DomainError):
    """The request names something that does not fit (an unknown purpose, a policy the site lacks)."""


class NotFound(DomainError):
    """What the request is about does not exist (an unknown site, no receipt yet)."""


class Forbidden(DomainError):
    """The caller cannot prove it may do this (no token, someone else's token or key)."""


class RateLimited(DomainError):
    """Too many requests from this client in the current window."""

    def __init__(self, retry_after: int, detail: str | None = None):
        super().__init__("rate_limited", detail or f"Too many requests; retry after {retry_after} s.")
        self.retry_after = retry_after
