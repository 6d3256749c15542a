"""The models this app took over from the consent app (consent migration 0009 renamed
their tables): state only, the database already has them, rows and all."""
import django.db.models.deletion
import django.utils.timezone
import privacy_requests.models
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
                    name='DataSubjectRequest',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('kind', models.CharField(choices=[('know', 'Right to know (a copy of my data)'), ('delete', 'Right to delete'), ('correct', 'Correct my data'), ('opt_out_marketing', 'Opt out of marketing')], max_length=20)),
                        ('status', models.CharField(choices=[('unverified', 'Waiting for email verification'), ('verified', 'Verified: to be answered'), ('fulfilled', 'Fulfilled'), ('denied', 'Denied'), ('expired', 'Expired unverified')], default='unverified', max_length=12)),
                        ('email', models.EmailField(help_text='Where the requester proves control and gets answers.', max_length=254)),
                        ('details', models.TextField(blank=True, max_length=2000)),
                        ('language', models.CharField(default='en', max_length=35)),
                        ('visitor_uuid', models.UUIDField(blank=True, null=True)),
                        ('visitor_token_verified', models.BooleanField(default=False, help_text="The request carried this browser's write token: its data may be disclosed or deleted.")),
                        ('agent_name', models.CharField(blank=True, max_length=200)),
                        ('agent_document', models.FileField(blank=True, storage=privacy_requests.models._private_storage, upload_to='agent-authorizations/')),
                        ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('verified_at', models.DateTimeField(blank=True, null=True)),
                        ('confirmation_sent_at', models.DateTimeField(blank=True, null=True)),
                        ('extended_at', models.DateTimeField(blank=True, null=True)),
                        ('extension_reason', models.TextField(blank=True)),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('denial_reason', models.TextField(blank=True)),
                        ('download_token_hash', models.CharField(blank=True, max_length=64)),
                        ('download_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='data_requests', to='consent.site')),
                    ],
                    options={
                        'verbose_name': 'data subject request',
                        'ordering': ['received_at'],
                    },
                ),
                migrations.CreateModel(
                    name='RequestStep',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('action', models.CharField(max_length=40)),
                        ('actor', models.CharField(blank=True, help_text="Admin user, 'requester' or 'system'.", max_length=150)),
                        ('detail', models.TextField(blank=True)),
                        ('request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='steps', to='privacy_requests.datasubjectrequest')),
                    ],
                    options={
                        'ordering': ['at', 'id'],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
