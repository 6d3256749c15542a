from django.urls import path

from . import receipts, views

urlpatterns = [
    path("sites/<str:site_key>/consents", views.ConsentWriteView.as_view(), name="consent-write"),
    path("sites/<str:site_key>/decisions/<str:visitor_id>", views.DecisionLookupView.as_view(), name="decision-lookup"),
    path("sites/<str:site_key>/config", views.SiteConfigView.as_view(), name="site-config"),
    path("sites/<str:site_key>/visitors/<str:visitor_id>/receipts", receipts.ReceiptListView.as_view(), name="receipts"),
]
