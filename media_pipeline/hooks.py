"""Hooks the media pipeline fires (``tenants.hooks``; listed in docs/ARCHITECTURE.md)."""

from tenants.hooks import Hook

#: What happened to an asset, the ``event`` of ``asset_changed``: an upload started or was
#: abandoned (``upload``), an uploaded file was refused (``rejected``: ``error`` says why; the
#: status is ``failed``, or stays ``ready`` when an older version plays), a source was queued,
#: processing started (or restarted after a lost run), a progress step was stored, the version
#: became ready, or processing failed.
ASSET_EVENTS = ("upload", "rejected", "queued", "processing", "progress", "ready", "failed")

#: Fired inside the changing service's transaction whenever a media asset's state changes, so a
#: receiver can act at once and again on commit (cache versions) or only once the change is
#: committed (``transaction.on_commit``: events sent to browsers). Payload (keywords):
#: ``schema_name`` (str), ``asset_id`` (UUID), ``owner_id`` (UUID: the lecture), ``kind``
#: (``MediaAsset.Kind``), ``version`` (int: the version being processed or made ready),
#: ``status`` (``MediaAsset.Status``), ``progress`` (float, 0-100), ``error`` (str or None),
#: ``event`` (one of ``ASSET_EVENTS``). Receivers: ``courses`` (outline and catalogue caches)
#: and ``analytics`` (the dashboards' ``video.processing`` events).
asset_changed = Hook(
    "asset_changed",
    payload=(
        "schema_name",
        "asset_id",
        "owner_id",
        "kind",
        "version",
        "status",
        "progress",
        "error",
        "event",
    ),
)

#: Asked by ``media_pipeline.uploads.upload_create`` before an upload of a lecture's media
#: starts, inside its transaction. Payload: ``user`` (the uploading account) and ``owner_id``
#: (UUID: the lecture). A receiver refuses by raising an ``ApplicationError`` (``NotFound``, so
#: a lecture the uploader may not change answers like an unknown one). Connected by ``courses``
#: (only the instructors of the lecture's course, and the school's owner, upload to it).
upload_guards = Hook("upload_guards", payload=("user", "owner_id"))

#: Fired on commit whenever the cues of a lecture's caption track were replaced (transcribed,
#: edited, uploaded) or removed. Payload: ``schema_name`` (str), ``owner_id`` (UUID: the
#: lecture), ``asset_id`` (UUID of the ``captions`` asset, or None when the track is gone).
#: Receivers: ``search`` (the lecture's transcript index).
captions_changed = Hook("captions_changed", payload=("schema_name", "owner_id", "asset_id"))

#: Collected by ``media_pipeline.captions.lecture_language`` (captions runs, edits and uploads):
#: the language of the lecture ``owner_id`` (UUID), asked of the app that owns lectures. Each
#: receiver returns a BCP 47 tag (``"en"``, ``"pt-BR"``) or ``None`` when ``owner_id`` is not
#: its lecture; the first tag wins. Receivers: ``courses`` (the lecture's course's
#: ``language``).
lecture_language = Hook("lecture_language", payload=("owner_id",))
