"""Analytics data in each school's schema."""

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
