import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0003_course_thumbnail"),
        ("media_pipeline", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="MediaAsset",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("owner_id", models.UUIDField(db_index=True)),
                (
                    "kind",
                    models.CharField(choices=[("video", "Video")], default="video", max_length=16),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("awaiting_media", "Awaiting media"),
                            ("uploading", "Uploading"),
                            ("queued", "Queued"),
                            ("processing", "Processing"),
                            ("ready", "Ready"),
                            ("failed", "Failed"),
                        ],
                        default="awaiting_media",
                        max_length=16,
                    ),
                ),
                ("progress", models.FloatField(default=0.0)),
                ("error", models.TextField(blank=True, null=True)),
                ("duration", models.FloatField(blank=True, null=True)),
                ("renditions", models.JSONField(blank=True, default=list)),
                ("version", models.PositiveIntegerField(default=0)),
                ("source_key", models.CharField(blank=True, max_length=500)),
                ("pending_version", models.PositiveIntegerField(default=0)),
                ("source_duration", models.FloatField(blank=True, null=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("lease_claim", models.CharField(blank=True, max_length=64)),
                ("lease_renewed_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["status", "lease_renewed_at"], name="media_asset_lease")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("progress__gte", 0), ("progress__lte", 100)),
                        name="media_asset_progress_0_100",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("kind", "video")),
                        fields=("owner_id", "kind"),
                        name="media_asset_one_video_per_owner",
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="upload",
            name="asset",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="uploads",
                to="media_pipeline.mediaasset",
            ),
        ),
    ]
