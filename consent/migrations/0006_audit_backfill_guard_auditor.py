"""Provable consent, data side: hash existing events into their chains, add the
PostgreSQL append-only trigger, and create the read-only ``auditor`` group."""
from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger AS $$
BEGIN
    -- The one way through: audit.purge.guard_lifted() sets this for its
    -- transaction only (retention and erasure, via audit.purge.purge_visitors).
    IF coalesce(current_setting('cmp.audit_purge', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent events are append-only: % refused (the only way to delete is audit.purge.purge_visitors)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
CREATE TRIGGER consent_event_append_only
    BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;
DROP FUNCTION IF EXISTS consent_event_append_only();
"""


def backfill_hashes(apps, schema_editor):
    """Events logged before the chain existed get their hashes, chain by chain."""
    from consent import chain

    ConsentEvent = apps.get_model("consent", "ConsentEvent")
    site_keys = dict(apps.get_model("consent", "Site").objects.values_list("id", "key"))
    current, previous = None, chain.GENESIS
    rows = ConsentEvent.objects.filter(event_hash="").order_by("visitor_id", "id").select_related("visitor")
    for event in rows.iterator(chunk_size=2000):
        if event.visitor_id != current:
            current, previous = event.visitor_id, chain.GENESIS
        content = chain.canonical_content(
            site_key=site_keys[event.site_id], visitor_uuid=event.visitor.uuid, created_at=event.created_at,
            prev_hash=previous, **{name: getattr(event, name) for name in chain.CONTENT_FIELDS},
        )
        digest = chain.event_hash(content)
        ConsentEvent.objects.filter(pk=event.pk).update(prev_hash=previous, event_hash=digest)
        previous = digest


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # no parameters: '%' in the SQL stays as it is
            cursor.execute(TRIGGER_SQL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP_SQL)


# The models the auditor group could view when this migration was written;
# audit's migration 0002 refreshes the group after some of them moved there.
AUDITOR_MODELS = ("site", "purpose", "policyversion", "visitor", "consentevent", "auditcheckpoint", "auditpurge", "consentrollup")


def auditor_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("consent")
    app_config.models_module = True  # a migration state stub: create_permissions skips apps without one
    create_permissions(app_config, apps=apps, verbosity=0)
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="auditor")
    group.permissions.set(Permission.objects.filter(
        content_type__app_label="consent", codename__in=[f"view_{m}" for m in AUDITOR_MODELS]))


def drop_auditor_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="auditor").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("consent", "0005_audit_chain_checkpoints_rollups"),
    ]

    operations = [
        migrations.RunPython(backfill_hashes, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
        migrations.RunPython(auditor_group, drop_auditor_group),
    ]
