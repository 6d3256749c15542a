"""The right to delete: erase a browser's personal data, keep a non-personal tombstone."""
from audit.purge import erase_visitor


def erase_for_request(request) -> str:
    """Erase the request's browser data if the request may; return what was done."""
    if not (request.visitor_token_verified and request.visitor_uuid):
        return "No browser data is linked to this request; nothing to erase."
    erased = erase_visitor(request.site, request.visitor_uuid, reason=f"data subject request {request.pk}")
    request.visitor_uuid = None  # the request record must not keep the erased id either
    if not erased:
        return "The browser had no stored data (already erased or never recorded)."
    return (f"Erased the browser's visitor record, those of any browser linked to the same signed-in person, "
            f"and {erased} consent event(s); a tombstone records the erasure.")
