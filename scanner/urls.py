from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/sites/<str:site_key>/declaration", views.DeclarationView.as_view(), name="cookie-declaration"),
    path("api/v1/sites/<str:site_key>/declaration/dialog", views.DialogDeclarationView.as_view(),
         name="dialog-declaration"),
    path("api/v1/sites/<str:site_key>/trackers", views.TrackerRulesView.as_view(), name="tracker-rules"),
    path("declaration/<str:site_key>/", views.declaration_page, name="declaration-page"),
]
