"""A new site, able to record a choice from the moment it exists.

A choice is always recorded under a policy version (``consent/writes.py``
refuses one that would have none), and the banner keeps a choice only while
its version is in force. So :func:`create_site` saves the site together with
its first policy version, in force from the site's creation, in one
transaction; the default purposes come with it (``consent/defaults.py``).
The admin's add form and ``manage.py add_site`` both call it.
"""
from django.db import transaction

from .models import PolicyVersion, Site

FIRST_VERSION = "1"


@transaction.atomic
def create_site(site: Site, policy_url: str) -> Site:
    """Validate and save the new ``site``, with policy version 1 at ``policy_url`` in force at once.

    Raises ``ValidationError`` (naming the field) for anything that does not fit.
    """
    site.full_clean()
    site.save()
    # Material: nothing was agreed on this site before it, so nothing older can count.
    policy = PolicyVersion(site=site, version=FIRST_VERSION, url=policy_url, effective_at=site.created_at, material=True)
    policy.full_clean()
    policy.save()
    return site
