from django.urls import path

from . import views

urlpatterns = [
    path("verify/<str:code>/", views.verify, name="dsr-verify"),
    path("download/<uuid:request_id>/<str:token>/", views.download, name="dsr-download"),
    path("<slug:site_key>/", views.request_form, name="dsr-form"),
]
