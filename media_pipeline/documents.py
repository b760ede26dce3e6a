"""Document assets (presentation lectures): a PDF, or slides converted to PDF, with page images.

The pipeline of a document mirrors the video's (``transcoding``): an uploaded file is sniffed
by its magic bytes (``document_sniff``), stored as the asset's pending source and converted by
the task ``media_pipeline.tasks.document_convert`` (queue ``default``) into
``tenants/<schema>/lectures/<owner>/v<N>/document.pdf`` and ``.../v<N>/pages/NNN.jpg``
(``DOCUMENT_PAGE_WIDTH`` px wide JPEGs, ``001`` the first page); the asset is then switched to
version N in one UPDATE and the previous version deleted on commit.

Slides (PPTX, ODP, PPT) are converted by LibreOffice (``soffice --headless --convert-to pdf``)
with a profile of its own per run (two conversions never share a profile lock) and killed with
its whole process group at DOCUMENT_CONVERT_TIMEOUT. The page count is read with pypdf;
encrypted or unreadable PDFs and PDFs over DOCUMENT_MAX_PAGES pages are refused with a
readable error. Page images are rendered by poppler's ``pdftoppm``.

Runs hold a lease like transcodes: a run claims the pending version (status ``processing``,
one more attempt, ``lease_claim``/``lease_renewed_at``). Its hard time limit
(DOCUMENT_TASK_TIME_LIMIT) is shorter than DOCUMENT_LEASE_TIMEOUT, so a lease older than that
belongs to a dead run, and ``documents_recover`` (beat task) queues it again, or fails it after
TRANSCODE_MAX_ATTEMPTS attempts. No heartbeat is needed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import uuid
import zipfile
from functools import partial
from pathlib import Path
from uuid import UUID

import pypdf
from celery import current_app
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from pypdf.errors import PdfReadError, PyPdfError

from media_pipeline.leases import lease_take_over
from media_pipeline.models import MediaAsset
from media_pipeline.probe import MediaRejected
from media_pipeline.transcoding import asset_changed, pending_claim
from tenants.storage import (
    lecture_version_prefix,
    storage_delete_prefix,
    storage_download,
    storage_upload_tree,
)

logger = logging.getLogger(__name__)

#: The Celery task running ``document_convert``, sent by name (this module does not import the
#: tasks module, which imports it).
CONVERT_TASK = "media_pipeline.tasks.document_convert"
DOCUMENT_PDF = "document.pdf"
PAGES_DIR = "pages"

Status = MediaAsset.Status

# Magic bytes: PDF (ISO 32000-1, 7.5.2 "%PDF-"), ZIP local file header (PPTX, ODP), OLE2
# compound file (PowerPoint 97-2003 .ppt).
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODP_MIMETYPE = b"application/vnd.oasis.opendocument.presentation"
#: What ``document_sniff`` names: the extension the stored source gets.
DOCUMENT_FORMATS = ("pdf", "pptx", "odp", "ppt")
_REFUSED = "The file is not a PDF or a presentation (PPTX, ODP or PPT)."


class DocumentFailed(Exception):
    """A document could not be converted; ``message`` is readable by an instructor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def document_create(*, owner_id: UUID) -> MediaAsset:
    """The document asset of a new presentation lecture ``owner_id`` (``awaiting_media``).

    Raises ``django.db.IntegrityError`` when the owner already has one
    (``media_asset_one_document_per_owner``)."""
    return MediaAsset.objects.create(owner_id=owner_id, kind=MediaAsset.Kind.DOCUMENT)


def document_of(owner_id: UUID | str):
    """The document asset of a lecture (0 or 1 row), by the lecture's id."""
    return MediaAsset.objects.filter(owner_id=owner_id, kind=MediaAsset.Kind.DOCUMENT)


