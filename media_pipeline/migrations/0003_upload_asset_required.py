import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0004_lecture_video"),
        ("media_pipeline", "0002_mediaasset"),
    ]

    operations = [
        migrations.RemoveField(model_name="upload", name="lecture"),
        migrations.AlterField(
            model_name="upload",
            name="asset",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="uploads",
                to="media_pipeline.mediaasset",
            ),
        ),
    ]
