"""The models this app took over from the consent app (consent migration 0009 renamed
their tables): state only, the database already has them, rows and all."""
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('consent', '0009_move_models_to_their_apps'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditCheckpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('after_event_id', models.BigIntegerField(help_text="The previous checkpoint's last event id (0 for the first).", unique=True)),
                        ('first_event_id', models.BigIntegerField(blank=True, null=True)),
                        ('last_event_id', models.BigIntegerField()),
                        ('event_count', models.PositiveIntegerField()),
                        ('merkle_root', models.CharField(max_length=64)),
                        ('prev_root', models.CharField(blank=True, help_text="The previous checkpoint's root ('' for the first).", max_length=64)),
                        ('key_id', models.CharField(max_length=64)),
                        ('signature', models.CharField(max_length=128)),
                    ],
                    options={
                        'ordering': ['-last_event_id'],
                        'get_latest_by': 'last_event_id',
                    },
                ),
                migrations.CreateModel(
                    name='AuditPurge',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('reason', models.CharField(max_length=200)),
                        ('sites', models.JSONField(default=list)),
                        ('visitor_count', models.PositiveIntegerField()),
                        ('event_count', models.PositiveIntegerField()),
                        ('first_event_id', models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ('last_event_id', models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ('leaves', models.JSONField(default=list, help_text='[event id, visitor row id, event hash] per purged event.')),
                        ('key_id', models.CharField(max_length=64)),
                        ('signature', models.CharField(max_length=128)),
                    ],
                    options={
                        'verbose_name': 'audit purge (tombstone)',
                        'verbose_name_plural': 'audit purges (tombstones)',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ConsentRollup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('source', models.CharField(max_length=16)),
                        ('region', models.CharField(blank=True, max_length=2)),
                        ('pattern', models.CharField(blank=True, help_text='accept_all, reject_all, custom; blank for events without a choice.', max_length=12)),
                        ('events', models.PositiveIntegerField(default=0)),
                        ('purposes', models.JSONField(default=dict, help_text='Per optional purpose: [times asked, times granted].')),
                        ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rollups', to='consent.site')),
                    ],
                    options={
                        'ordering': ['site', 'day'],
                        'constraints': [models.UniqueConstraint(fields=('site', 'day', 'source', 'region', 'pattern'), name='rollup_unique_cell')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
