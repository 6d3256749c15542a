from django.urls import path

from . import views

urlpatterns = [
    path("sites/<str:site_key>/consents", views.ConsentWriteView.as_view(), name="consent-write"),
    path("sites/<str:site_key>/decisions/<str:visitor_id>", views.DecisionLookupView.as_view(), name="decision-lookup"),
    path("sites/<str:site_key>/visitors/<str:visitor_id>/receipts", views.ReceiptListView.as_view(), name="receipts"),
]
