"""The right to delete: erase a browser's personal data, keep a non-personal tombstone."""
from django.db import transaction

from ..lookups import forget_visitors
from ..models import Visitor


def erase_for_request(request) -> str:
    """Erase the request's browser data if the request may; return what was done."""
    if not (request.visitor_token_verified and request.visitor_uuid):
        return "No browser data is linked to this request; nothing to erase."
    erased = erase_visitor(request.site, request.visitor_uuid, reason=f"data subject request {request.pk}")
    request.visitor_uuid = None  # the request record must not keep the erased id either
    if not erased:
        return "The browser had no stored data (already erased or never recorded)."
    return f"Erased the browser's visitor record and {erased} consent event(s); a tombstone records the erasure."


@transaction.atomic
def erase_visitor(site, visitor_uuid, reason: str) -> int:
    """Delete the visitor and its events through the audit log's purge path; returns events erased."""
    from .. import purge

    visitor = Visitor.objects.select_for_update().filter(site=site, uuid=visitor_uuid).first()
    forget_visitors(site.key, visitor_uuid)
    if visitor is None:
        return 0
    return purge.erase_visitor_chain(visitor, reason=reason)
