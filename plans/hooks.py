"""Hooks of the plans app (docs/ARCHITECTURE.md, "Layers and hooks")."""

from tenants.hooks import Hook

#: Asked, inside a school's schema and without payload, what the apps above measure of the
#: school: each receiver returns a dict of figures, summed per name. ``media_pipeline``:
#: ``{"storage_bytes", "reserved_bytes"}`` (kept source files, uploads in progress at their
#: Upload-Length); ``courses``: ``{"courses"}``; ``enrollment``: ``{"students"}`` (students
#: with an active enrollment).
usage_measure = Hook("plans.usage_measure", payload=())
