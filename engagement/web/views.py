"""The student's own pages: ``/notes/`` (search and export one's notes) and ``/lists/`` (saved
lists, reordered by drag and drop through the API)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from courses.models import Course
from engagement import selectors, services
from engagement.api.serializers import NoteOutput, list_payload

NOTES_PER_PAGE = 20


@login_required
def notes_page(request: HttpRequest) -> HttpResponse:
    """``/notes/``: the signed-in account's notes, newest first, or ranked by the full-text
    search ``q`` (snippets with the matched words marked), filtered by ``course``; and one
    Markdown export link per course they have notes on."""
    q = request.GET.get("q", "").strip()[:200]
    course_filter = request.GET.get("course", "")
    courses = list(
        Course.objects.filter(
            id__in=selectors.note_list(student=request.user).values("course_id")
        ).order_by("title")
    )
    selected = next((c for c in courses if str(c.id) == course_filter), None)
    notes = selectors.note_list(
        student=request.user, course_id=selected.id if selected else None, q=q
    )
    page = Paginator(notes, NOTES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "q": q,
        "courses": courses,
        "selected": selected,
        "page": page,
        "notes": NoteOutput(page.object_list, many=True).data,
    }
    return render(request, "engagement/notes.html", context)


@login_required
@ensure_csrf_cookie
def lists_page(request: HttpRequest) -> HttpResponse:
    """``/lists/``: the account's saved lists (Watch later first) with their items; the page's
    script (``static/build/lists.js``) creates, renames, deletes and reorders through the API."""
    services.watch_later_ensure(student=request.user)
    lists = [
        list_payload(student=request.user, saved_list=saved)
        for saved in selectors.saved_lists(student=request.user)
    ]
    return render(request, "engagement/lists.html", {"lists": lists})
