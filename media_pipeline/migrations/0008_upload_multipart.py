from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("media_pipeline", "0007_captions_track"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="multipart_id",
            field=models.CharField(blank=True, max_length=1024),
        ),
        migrations.AddField(
            model_name="upload",
            name="parts",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
