"""The project's own system checks: settings that did not parse (``manage.py check``).

A server must not run on a setting it could not read, so the WSGI
application and Celery call :func:`refuse_bad_settings` as they start.
"""
from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def settings_parse(app_configs, **kwargs):
    return [
        Error(problem, hint="Fix the environment variable (see the README's Configuration table).", id="cmp.E001")
        for problem in settings.SETTINGS_PROBLEMS
    ]


def refuse_bad_settings() -> None:
    if settings.SETTINGS_PROBLEMS:
        raise ImproperlyConfigured("Invalid settings in the environment:\n  " + "\n  ".join(settings.SETTINGS_PROBLEMS))