def document_sniff(path: str | os.PathLike[str]) -> str:
    """Name the format of an uploaded document from its bytes, ignoring name and Content-Type.

    Returns ``"pdf"`` (starts with ``%PDF-``), ``"pptx"`` (a ZIP holding ``ppt/`` entries,
    ECMA-376 Part 2), ``"odp"`` (a ZIP whose ``mimetype`` entry is the OpenDocument
    presentation type, ODF 1.3 Part 2, 3.3) or ``"ppt"`` (an OLE2 compound file).

    Raises ``MediaRejected``: ``EMPTY_FILE`` for no bytes, ``NOT_A_DOCUMENT`` for anything else
    (other ZIPs such as DOCX included), with a sentence an instructor can read.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise MediaRejected("EMPTY_FILE", "The file is empty.")
    if head.startswith(_PDF_MAGIC):
        return "pdf"
    if head.startswith(_OLE2_MAGIC):
        return "ppt"
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if any(name.startswith("ppt/") for name in names):
                    return "pptx"
                if "mimetype" in names and archive.read("mimetype").strip() == _ODP_MIMETYPE:
                    return "odp"
        except (zipfile.BadZipFile, OSError, KeyError) as exc:
            raise MediaRejected("NOT_A_DOCUMENT", "The file is a damaged ZIP archive.") from exc
    raise MediaRejected("NOT_A_DOCUMENT", _REFUSED)


def convert_message(*, schema_name: str, asset_id: UUID | str, version: int, task_id=None):
    """The sending of the conversion task of ``version`` as a callable for ``on_commit``."""
    options = {
        "kwargs": {"schema_name": schema_name, "asset_id": str(asset_id), "version": version},
    }
    if task_id is not None:
        options["task_id"] = task_id
    return partial(current_app.tasks[CONVERT_TASK].apply_async, **options)


def document_source_accept(*, asset_id: UUID, source_key: str) -> int:
    """Make ``source_key`` the pending source of the document asset and queue its conversion
    (on commit). The new version is ``max(version, pending_version) + 1``; the current version
    stays shown until the new one is ready; the replaced source and a superseded pending
    version's outputs are deleted on commit. Returns the pending version. Must run inside a
    transaction."""
    asset = MediaAsset.objects.select_for_update().get(pk=asset_id)
    replaced = asset.source_key
    superseded = asset.pending_version if asset.pending_version > asset.version else 0
    version = max(asset.version, asset.pending_version) + 1
    asset.source_key = source_key
    asset.pending_version = version
    asset.status = Status.QUEUED
    asset.progress = 0.0
    asset.error = None
    asset.attempts = 0
    asset.lease_claim = ""
    asset.lease_renewed_at = None
    asset.save()
    schema = connection.schema_name
    if superseded:
        prefix = lecture_version_prefix(schema, asset.owner_id, superseded)
        transaction.on_commit(partial(storage_delete_prefix, prefix))
    if replaced and replaced != source_key:
        transaction.on_commit(partial(default_storage.delete, replaced))
    asset_changed(asset, version=version, event="queued")
    transaction.on_commit(convert_message(schema_name=schema, asset_id=asset.pk, version=version))
    return version


def _pending(asset_id: UUID | str, version: int, claim: str | None = None):
    rows = MediaAsset.objects.filter(
        pk=asset_id,
        kind=MediaAsset.Kind.DOCUMENT,
        pending_version=version,
        status=Status.PROCESSING,
    )
    return rows if claim is None else rows.filter(lease_claim=claim)


def document_convert_begin(
    *, asset_id: UUID | str, version: int, claim: str | None = None
) -> MediaAsset | None:
    """Claim the conversion of ``version`` for the run ``claim`` (its task id): claimable are a
    ``queued`` document and a ``processing`` one whose lease is its own or older than
    DOCUMENT_LEASE_TIMEOUT. Returns the asset, or ``None`` when there is nothing to do (gone,
    superseded, finished, held by a live run) or when TRANSCODE_MAX_ATTEMPTS claims were
    already made (the document is then ``failed``)."""
    claim = claim or uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        return pending_claim(
            MediaAsset.objects.filter(pk=asset_id, kind=MediaAsset.Kind.DOCUMENT),
            version=version,
            claim=claim,
            now=now,
            alive=lambda asset: _document_lease_alive(asset.lease_renewed_at, now=now),
            exhausted=lambda asset: document_convert_fail(
                asset_id=asset_id,
                version=version,
                message="The document could not be processed after "
                f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
            ),
        )


def _document_lease_alive(renewed_at, *, now=None) -> bool:
    if renewed_at is None:
        return False
    return renewed_at > (now or timezone.now()) - settings.DOCUMENT_LEASE_TIMEOUT


def document_convert_fail(*, asset_id: UUID | str, version: int, message: str) -> None:
    """Mark the pending ``version`` failed with a readable ``message`` (no-op if superseded or
    ready); its source and partial outputs are deleted on commit. A document that already shows
    an older version keeps showing it."""
    schema = connection.schema_name
    with transaction.atomic():
        asset = (
            MediaAsset.objects.select_for_update()
            .filter(pk=asset_id, kind=MediaAsset.Kind.DOCUMENT, pending_version=version)
            .first()
        )
        if asset is None or asset.status == Status.READY:
            return
        source = asset.source_key
        asset.status = Status.FAILED
        asset.error = message
        asset.progress = 0.0
        asset.source_key = ""
        asset.source_bytes = 0
        asset.save(
            update_fields=[
                "status",
                "error",
                "progress",
                "source_key",
                "source_bytes",
                "updated_at",
            ]
        )
        asset_changed(asset, version=version, event="failed")
        if source:
            transaction.on_commit(partial(default_storage.delete, source))
        if version != asset.version:
            prefix = lecture_version_prefix(schema, asset.owner_id, version)
            transaction.on_commit(partial(storage_delete_prefix, prefix))


def _run(command: list[str], *, timeout: float, what: str) -> None:
    """Run ``command`` in its own session; on timeout kill its whole process group (LibreOffice
    forks ``soffice.bin``) and raise ``DocumentFailed``; a non-zero exit raises it too."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise DocumentFailed(f"{what} did not finish within {int(timeout)} s.") from exc
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if returncode != 0:
            output.seek(0)
            tail = output.read()[-300:].decode("utf-8", "replace").strip()
            raise DocumentFailed(f"{what} failed ({tail or f'exit status {returncode}'}).")


