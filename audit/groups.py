"""The ``auditor`` group: view permissions on the log and its context, nothing else."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

AUDITOR_GROUP = "auditor"
# What auditors may view, per app (and nothing else: no add, change, delete).
AUDITOR_MODELS = {
    "consent": ("site", "purpose", "policyversion", "visitor", "consentevent"),
    "audit": ("auditcheckpoint", "auditpurge", "consentrollup"),
}


def ensure_auditor_group(apps=global_apps):
    """Create (or refresh) the ``auditor`` group; ``apps`` is a migration's historical registry, or the live one."""
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    permissions = Permission.objects.none()
    for label, models in AUDITOR_MODELS.items():
        app_config = apps.get_app_config(label)
        if getattr(app_config, "models_module", None) is None:
            app_config.models_module = True  # a migration state stub: create_permissions skips apps without one
        create_permissions(app_config, apps=apps, verbosity=0)
        permissions |= Permission.objects.filter(
            content_type__app_label=label, codename__in=[f"view_{model}" for model in models])
    group, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    group.permissions.set(permissions)
    return group
