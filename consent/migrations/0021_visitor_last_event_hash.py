"""Each visitor keeps the hash of its latest event, where its chain goes on (consent/chain.py)."""
from django.db import migrations, models

BACKFILL = """
UPDATE consent_visitor SET last_event_hash = coalesce(
    (SELECT e.event_hash FROM consent_consentevent e WHERE e.visitor_id = consent_visitor.id ORDER BY e.id DESC LIMIT 1), '')
"""


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0020_retention_by_month_help_text'),
    ]

    operations = [
        migrations.AddField(
            model_name='visitor',
            name='last_event_hash',
            field=models.CharField(blank=True, db_default='', default='', editable=False, help_text="The hash of the visitor's latest event.", max_length=64),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
    ]
