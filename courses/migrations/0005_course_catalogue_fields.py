"""Courses people can decide on, lecture kinds and teams.

- ``Course``: ``slug`` (made from each existing title, unique per school), ``outcomes``,
  ``difficulty``, ``language``, ``currency``; ``status`` (``draft | published | archived``)
  replaces ``published`` (``True`` -> ``published``, ``False`` -> ``draft``); ``instructors``
  starts as each course's ``created_by``.
- ``Section.description``; ``Lecture`` gets ``description``, ``kind`` (every existing lecture
  is a ``video``), ``body``, ``free_preview`` and a ``document`` asset, and its ``video`` may be
  empty (articles and presentations have none).
- ``Attachment``: downloadable files of a lecture.

Reversible: going back sets ``published`` from ``status`` (``archived`` -> ``False``).
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils.text import slugify


def slugs_fill(apps, schema_editor):
    Course = apps.get_model("courses", "Course")
    taken = set()
    for course in Course.objects.order_by("created_at", "id").only("id", "title"):
        base = slugify(course.title)[:70].strip("-") or "course"
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        Course.objects.filter(pk=course.pk).update(slug=slug)


def status_from_published(apps, schema_editor):
    Course = apps.get_model("courses", "Course")
    Course.objects.filter(published=True).update(status="published")
    Course.objects.filter(published=False).update(status="draft")


def published_from_status(apps, schema_editor):
    Course = apps.get_model("courses", "Course")
    Course.objects.filter(status="published").update(published=True)
    Course.objects.exclude(status="published").update(published=False)


def instructors_from_creator(apps, schema_editor):
    Course = apps.get_model("courses", "Course")
    Through = Course.instructors.through
    Through.objects.bulk_create(
        [
            Through(course_id=course_id, user_id=user_id)
            for course_id, user_id in Course.objects.filter(created_by__isnull=False).values_list(
                "id", "created_by_id"
            )
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0004_lecture_video"),
        ("media_pipeline", "0003_upload_asset_required"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Course: slug, filled from the titles, then unique.
        migrations.AddField(
            model_name="course",
            name="slug",
            field=models.SlugField(db_index=False, max_length=80, null=True),
        ),
        migrations.RunPython(slugs_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="course",
            name="slug",
            field=models.SlugField(max_length=80, unique=True),
        ),
        migrations.AddField(
            model_name="course",
            name="outcomes",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="course",
            name="difficulty",
            field=models.CharField(
                choices=[
                    ("beginner", "Beginner"),
                    ("intermediate", "Intermediate"),
                    ("advanced", "Advanced"),
                ],
                default="beginner",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="course",
            name="language",
            field=models.CharField(default="en", max_length=35),
        ),
        migrations.AddField(
            model_name="course",
            name="currency",
            field=models.CharField(default="USD", max_length=3),
        ),
        # Course: status replaces published.
        migrations.AddField(
            model_name="course",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("published", "Published"), ("archived", "Archived")],
                default="draft",
                max_length=16,
            ),
        ),
        migrations.RunPython(status_from_published, published_from_status),
        migrations.RemoveField(model_name="course", name="published"),
        migrations.AddField(
            model_name="course",
            name="instructors",
            field=models.ManyToManyField(
                blank=True, related_name="courses_taught", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.RunPython(instructors_from_creator, migrations.RunPython.noop),
        # Sections and lectures.
        migrations.AddField(
            model_name="section",
            name="description",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="lecture",
            name="description",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="lecture",
            name="kind",
            field=models.CharField(
                choices=[
                    ("video", "Video"),
                    ("article", "Article"),
                    ("presentation", "Presentation"),
                ],
                default="video",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="lecture",
            name="body",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="lecture",
            name="free_preview",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="lecture",
            name="video",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="media_pipeline.mediaasset",
            ),
        ),
        migrations.AddField(
            model_name="lecture",
            name="document",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="media_pipeline.mediaasset",
            ),
        ),
        migrations.CreateModel(
            name="Attachment",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("filename", models.CharField(max_length=255)),
                ("size", models.BigIntegerField()),
                ("content_type", models.CharField(blank=True, max_length=255)),
                ("key", models.CharField(max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "lecture",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attachments",
                        to="courses.lecture",
                    ),
                ),
            ],
            options={"ordering": ["created_at", "id"]},
        ),
    ]
