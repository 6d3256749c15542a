"""The models this app took over from the consent app (consent migration 0009 renamed
their tables): state only, the database already has them, rows and all."""
import delivery.models
import django.db.models.deletion
import django.utils.timezone
import uuid
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
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=500)),
                        ('secret', models.CharField(default=delivery.models._webhook_secret, help_text='Shared HMAC-SHA256 key; the receiver checks X-CMP-Signature with it.', max_length=64)),
                        ('active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhooks', to='consent.site')),
                    ],
                ),
                migrations.CreateModel(
                    name='OutboxMessage',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, help_text='The event id receivers deduplicate on.', primary_key=True, serialize=False)),
                        ('payload', models.JSONField()),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Gave up after 24 hours')], default='pending', max_length=10)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('last_error', models.CharField(blank=True, max_length=500)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='delivery.webhookendpoint')),
                    ],
                    options={
                        'ordering': ['created_at'],
                        'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='outbox_due')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
