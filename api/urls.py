from django.urls import path

from . import transparency, views

urlpatterns = [
    path("sites/<str:site_key>/consents", views.ConsentWriteView.as_view(), name="consent-write"),
    path("sites/<str:site_key>/people/link", views.LinkView.as_view(), name="person-link"),
    path("sites/<str:site_key>/people/unlink", views.UnlinkView.as_view(), name="person-unlink"),
    path("sites/<str:site_key>/people/handoff", views.HandoffView.as_view(), name="person-handoff"),
    path("sites/<str:site_key>/people/redeem", views.RedeemView.as_view(), name="person-redeem"),
    path("sites/<str:site_key>/people/decisions", views.SubjectDecisionsView.as_view(), name="person-decisions"),
    path("sites/<str:site_key>/decisions/<str:visitor_id>", views.DecisionLookupView.as_view(), name="decision-lookup"),
    path("sites/<str:site_key>/visitors/<str:visitor_id>/receipts", views.ReceiptListView.as_view(), name="receipts"),
    path("sites/<str:site_key>/log", transparency.LogHeadView.as_view(), name="log-head"),
    path("sites/<str:site_key>/log/inclusion", transparency.InclusionProofView.as_view(), name="log-inclusion"),
    path("sites/<str:site_key>/log/consistency", transparency.ConsistencyProofView.as_view(), name="log-consistency"),
]
