"""The captions page of a video lecture in the instructor dashboard
(``/dashboard/courses/<id>/lectures/<id>/captions/``): the track's status and reason, its cues
editable a page of CUES_PER_PAGE at a time (start, end, text; rows added and removed), a
WebVTT or SubRip upload whose errors name the line, the WebVTT download (the API's
``.../captions/vtt``), removal, and a new transcription that asks before discarding edits.

Every write goes through ``media_pipeline.captions`` (the API's services); the lecture through
``courses.captions.captions_lecture`` (course ownership: another instructor gets 404). Works
without scripts: a page of cues is one form of at most 4 x (CUES_PER_PAGE + NEW_ROWS) fields,
well under Django's DATA_UPLOAD_MAX_NUMBER_FIELDS.
"""

from __future__ import annotations

import math
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from webvtt.errors import MalformedCaptionError
from webvtt.models import Timestamp

from courses import selectors
from courses.captions import captions_lecture, captions_state
from courses.pages import error_page
from courses.permissions import instructor_required
from media_pipeline import captions, subtitles
from tenants.errors import ApplicationError

CUES_PER_PAGE = 100
NEW_ROWS = 3


def time_text(seconds: float) -> str:
    """``HH:MM:SS.mmm`` (the WebVTT timestamp) of ``seconds``."""
    return str(Timestamp.from_seconds(round(max(seconds, 0.0), 3)))


def time_parse(text: str) -> float:
    """Seconds of ``HH:MM:SS.mmm``, ``MM:SS.mmm`` or a plain number of seconds (``12.5``).
    Raises ``ValueError`` for anything else."""
    text = text.strip().replace(",", ".")
    if ":" in text:
        try:
            return Timestamp.from_string(text).in_milliseconds() / 1000
        except MalformedCaptionError as exc:
            raise ValueError(text) from exc
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _rows(request: HttpRequest) -> tuple[list[dict], list[subtitles.Cue] | None]:
    """The submitted rows (as typed, with their messages) and their cues, or ``None`` for the
    cues when a time cannot be read. Rows ticked "remove" and blank new rows are left out."""
    starts, ends, texts = (request.POST.getlist(name) for name in ("start", "end", "text"))
    removed = set(request.POST.getlist("remove"))
    rows, cues, readable = [], [], True
    for index, (start, end, text) in enumerate(zip(starts, ends, texts, strict=False)):
        if str(index) in removed or not (start.strip() or end.strip() or text.strip()):
            continue
        row = {"start": start, "end": end, "text": text, "errors": []}
        try:
            cues.append(subtitles.Cue(start=time_parse(start), end=time_parse(end), text=text))
        except ValueError:
            row["errors"].append("Times are HH:MM:SS.mmm, MM:SS.mmm or seconds.")
            readable = False
        rows.append(row)
    return rows, cues if readable else None


def _page_url(request, course_id, lecture_id, page: int) -> str:
    url = reverse("dashboard-lecture-captions", args=[course_id, lecture_id])
    return f"{url}?page={page}" if page > 1 else url


def _render(request, context: dict, status: int = 200) -> HttpResponse:
    return render(request, "dashboard/captions.html", context, status=status)


@instructor_required
@require_http_methods(["GET", "POST"])
def lecture_captions_page(request: HttpRequest, course_id: UUID, lecture_id: UUID):
    """GET shows the track (page ``?page=``); POST ``action``: ``save`` (this page's rows
    replace its cues: ``captions.captions_edit`` of the whole track), ``upload`` (``file``),
    ``delete``, ``transcribe`` (an edited track first asks: ``confirm`` discards the edits).
    Errors re-render the page with 400 and change nothing."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    try:
        lecture = captions_lecture(user=request.user, lecture_id=lecture_id, course=course)
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        return error_page(request, status=exc.status, title="No captions", message=exc.message)
    state = captions_state(lecture=lecture)
    pages = max(1, math.ceil(len(state.cues) / CUES_PER_PAGE))
    try:
        page = min(max(int(request.GET.get("page", "1")), 1), pages)
    except ValueError:
        page = 1
    offset = (page - 1) * CUES_PER_PAGE
    shown = state.cues[offset : offset + CUES_PER_PAGE]
    context = {
        "course": course,
        "lecture": lecture,
        "state": state,
        "page": page,
        "pages": pages,
        "offset": offset,
        "rows": [
            {"start": time_text(c.start), "end": time_text(c.end), "text": c.text, "errors": []}
            for c in shown
        ],
        "shown_count": len(shown),
        "new_rows": range(NEW_ROWS),
        "upload_errors": [],
        "confirm_transcribe": False,
        "max_upload": settings.CAPTIONS_UPLOAD_MAX_BYTES,
        "previous_url": _page_url(request, course_id, lecture_id, page - 1) if page > 1 else None,
        "next_url": _page_url(request, course_id, lecture_id, page + 1) if page < pages else None,
    }
    if request.method == "GET":
        return _render(request, context)
    action = request.POST.get("action", "")
    here = _page_url(request, course_id, lecture_id, page)
    try:
        if action == "save":
            rows, cues = _rows(request)
            if cues is None:
                context.update(rows=rows, new_rows=())
                return _render(request, context, status=400)
            merged = state.cues[:offset] + cues + state.cues[offset + len(shown) :]
            try:
                captions.captions_edit(lecture_id=lecture.pk, cues=merged)
            except captions.CaptionsInvalid as exc:
                for key, problems in exc.details.items():
                    index = int(key.partition(".")[2] or -1) - offset
                    if 0 <= index < len(rows):
                        rows[index]["errors"] += problems
                    else:
                        messages.error(request, " ".join(problems))
                context.update(rows=rows, new_rows=())
                return _render(request, context, status=400)
            messages.success(request, "Captions saved.")
        elif action == "upload":
            upload = request.FILES.get("file")
            if upload is None:
                context["upload_errors"] = ["Choose a WebVTT (.vtt) or SubRip (.srt) file."]
                return _render(request, context, status=400)
            data = upload.read(settings.CAPTIONS_UPLOAD_MAX_BYTES + 1)
            try:
                captions.captions_upload(lecture_id=lecture.pk, data=data)
            except captions.CaptionsInvalid as exc:
                context["upload_errors"] = exc.details.get("file", [exc.message])
                return _render(request, context, status=400)
            messages.success(request, f"“{upload.name}” is the lecture's captions now.")
            here = _page_url(request, course_id, lecture_id, 1)
        elif action == "delete":
            captions.captions_delete(lecture_id=lecture.pk)
            messages.success(request, "Captions removed.")
        elif action == "transcribe":
            if state.edited and request.POST.get("confirm") != "discard":
                context["confirm_transcribe"] = True
                return _render(request, context)
            captions.captions_transcribe(lecture_id=lecture.pk, discard_edits=state.edited)
            messages.success(request, "The lecture is being transcribed; this takes a while.")
        else:
            messages.error(request, "Unknown action.")
    except ApplicationError as exc:  # 409 NOT_READY, 404 for a track already removed
        messages.error(request, exc.message)
    return redirect(here)
