from django.apps import AppConfig


class BannerConfig(AppConfig):
    name = "banner"
    verbose_name = "Banner"
