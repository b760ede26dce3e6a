"""The size of each asset's kept source file, read once from storage for existing sources."""

from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from django.db import migrations, models


def source_bytes_fill(apps, schema_editor):
    asset_model = apps.get_model("media_pipeline", "MediaAsset")
    for asset in asset_model.objects.exclude(source_key="").only("id", "source_key"):
        try:
            size = default_storage.size(asset.source_key)
        except (OSError, ValueError, ClientError):  # gone from storage: it counts nothing
            continue
        asset_model.objects.filter(pk=asset.pk).update(source_bytes=size)


class Migration(migrations.Migration):
    dependencies = [("media_pipeline", "0008_upload_multipart")]

    operations = [
        migrations.AddField(
            model_name="mediaasset",
            name="source_bytes",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(source_bytes_fill, migrations.RunPython.noop),
    ]
