"""The student dashboard ``/my/`` and the certificates' pages: the public verification page
``/certificates/<id>/`` and the owner's PDF download ``/certificates/<id>/pdf``."""

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from courses.pages import error_page
from learning import selectors
from learning.downloads import certificate_download_check, certificate_download_url


@login_required
def my_dashboard(request: HttpRequest) -> HttpResponse:
    """``/my/``: the signed-in account's figures, streaks, 30-day activity chart (Chart.js,
    static/src/my.js; server-drawn bars without scripts), continue
    watching, recent activity, achievements and certificates (with download links)."""
    student = request.user
    today = selectors.student_today(student=student)
    summary = selectors.student_summary(student=student, today=today)
    peak = max((day["seconds"] for day in summary["days"]), default=0.0) or 1.0
    for day in summary["days"]:
        day["height"] = round(100 * day["seconds"] / peak)
        day["minutes"] = round(day["seconds"] / 60)
    certificates = [
        {
            "certificate": certificate,
            "download_url": certificate_download_url(
                certificate_id=certificate.id, student_id=student.pk
            )
            if certificate.status == certificate.Status.READY and not certificate.revoked_at
            else None,
        }
        for certificate in selectors.certificate_list(student=student)
    ]
    context = {
        "summary": summary,
        # For the chart (static/src/my.js): one {date, minutes, lectures} per day, oldest first.
        "activity": [
            {"date": day["date"], "minutes": day["minutes"], "lectures": day["lectures"]}
            for day in summary["days"]
        ],
        "watch_minutes": round(summary["watch_seconds"] / 60),
        "achievements": list(selectors.achievement_list(student=student)),
        "certificates": certificates,
        "today": today,
    }
    return render(request, "learning/my.html", context)


def _certificate_or_404(request: HttpRequest, certificate_id: str):
    certificate = selectors.certificate_by_public_id(certificate_id=certificate_id)
    if certificate is None:
        return None, error_page(
            request,
            status=404,
            title="Certificate not found",
            message="There is no certificate with this id at this school.",
        )
    return certificate, None


@require_safe
def certificate_verify(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """``/certificates/<id>/`` (public, no login, ``noindex``): whether the certificate is
    valid or revoked, the school, the student's name, the course and the date. 404 for an
    unknown id (another school's included)."""
    certificate, missing = _certificate_or_404(request, certificate_id)
    if missing is not None:
        missing["X-Robots-Tag"] = "noindex"
        return missing
    response = render(
        request,
        "learning/certificate.html",
        {"certificate": certificate, "school_name": connection.tenant.name},
    )
    response["X-Robots-Tag"] = "noindex"
    return response


@require_safe
def certificate_pdf(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """``/certificates/<id>/pdf?token=…``: the PDF, for a link signed for its owner
    (``learning.downloads``) on this school; 404 for anything else, a revoked certificate or
    one whose PDF is not made yet."""
    certificate, missing = _certificate_or_404(request, certificate_id)
    if missing is not None:
        return missing
    owner = certificate_download_check(
        certificate_id=certificate.id, token=request.GET.get("token", "")
    )
    ready = certificate.status == certificate.Status.READY and certificate.file
    if owner != certificate.student_id or not ready or certificate.revoked_at:
        return error_page(
            request,
            status=404,
            title="Certificate not found",
            message="This download link is not valid (it may have expired).",
        )
    response = FileResponse(
        default_storage.open(certificate.file, "rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"certificate-{certificate.id.hex}.pdf",
    )
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"
    return response
