"""The product's URLs plus the benchmarks' baselines, served by the same stack.

- ``/bench/trivial`` (answered by :class:`TrivialFastPath`, placed right
  after the lookup's fast path): a constant body the size of a lookup's
  answer, through the very middleware the lookup goes through. The lookup's ceiling.
- ``/bench/one-read/<visitor>`` (the same middleware): the same body after
  the lookup's one cache read (``consent.cache.read`` of the site's and the
  visitor's keys: one ``MGET``, the versions and the epoch check included),
  and nothing else. Every lookup that never answers from before the last
  write needs that round trip, so this is the ceiling of any such lookup.
- ``/bench/trivial-view``: the same body from a plain Django view, through the
  product's whole middleware and URL resolution, as any page of the product
  is: the stack's own cost for a trivial view, which the lookup's fast path
  does not pay.
- ``/bench/bare-insert`` and ``/bench/bare-update``: plain Django views, through
  the full middleware as the consent write, that parse the same JSON body and
  run one statement on the visitor row (no checks, no audit event, no cache).
  The write's baselines.
- ``/bench/bare-update-rest``: the bare update as a REST framework view, to
  show what REST framework itself costs the write.
"""
import functools
import json
import secrets

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from cmp.urls import urlpatterns as product
from consent import cache, lookups, sites
from consent.models import Site, Visitor, hash_token, parse_visitor_id

# A lookup's answer for a visitor who chose, byte for byte the same size.
LOOKUP_ANSWER = json.dumps({
    "site": "demo", "visitor_id": "00000000-0000-4000-8000-000000000001", "regime": "opt_in", "policy_version": "1",
    "decisions": {key: {"granted": key in ("security", "authentication"),
                        "reason": "essential" if key in ("security", "authentication") else "choice"}
                  for key in ("authentication", "security", "analytics", "advertising", "recognition")},
    "ad_personalization": {"granted": False, "reason": "choice"},
    "consent_mode": {"ad_personalization": "denied", "ad_storage": "denied", "ad_user_data": "denied",
                     "analytics_storage": "denied", "functionality_storage": "granted",
                     "personalization_storage": "denied", "security_storage": "granted"},
    "signals": {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False},
    "needs_choice": False, "gpp": {"string": "DBAA", "applicable_sections": [-1]},
}, separators=(",", ":")).encode()


ONE_READ = "/bench/one-read/"


class TrivialFastPath:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(ONE_READ):
            visitor = parse_visitor_id(request.path_info.removeprefix(ONE_READ))
            cache.read(sites.cache_key("demo"), lookups.cache_key("demo", visitor))
        elif request.path_info != "/bench/trivial":
            return self.get_response(request)
        return HttpResponse(LOOKUP_ANSWER, content_type="application/json", headers={"Cache-Control": "no-store"})


def trivial_view(request):
    return HttpResponse(LOOKUP_ANSWER, content_type="application/json", headers={"Cache-Control": "no-store"})


@csrf_exempt
def bare_insert(request):
    data = json.loads(request.body)
    token = data.get("token") or secrets.token_urlsafe(32)
    Visitor.objects.create(site_id=_demo_id(), uuid=data["visitor_id"], token_hash=hash_token(token),
                           choices=data["choices"], policy_version=data["policy_version"])
    return JsonResponse({"visitor_id": data["visitor_id"], "token": token}, status=201)


def _update(data) -> int:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE consent_visitor SET choices = %s, updated_at = now() WHERE site_id = %s AND uuid = %s",
                       [json.dumps(data["choices"]), _demo_id(), data["visitor_id"]])
        return cursor.rowcount


@csrf_exempt
def bare_update(request):
    data = json.loads(request.body)
    return JsonResponse({"visitor_id": data["visitor_id"], "updated": _update(data)}, status=201)


class BareUpdateRest(APIView):
    authentication_classes, permission_classes = [], []

    def post(self, request):
        return Response({"visitor_id": request.data["visitor_id"], "updated": _update(request.data)}, status=201)


@functools.cache
def _demo_id():
    return Site.objects.get(key="demo").id


urlpatterns = [
    path("bench/trivial-view", trivial_view),
    path("bench/bare-insert", bare_insert),
    path("bench/bare-update", bare_update),
    path("bench/bare-update-rest", BareUpdateRest.as_view()),
    *product,
]
