from django.urls import path

from . import views

urlpatterns = [
    path(".well-known/jwks.json", views.jwks_json, name="jwks"),
    path("verify/", views.verify_page, name="verify-receipt"),
]
