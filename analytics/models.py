"""Analytics data in each school's schema."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class WatchEvent(models.Model):
    """One watched range of one heartbeat: ``student_id`` watched ``[start, end]`` seconds of
    ``lecture_id`` (in ``course_id``) as reported at ``at``.

    Rows are written in batches by ``analytics.services.watch_events_flush`` from the school's
    Redis buffer. ``event_id`` is made when the heartbeat is recorded and is unique, so a batch
    stored twice (a flush that died after its commit) adds nothing. Ids are plain values, not
    foreign keys: an event log outlives deleted accounts and lectures and never blocks a batch.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    student_id = models.BigIntegerField()
    course_id = models.UUIDField()
    lecture_id = models.UUIDField()
    start = models.FloatField()
    end = models.FloatField()
    seconds = models.FloatField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["course_id", "at"], name="watch_event_course_at"),
            models.Index(fields=["lecture_id", "at"], name="watch_event_lecture_at"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} watched {self.lecture_id} {self.start}-{self.end}"


class CourseView(models.Model):
    """A student opened a course page (``lecture_id`` null) or a lecture page, at ``at``.

    Written by ``analytics.services.course_view_record``; counted into ``CourseDay.views`` by
    the rollup. Plain ids, like ``WatchEvent``.
    """

    id = models.BigAutoField(primary_key=True)
    student_id = models.BigIntegerField()
    course_id = models.UUIDField()
    lecture_id = models.UUIDField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["course_id", "at"], name="course_view_course_at")]

    def __str__(self) -> str:
        return f"{self.student_id} viewed {self.course_id}"


class RollupState(models.Model):
    """Watermark of one rollup source (``name``: ``watch`` or ``view``): every row of that
    source with ``id <= last_id`` is counted in the rollup tables (``analytics.rollups``)."""

    name = models.CharField(max_length=32, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} <= {self.last_id}"


class CourseDay(models.Model):
    """One course's activity on one UTC day: page ``views`` and ``watch_seconds`` (the summed
    length of the watch events of that day, re-watches included)."""

    id = models.BigAutoField(primary_key=True)
    course_id = models.UUIDField()
    day = models.DateField()
    views = models.BigIntegerField(default=0)
    watch_seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["course_id", "day"]
        constraints = [
            models.UniqueConstraint(fields=["course_id", "day"], name="course_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.course_id} {self.day}"


class CourseStudent(models.Model):
    """When a student was last active in a course (a watch event or a page view), for the
    "active students in the last N days" counts."""

    id = models.BigAutoField(primary_key=True)
    course_id = models.UUIDField()
    student_id = models.BigIntegerField()
    last_active = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course_id", "student_id"], name="course_student_unique"
            )
        ]
        indexes = [models.Index(fields=["course_id", "last_active"], name="course_student_act")]

    def __str__(self) -> str:
        return f"{self.student_id} in {self.course_id}"


class LectureViewer(models.Model):
    """How often one student watched each bin of one lecture: ``bins[i]`` is the number of
    watch events whose range overlaps ``[i * BIN_SECONDS, (i + 1) * BIN_SECONDS)``."""

    id = models.BigAutoField(primary_key=True)
    lecture_id = models.UUIDField()
    student_id = models.BigIntegerField()
    bins = ArrayField(models.IntegerField(), default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lecture_id", "student_id"], name="lecture_viewer_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} on {self.lecture_id}"


class LectureStat(models.Model):
    """The rollup of one lecture: ``viewers`` (students with any watch event),
    ``watch_seconds``, and per bin of BIN_SECONDS the students who watched it
    (``bin_viewers``) and who watched it more than once (``bin_rewatchers``);
    ``average_completion`` (0-100) and ``completed`` come from ``LectureProgress``."""

    lecture_id = models.UUIDField(primary_key=True)
    course_id = models.UUIDField(db_index=True)
    viewers = models.IntegerField(default=0)
    watch_seconds = models.FloatField(default=0.0)
    bin_viewers = ArrayField(models.IntegerField(), default=list)
    bin_rewatchers = ArrayField(models.IntegerField(), default=list)
    average_completion = models.FloatField(default=0.0)
    completed = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.lecture_id}: {self.viewers} viewers"
