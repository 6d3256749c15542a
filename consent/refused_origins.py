"""Origins refused by a site's CORS check recently, for the owner to see and allow in the admin.

A page on an origin missing from the site's ``allowed_origins`` gets no
banner, and only the browser's console says why. ``api/cors.py`` notes each
refusal here. Noting is bounded and cheap: at most once a minute per site and
origin in each process (otherwise a dict lookup), only strings shaped like an
origin, and the cache keeps the :data:`KEPT` most recent per site for a week.
An allowed request never reaches this module.
"""
import logging
import time

from django.core.cache import cache

from .models import ORIGIN_RE

logger = logging.getLogger(__name__)
KEPT = 10
KEEP_SECONDS = 7 * 24 * 3600
NOTE_EVERY_SECONDS = 60
MAX_NOTED = 4096

# (site key, origin) -> when this process last noted it (monotonic seconds).
_noted: dict[tuple[str, str], float] = {}


def note_refused(site_key: str, origin: str) -> None:
    """Remember that ``origin`` was refused by ``site_key``; never raises."""
    now = time.monotonic()
    last = _noted.get((site_key, origin))
    if (last is not None and now - last < NOTE_EVERY_SECONDS) or not ORIGIN_RE.match(origin):
        return
    if len(_noted) >= MAX_NOTED:
        _noted.clear()  # many origins refused: start over rather than grow
    _noted[(site_key, origin)] = now
    try:
        seen = cache.get(_key(site_key)) or {}
        seen[origin] = time.time()
        newest = sorted(seen.items(), key=lambda item: -item[1])[:KEPT]
        cache.set(_key(site_key), dict(newest), KEEP_SECONDS)
    except Exception:  # a diagnostic must never fail the request it watches
        logger.warning("Could not note the refused origin %s of site %s", origin, site_key, exc_info=True)


def refused_recently(site_key: str, allowed=()) -> list[tuple[str, float]]:
    """(origin, Unix time last refused), newest first, leaving out those allowed since."""
    try:
        seen = cache.get(_key(site_key)) or {}
    except Exception:
        logger.warning("Could not read the refused origins of site %s", site_key, exc_info=True)
        return []
    return sorted(((o, t) for o, t in seen.items() if o not in allowed), key=lambda item: -item[1])


def _key(site_key: str) -> str:
    return f"refused-origins:{site_key}"
