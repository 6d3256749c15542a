"""What the consent core announces, for the apps above it to act on.

``decisions_changed`` is sent inside the transaction of every change of a
visitor's consent (a choice, a signal, an expiry), so a receiver that
writes rows (the webhook outbox, ``delivery/``) commits or rolls back with
the change itself. Arguments: ``rules`` (the site's :class:`~consent.sites.SiteRules`),
``visitor_uuid``, ``before`` and ``after`` (:class:`~consent.decisions.Outcome`),
``policy_version`` and ``at`` (the change's time).
"""
from django.dispatch import Signal

decisions_changed = Signal()
