"""Celery tasks of the plans app (thin: they call ``plans.metering``)."""

from celery import shared_task

from plans import metering


@shared_task(name="plans.tasks.served_bytes_collect", time_limit=120, soft_time_limit=100)
def served_bytes_collect() -> int:
    """Beat task (CELERY_BEAT_SCHEDULE ``collect-served-bytes``): the media bytes the web
    processes flushed to Redis go into each school's ``UsageMonth`` of this month
    (``plans.metering.served_collect``). Returns the bytes stored. Takes no ``schema_name``:
    it writes the public schema, one row per school named in the hash."""
    return metering.served_collect()
