"""The environment the test suite runs in (loaded by pytest.ini before Django's settings).

The tests run in development mode, as ``make run`` does: DEBUG on, so no
SECRET_KEY is needed and static files come from the apps. A test that needs
production settings starts its own process with them.
"""
import os

os.environ.setdefault("DEBUG", "1")
# Webhook receivers in tests listen on 127.0.0.1 over plain http: allowed only
# by this development setting (tests that check the guard turn it off).
os.environ.setdefault("CMP_WEBHOOKS_ALLOW_LOCAL", "1")
