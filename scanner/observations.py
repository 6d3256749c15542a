"""What one pass over one page saw, as plain records (no browser needed to read them)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """A cookie, a storage key, or a request to another site, as a pass saw it."""

    kind: str               # scanner.kinds: cookie, local_storage, session_storage, request
    name: str               # cookie name, storage key, or the host requested
    domain: str             # cookie domain, the storing frame's host, or the host requested
    first_party: bool
    set_by: str = ""        # the response or script that set it ("inline script in <page>" for inline code)
    lifetime_seconds: int | None = None
    secure: bool | None = None
    same_site: str = ""
    http_only: bool | None = None
    resource_type: str = ""
    initiator: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.name, self.domain


@dataclass
class PagePass:
    """One of the three passes over one page."""

    page: str
    phase: str              # scanner.kinds: before, reject, accept
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # what went wrong: no banner, a load error, truncation
