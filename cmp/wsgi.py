import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmp.settings")
application = get_wsgi_application()

from cmp.checks import refuse_bad_settings  # noqa: E402  (needs the apps loaded above)

refuse_bad_settings()
