"""Move each lecture's media state into a ``media_pipeline.MediaAsset`` of kind ``video``.

Every field keeps its value (``media_version`` -> ``version``, ``transcode_attempts`` ->
``attempts``, ``transcode_claim`` -> ``lease_claim``, ``transcode_heartbeat_at`` ->
``lease_renewed_at``); the asset's ``owner_id`` is the lecture's id, so stored files
(``tenants/<schema>/lectures/<lecture>/v<N>/``), media tokens and the unfinished uploads of the
lecture stay valid. Reversible: going back copies the state onto the lecture again.
"""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 1000

# (lecture field, asset field)
FIELDS = (
    ("status", "status"),
    ("progress", "progress"),
    ("error", "error"),
    ("duration", "duration"),
    ("renditions", "renditions"),
    ("media_version", "version"),
    ("source_key", "source_key"),
    ("pending_version", "pending_version"),
    ("source_duration", "source_duration"),
    ("transcode_attempts", "attempts"),
    ("transcode_claim", "lease_claim"),
    ("transcode_heartbeat_at", "lease_renewed_at"),
)


def lectures_to_assets(apps, schema_editor):
    Lecture = apps.get_model("courses", "Lecture")
    MediaAsset = apps.get_model("media_pipeline", "MediaAsset")
    Upload = apps.get_model("media_pipeline", "Upload")
    lectures = Lecture.objects.filter(video__isnull=True).order_by("pk")
    while batch := list(lectures[:BATCH]):
        assets = [
            MediaAsset(
                owner_id=lecture.pk,
                kind="video",
                created_at=lecture.created_at,
                **{target: getattr(lecture, source) for source, target in FIELDS},
            )
            for lecture in batch
        ]
        MediaAsset.objects.bulk_create(assets)
        for lecture, asset in zip(batch, assets, strict=True):
            lecture.video_id = asset.pk
        Lecture.objects.bulk_update(batch, ["video"])
    for asset_id, owner_id in MediaAsset.objects.filter(kind="video").values_list("pk", "owner_id"):
        Upload.objects.filter(lecture_id=owner_id, asset__isnull=True).update(asset_id=asset_id)
    # Check the deferred foreign keys now: PostgreSQL refuses the ALTER TABLEs that follow in
    # this transaction while rows changed here still have pending constraint triggers.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def assets_to_lectures(apps, schema_editor):
    Lecture = apps.get_model("courses", "Lecture")
    lectures = Lecture.objects.select_related("video").order_by("pk")
    for start in range(0, lectures.count(), BATCH):
        batch = list(lectures[start : start + BATCH])
        for lecture in batch:
            for source, target in FIELDS:
                setattr(lecture, source, getattr(lecture.video, target))
        Lecture.objects.bulk_update(batch, [source for source, _ in FIELDS])
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0003_course_thumbnail"),
        ("media_pipeline", "0002_mediaasset"),
    ]

    operations = [
        migrations.AddField(
            model_name="lecture",
            name="video",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="media_pipeline.mediaasset",
            ),
        ),
        migrations.RunPython(lectures_to_assets, assets_to_lectures),
        migrations.RemoveConstraint(model_name="lecture", name="lecture_progress_0_100"),
        *(migrations.RemoveField(model_name="lecture", name=source) for source, _ in FIELDS),
        migrations.AlterField(
            model_name="lecture",
            name="video",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="media_pipeline.mediaasset",
            ),
        ),
    ]
