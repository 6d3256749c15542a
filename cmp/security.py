"""A Content-Security-Policy for the platform's own HTML pages.

Django 5.2 has no CSP support of its own (it arrives in 6.0). The policy is
one setting, ``CMP_CONTENT_SECURITY_POLICY``. A view whose page imitates a
customer's site (the demo page) marks its response ``csp_exempt``.
"""
from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        exempt = getattr(response, "csp_exempt", False) or "Content-Security-Policy" in response
        if is_html and not exempt and settings.CMP_CONTENT_SECURITY_POLICY:
            response["Content-Security-Policy"] = settings.CMP_CONTENT_SECURITY_POLICY
        return response
