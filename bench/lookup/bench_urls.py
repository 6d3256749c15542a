"""The product's URLs plus the benchmarks' baselines, served by the same stack."""
import functools
import json
import secrets

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from cmp.urls import urlpatterns as product
from consent.models import Site, Visitor, hash_token

BODY = {"status": "ok", "decisions": {"analytics": {"granted": False, "reason": "default_opt_in"}}}


def trivial(request):
    """A constant JSON body through the same middleware: the stack's ceiling."""
    return JsonResponse(BODY)


@csrf_exempt
def bare_insert(request):
    """The consent write's baseline: the same JSON in, one INSERT of the visitor row, no audit, no checks."""
    data = json.loads(request.body)
    token = secrets.token_urlsafe(32)
    Visitor.objects.create(site_id=_demo_id(), uuid=data["visitor_id"], token_hash=hash_token(token),
                           choices=data["choices"], policy_version=data["policy_version"])
    return JsonResponse({"visitor_id": data["visitor_id"], "token": token}, status=201)


@functools.cache
def _demo_id():
    return Site.objects.get(key="demo").id


urlpatterns = [path("bench/trivial", trivial), path("bench/bare-insert", bare_insert), *product]
