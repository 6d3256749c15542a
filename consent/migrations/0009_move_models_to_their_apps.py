"""The audit log's, the webhooks' and the privacy requests' models leave the
consent app for their own apps (audit, delivery, privacy_requests), rows and all.

Each table is renamed to its new app's name here; the new apps' first
migrations take the models over without touching the database. Content types
are relabelled in place, so permissions (the auditor group's) and admin log
entries follow their models.
"""
from django.db import migrations

MOVES = {
    "audit": ("AuditCheckpoint", "AuditPurge", "ConsentRollup"),
    "delivery": ("WebhookEndpoint", "OutboxMessage"),
    "privacy_requests": ("DataSubjectRequest", "RequestStep"),
}


def relabel(apps, schema_editor, forward=True):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app, models in MOVES.items():
        old, new = ("consent", app) if forward else (app, "consent")
        ContentType.objects.filter(app_label=old, model__in=[m.lower() for m in models]).update(app_label=new)


def relabel_back(apps, schema_editor):
    relabel(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("consent", "0008_drop_redundant_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(model, f"{app}_{model.lower()}")
                for app, models in MOVES.items() for model in models
            ],
            state_operations=[
                # Models that point at another moving model go first.
                migrations.DeleteModel("OutboxMessage"),
                migrations.DeleteModel("WebhookEndpoint"),
                migrations.DeleteModel("RequestStep"),
                migrations.DeleteModel("DataSubjectRequest"),
                migrations.DeleteModel("AuditCheckpoint"),
                migrations.DeleteModel("AuditPurge"),
                migrations.DeleteModel("ConsentRollup"),
            ],
        ),
        migrations.RunPython(relabel, relabel_back),
    ]
