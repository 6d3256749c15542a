"""What the banner lets apps above it add to a site's embed script.

``embed_boot`` is sent for every ``/c/<site>.js`` with ``site_key``; each
receiver returns a dict of fields to add to ``window.cmpBoot`` (the scanner
adds the hosts the banner holds until their purpose is granted), or None.
Fields may be added, never renamed: sites' pages run this code.
"""
from django.dispatch import Signal

embed_boot = Signal()
