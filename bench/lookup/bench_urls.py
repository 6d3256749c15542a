from django.http import JsonResponse
from django.urls import path

from cmp.urls import urlpatterns as product

BODY = {"status": "ok", "decisions": {"analytics": {"granted": False, "reason": "default_opt_in"}}}


def trivial(request):
    """A constant JSON body through the same middleware: the stack's ceiling."""
    return JsonResponse(BODY)


urlpatterns = [path("bench/trivial", trivial), *product]
