from django.urls import path

from . import embed, nai, views

urlpatterns = [
    path("c/cmp.css", embed.stylesheet, name="embed-css"),
    path("c/v/<str:version>/cmp.min.js", embed.versioned_runtime, name="embed-runtime"),
    path("c/v/<str:version>/gpp.min.js", embed.versioned_gpp, name="embed-gpp"),
    path("c/v/<str:version>/later.min.js", embed.versioned_later, name="embed-later"),
    path("c/<str:site_key>.js", embed.embed_script, name="embed-script"),
    path("api/v1/sites/<str:site_key>/config", views.SiteConfigView.as_view(), name="site-config"),
    path("demo/", views.demo, name="demo"),
    path(".well-known/gpc.json", views.gpc_json, name="gpc-json"),
    path("nai/optout", nai.opt_out, name="nai-optout"),
    path("nai/optin", nai.opt_in, name="nai-optin"),
    path("nai/status", nai.status, name="nai-status"),
    path("nai/status.gif", nai.status_gif, name="nai-status-gif"),
]
