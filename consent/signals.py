"""What the lower apps announce, for the apps above or beside them to act on.

``decisions_changed`` is sent inside the transaction of every change of a
visitor's consent (a choice, a signal, an expiry), so a receiver that
writes rows (the webhook outbox, ``delivery/``) commits or rolls back with
the change itself. Arguments: ``rules`` (the site's :class:`~consent.sites.SiteRules`),
``visitor_uuid``, ``before`` and ``after`` (:class:`~consent.decisions.Outcome`),
``policy_version``, ``at`` (the change's time) and ``gpp`` (the IAB GPP
string of ``after`` in the visitor's region: ``{"string", "applicable_sections"}``).

``tree_head_signed`` is sent by the audit app (``audit/log.py``) inside the
transaction that signs a new head of a site's log, for the webhook outbox to
send it to the site's subscribers (audit and delivery do not import each
other). Arguments: ``site_id``, ``tree_head`` (the head as published: its
fields and its JWS) and ``at``.
"""
from django.dispatch import Signal

decisions_changed = Signal()
tree_head_signed = Signal()
