"""The auditor group again, now that some of the models it views live in this app.

Frozen here (migrations must not change with the code): the group's view
permissions as of this migration. ``audit.groups.ensure_auditor_group`` is
the live definition.
"""
from django.contrib.auth.management import create_permissions
from django.db import migrations

AUDITOR_MODELS = {
    "consent": ("site", "purpose", "policyversion", "visitor", "consentevent"),
    "audit": ("auditcheckpoint", "auditpurge", "consentrollup"),
}


def auditor_group(apps, schema_editor):
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    permissions = Permission.objects.none()
    for label, models in AUDITOR_MODELS.items():
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # a migration state stub: create_permissions skips apps without one
        create_permissions(app_config, apps=apps, verbosity=0)
        permissions |= Permission.objects.filter(content_type__app_label=label,
                                                 codename__in=[f"view_{model}" for model in models])
    group, _ = Group.objects.get_or_create(name="auditor")
    group.permissions.set(permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(auditor_group, migrations.RunPython.noop)]
