"""PostgreSQL down while a visitor chooses: the write answers 503, the banner
keeps the choice in its cookie and applies it, and delivers it on the next
page view once PostgreSQL is back. Real Chromium against a gunicorn whose
database connections go through a proxy the test cuts (CI's PostgreSQL pass).
"""
import pytest

from consent.models import ConsentEvent, Visitor

from .test_banner import BANNER, PENDING_CLEARED, click, open_demo

pytestmark = [pytest.mark.guarantee, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PENDING = "document.cookie.includes('cmp_demo=') && /!q?[a-z]*q[a-z]*(;|$)/.test(document.cookie.match(/cmp_demo=[^;]*/)[0])"


def test_choice_made_while_the_database_is_down_is_kept_and_delivered_later(browser, server_behind_a_database_proxy):
    base, proxy = server_behind_a_database_proxy
    context = browser.new_context()
    try:
        page = context.new_page()
        open_demo(page, base)
        page.locator(BANNER).wait_for(state="visible")

        proxy.cut()
        with page.expect_response(lambda r: r.url.endswith("/consents")) as answer:
            click(page, "accept")
        assert answer.value.status == 503
        assert page.evaluate("window.cmp.granted('analytics')") is True  # applied on the page at once
        assert page.evaluate(PENDING), "the cookie should mark the choice as not yet confirmed"
        assert not Visitor.objects.exists()

        proxy.restore()
        open_demo(page, base)  # the next page view sends it again
        page.wait_for_function(PENDING_CLEARED, timeout=10_000)
        visitor = Visitor.objects.get()
        assert visitor.choices["analytics"] is True
        assert str(visitor.uuid) == page.evaluate("window.cmp.visitorId")
        assert ConsentEvent.objects.filter(visitor=visitor).count() == 1
    finally:
        context.close()
