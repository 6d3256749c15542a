"""Give every site that lacks them the five default purposes of the design.

New sites get them from a post_save hook (consent/defaults.py); this
migration covers the sites that existed before it.
"""
from django.db import migrations

from consent.defaults import create_default_purposes


def add_defaults(apps, schema_editor):
    Site = apps.get_model("consent", "Site")
    Purpose = apps.get_model("consent", "Purpose")
    for site in Site.objects.all():
        create_default_purposes(site, Purpose)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