def slides_to_pdf(source: Path, work: Path) -> Path:
    """Convert slides at ``source`` (PPTX, ODP, PPT) to PDF in ``work`` with LibreOffice, with a
    profile of its own under ``work``; returns the PDF's path. Raises ``DocumentFailed``."""
    profile = work / "profile"
    out = work / "converted"
    out.mkdir()
    _run(
        [
            settings.LIBREOFFICE_BINARY,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(source),
        ],
        timeout=settings.DOCUMENT_CONVERT_TIMEOUT,
        what="Converting the slides to PDF",
    )
    pdf = out / f"{source.stem}.pdf"
    if not pdf.is_file():
        raise DocumentFailed("The slides could not be converted to PDF.")
    return pdf


def pdf_page_count(path: Path) -> int:
    """Pages of the PDF at ``path`` (pypdf). Raises ``DocumentFailed`` for an encrypted,
    unreadable or empty PDF and for more than DOCUMENT_MAX_PAGES pages."""
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            raise DocumentFailed("The PDF is password-protected; upload it without a password.")
        count = len(reader.pages)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentFailed("The PDF is damaged and cannot be read.") from exc
    if count == 0:
        raise DocumentFailed("The PDF has no pages.")
    if count > settings.DOCUMENT_MAX_PAGES:
        raise DocumentFailed(
            f"The document has {count} pages; at most {settings.DOCUMENT_MAX_PAGES} are allowed."
        )
    return count


def pages_render(pdf: Path, out: Path, *, page_count: int) -> None:
    """Render every page of ``pdf`` to ``out/NNN.jpg`` (``pdftoppm``, JPEG, DOCUMENT_PAGE_WIDTH
    px wide, height to scale). Raises ``DocumentFailed``."""
    out.mkdir()
    _run(
        [
            settings.PDFTOPPM_BINARY,
            "-jpeg",
            "-jpegopt",
            "quality=80",
            "-scale-to-x",
            str(settings.DOCUMENT_PAGE_WIDTH),
            "-scale-to-y",
            "-1",
            str(pdf),
            str(out / "page"),
        ],
        timeout=settings.DOCUMENT_CONVERT_TIMEOUT,
        what="Rendering the pages",
    )
    # pdftoppm pads page numbers to the width of the last one (page-1.jpg, page-01.jpg, ...).
    rendered = sorted(out.glob("page-*.jpg"), key=lambda p: int(p.stem.rpartition("-")[2]))
    if len(rendered) != page_count:
        raise DocumentFailed("The pages of the document could not be rendered.")
    for path in rendered:
        path.rename(out / f"{int(path.stem.rpartition('-')[2]):03d}.jpg")


def document_convert(*, asset_id: UUID | str, version: int, claim: str | None = None) -> bool:
    """Convert the pending source of a document asset into ``version`` and switch to it, as the
    run ``claim``: slides to PDF (LibreOffice), page count (pypdf), page images (pdftoppm),
    outputs copied to ``.../v<version>/`` and the asset switched in one UPDATE (``page_count``,
    status ``ready``); the previous version is deleted on commit. Returns ``True`` when this
    call made the version ready. Bad documents end ``failed`` with a readable error."""
    asset = document_convert_begin(asset_id=asset_id, version=version, claim=claim)
    if asset is None:
        return False
    claim = asset.lease_claim
    schema = connection.schema_name
    owner_id = asset.owner_id
    try:
        with tempfile.TemporaryDirectory(prefix="lectern-document-") as folder:
            work = Path(folder)
            extension = Path(asset.source_key).suffix.lstrip(".")
            source = work / f"source.{extension}"
            storage_download(asset.source_key, source)
            result = work / "result"
            result.mkdir()
            pdf = source if extension == "pdf" else slides_to_pdf(source, work)
            page_count = pdf_page_count(pdf)
            _progress(asset, version, claim, 40.0)
            pages_render(pdf, result / PAGES_DIR, page_count=page_count)
            _progress(asset, version, claim, 80.0)
            os.replace(pdf, result / DOCUMENT_PDF)
            if not _pending(asset_id, version, claim).exists():
                logger.warning("Conversion of document %s v%s lost its lease", asset_id, version)
                return False
            prefix = lecture_version_prefix(schema, owner_id, version)
            storage_delete_prefix(prefix)
            storage_upload_tree(result, prefix)
    except DocumentFailed as exc:
        logger.info("Conversion of document %s v%s failed: %s", asset_id, version, exc.message)
        if _pending(asset_id, version, claim).exists():
            document_convert_fail(asset_id=asset_id, version=version, message=exc.message)
        return False
    return _document_switch(asset_id=asset_id, version=version, claim=claim, pages=page_count)


