"""The public pages of the audit log: the signing keys (JWKS) and the page that checks a receipt.

Both are for outsiders and need no credential. The log's proofs themselves
are served by the API (``api/transparency.py``).
"""
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .signing import jwks


@require_safe
def jwks_json(request):
    """``/.well-known/jwks.json``: every public key that signed or signs receipts, tree heads and tombstones."""
    return JsonResponse(jwks(), headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})


@require_safe
def verify_page(request):
    """``/verify/``: checks a receipt in the visitor's browser (audit/static/audit/verify.js), with no secret."""
    return render(request, "audit/verify.html")
