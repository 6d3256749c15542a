"""The right-to-know answer: the browser's consent history as JSON and CSV in a zip.

The CSV's cells pass through :func:`audit.exports.safe_cell`, as the audit
export's do: no cell starts like a spreadsheet formula.
"""
import csv
import io
import json
import zipfile

from django.utils.translation import gettext, override

from audit.exports import safe_cell
from audit.receipts import receipts_for_visitor
from consent.languages import interface_language
from consent.models import ConsentEvent, Visitor
from consent.people import browsers_of

EVENT_FIELDS = [
    "created_at", "source", "choices", "signals", "decisions", "consent_mode", "regime",
    "policy_version", "banner_version", "language", "region", "ip_prefix", "user_agent",
]


def build_zip(request) -> bytes:
    """A zip holding ``data.json`` (everything) and ``events.csv`` (the history as a table)."""
    data = collect(request)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, indent=2, ensure_ascii=False, default=str))
        archive.writestr("events.csv", _events_csv(data["consent_events"]))
        archive.writestr("README.txt", _readme(request, data))
    return buffer.getvalue()


def collect(request) -> dict:
    visitor = None
    if request.visitor_token_verified and request.visitor_uuid:
        visitor = Visitor.objects.filter(site=request.site, uuid=request.visitor_uuid).first()
    events = ConsentEvent.objects.filter(visitor=visitor).order_by("id") if visitor else ConsentEvent.objects.none()
    return {
        "request": {
            "reference": str(request.pk),
            "site": request.site.key,
            "kind": request.kind,
            "received_at": request.received_at.isoformat(),
        },
        "visitor": None if visitor is None else {
            "visitor_id": str(visitor.uuid),
            "created_at": visitor.created_at.isoformat(),
            "current_choices": visitor.choices,
            "chosen_at": visitor.chosen_at.isoformat() if visitor.chosen_at else None,
            "policy_version": visitor.policy_version,
            "signals": visitor.signals,
            "gpc_first_seen": visitor.gpc_first_seen.isoformat() if visitor.gpc_first_seen else None,
            "gpc_last_seen": visitor.gpc_last_seen.isoformat() if visitor.gpc_last_seen else None,
        },
        "consent_events": [{field: _plain(getattr(e, field)) for field in EVENT_FIELDS} for e in events],
        "receipts": _receipts(visitor),
        # The request covers the person: every other browser linked to them, on any site of the group.
        "linked_browsers": [] if visitor is None else [
            {"site": browser.site.key, "visitor_id": str(browser.uuid), "created_at": browser.created_at.isoformat(),
             "current_choices": browser.choices,
             "chosen_at": browser.chosen_at.isoformat() if browser.chosen_at else None,
             "consent_events": [{field: _plain(getattr(e, field)) for field in EVENT_FIELDS}
                                for e in ConsentEvent.objects.filter(visitor=browser).order_by("id")]}
            for browser in browsers_of(visitor) if browser.pk != visitor.pk
        ],
    }


def _receipts(visitor):
    return [] if visitor is None else receipts_for_visitor(visitor)


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _events_csv(events) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EVENT_FIELDS)
    writer.writeheader()
    for event in events:
        writer.writerow({k: safe_cell(json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in event.items()})
    return out.getvalue()


def _readme(request, data) -> str:
    """What the archive holds, in the request's language."""
    with override(interface_language(request.language)):
        if data["visitor"] is None:
            return gettext(
                "This platform stores consent choices per browser, not per person or email address. "
                "Your request did not come with a browser's consent token, so no browser's data could be "
                "linked to you: we hold no data about you beyond this request."
            ) + "\n"
        text = gettext(
            "The consent data of browser %(visitor)s on %(site)s: data.json has everything; events.csv lists "
            "every recorded choice and signal, oldest first."
        ) % {"visitor": data["visitor"]["visitor_id"], "site": request.site.key} + "\n"
        if data["linked_browsers"]:
            text += gettext(
                "The site linked this browser to your account, so this request also covers the other browsers "
                "linked to it: linked_browsers in data.json lists each, with its choices and history."
            ) + "\n"
        return text
