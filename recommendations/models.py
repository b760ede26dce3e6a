"""Recommendations' own rows in each school's schema: course embeddings (similar content), the
scores the periodic refresh computes (trending, popularity) and the co-enrolment neighbours of
each course. Every row belongs to a course and goes with it (``CASCADE``)."""

from django.db import models

from courses.models import Course


class CourseEmbedding(models.Model):
    """The sentence embedding of a course's text (``recommendations.content.course_text``):
    ``vector`` holds ``recommendations.embeddings.DIMENSIONS`` little-endian float32 values of
    length 1, made by the model ``model_id`` from the text whose sha256 is ``text_hash``. A
    course whose text and model are unchanged is not embedded again; a vector of another
    model than the configured one is never compared (``recommendations.selectors``)."""

    course = models.OneToOneField(
        Course, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    model_id = models.CharField(max_length=200)
    text_hash = models.CharField(max_length=64)
    vector = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.course_id} ({self.model_id})"


class CourseScore(models.Model):
    """A published course's figures from the last refresh (``services.scores_refresh``, every
    10 minutes): ``trending`` (``scoring.trending_score`` of the last 7 days), the raw counts it
    comes from (``enrollments_7d``, ``views_7d``, ``watch_seconds_7d``) and ``students``, its
    active enrollments of all time (its popularity)."""

    course = models.OneToOneField(
        Course, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    trending = models.FloatField(default=0.0)
    enrollments_7d = models.IntegerField(default=0)
    views_7d = models.IntegerField(default=0)
    watch_seconds_7d = models.FloatField(default=0.0)
    students = models.IntegerField(default=0)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.course_id}: trending {self.trending:.2f}, {self.students} students"


class CourseNeighbour(models.Model):
    """``other`` (a published course) is among the courses most often taken with ``course``:
    ``students`` have an active enrollment in both, and ``score`` is the cosine of the two
    courses' enrollment vectors, ``students / sqrt(students of course * students of other)``
    (0-1). Each course keeps its ``services.NEIGHBOURS_PER_COURSE`` best; rebuilt by every
    refresh."""

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    students = models.IntegerField()
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "other"], name="course_neighbour_unique"),
            models.CheckConstraint(
                condition=~models.Q(course=models.F("other")), name="course_neighbour_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course_id} ~ {self.other_id}: {self.score:.2f}"