def _progress(asset: MediaAsset, version: int, claim: str, percent: float) -> None:
    asset.progress = percent
    if _pending(asset.pk, version, claim).update(progress=percent):
        asset_changed(asset, version=version, event="progress")


def _document_switch(*, asset_id: UUID | str, version: int, claim: str, pages: int) -> bool:
    schema = connection.schema_name
    with transaction.atomic():
        asset = _pending(asset_id, version, claim).select_for_update().first()
        if asset is None:
            owner = MediaAsset.objects.filter(pk=asset_id).values_list("owner_id", "version")
            row = owner.first()
            if row is not None and row[1] != version:
                prefix = lecture_version_prefix(schema, row[0], version)
                transaction.on_commit(partial(storage_delete_prefix, prefix))
            return False
        previous = asset.version
        source = asset.source_key
        asset.version = version
        asset.status = Status.READY
        asset.progress = 100.0
        asset.error = None
        asset.page_count = pages
        asset.source_key = ""
        asset.save()
        asset_changed(asset, version=version, event="ready")
        if source:
            transaction.on_commit(partial(default_storage.delete, source))
        if previous and previous != version:
            old = lecture_version_prefix(schema, asset.owner_id, previous)
            transaction.on_commit(partial(storage_delete_prefix, old))
    return True


def document_convert_abandon(*, asset_id: UUID | str, version: int, claim: str, message: str):
    """End the run ``claim`` that stopped on an unexpected error (the task's ``on_failure``):
    the document is ``failed`` with ``message``, only while this run holds it (or nothing
    claimed it yet). Returns whether it did."""
    with transaction.atomic():
        asset = (
            MediaAsset.objects.select_for_update()
            .filter(pk=asset_id, kind=MediaAsset.Kind.DOCUMENT, pending_version=version)
            .first()
        )
        held = asset is not None and (
            asset.status == Status.QUEUED
            or (asset.status == Status.PROCESSING and asset.lease_claim == claim)
        )
        if not held:
            return False
        document_convert_fail(asset_id=asset_id, version=version, message=message)
    return True


def documents_recover() -> dict[str, list[UUID]]:
    """Queue again the conversions of the current school whose run was lost (``processing``
    with a lease older than DOCUMENT_LEASE_TIMEOUT: longer than the task's hard time limit, so
    the run is dead), under a new claim sent on commit; a document that used
    TRANSCODE_MAX_ATTEMPTS attempts is failed instead. Returns ``{"requeued": [asset ids],
    "failed": [asset ids]}``; run for every school by the beat task of the same name."""
    schema = connection.schema_name
    result: dict[str, list[UUID]] = {"requeued": [], "failed": []}
    cutoff = timezone.now() - settings.DOCUMENT_LEASE_TIMEOUT
    lost = MediaAsset.objects.filter(
        kind=MediaAsset.Kind.DOCUMENT, status=Status.PROCESSING, lease_renewed_at__lt=cutoff
    ).values_list("pk", flat=True)
    for asset_id in list(lost):
        with transaction.atomic():
            asset = (
                MediaAsset.objects.select_for_update(skip_locked=True)
                .filter(pk=asset_id, status=Status.PROCESSING, lease_renewed_at__lt=cutoff)
                .first()
            )
            if asset is None:
                continue
            version = asset.pending_version
            if asset.attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
                document_convert_fail(
                    asset_id=asset_id,
                    version=version,
                    message="The document could not be processed after "
                    f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
                )
                result["failed"].append(asset_id)
                continue
            claim = lease_take_over(asset)
            transaction.on_commit(
                convert_message(
                    schema_name=schema, asset_id=asset_id, version=version, task_id=claim
                )
            )
            result["requeued"].append(asset_id)
    return result
