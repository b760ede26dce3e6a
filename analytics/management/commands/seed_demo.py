"""``manage.py seed_demo``: a ``demo`` school with a course whose lecture is really transcoded.

Idempotent: what exists is reused, so a second run takes seconds. It lives in ``analytics``,
the top app, because it seeds every app below it (schools, courses, media, enrollments).
"""

import io
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context
from PIL import Image, ImageDraw

from courses.models import Course, Lecture
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from enrollment.services import access_codes_create
from media_pipeline.models import MediaAsset
from media_pipeline.samples import sample_clip
from media_pipeline.transcoding import lecture_transcode
from media_pipeline.uploads import upload_from_path
from tenants.accounts.services import AVATAR_BOX, user_profile_update
from tenants.images import image_reencode
from tenants.models import Tenant
from tenants.services import platform_setup, tenant_provision

DEMO_SUBDOMAIN = "demo"
OWNER = ("owner@demo.test", "demo-owner-pass")
INSTRUCTOR = ("instructor@demo.test", "demo-instructor-pass")
STUDENT = ("student@demo.test", "demo-student-pass")
COURSE_TITLE = "Welcome to Lectern"
SECOND_INSTRUCTOR = ("instructor2@demo.test", "demo-instructor2-pass")
SECOND_COURSE_TITLE = "Sketching for beginners"
INVITED = "invited@demo.test"


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
                lecture_create(section=section, title="Big Buck Bunny (sample lecture)")
            lecture = Lecture.objects.select_related("video").filter(section__course=course).first()
            asset = lecture.video
            if asset.version == 0:
                try:
                    source = video or sample_clip()
                except FileNotFoundError as exc:
                    raise CommandError(f"{exc} Pass --video PATH.") from exc
                self.stdout.write(f"Transcoding {source.name} for the demo lecture...")
                upload_from_path(user=owner, lecture_id=lecture.id, path=source)
                asset.refresh_from_db()
                if asset.status == MediaAsset.Status.FAILED:
                    raise CommandError(f"The demo video was rejected: {asset.error}")
                lecture_transcode(lecture_id=lecture.id, version=asset.pending_version)
                asset.refresh_from_db()
                if asset.status != MediaAsset.Status.READY:
                    raise CommandError(f"The demo lecture did not transcode: {asset.error}")
            Enrollment.objects.get_or_create(student=student, course=course)
            spare = access_codes_create(course=course, quantity=1).codes[0]
            _demo_accounts(student=student, instructor=User.objects.get(email=INSTRUCTOR[0]))
            _demo_teams(owner=owner, course=course)

        host = f"{DEMO_SUBDOMAIN}.{settings.PLATFORM_DOMAIN}:{port}"
        platform = f"{settings.PLATFORM_DOMAIN}:{port}"
        lines = [
            "",
            "Lectern is ready.",
            f"  School page:   http://{host}/   (students: log in, redeem, watch)",
            f"  Dashboard:     http://{host}/dashboard/   (instructor and owner)",
            f"  School admin:  http://{host}/admin/   (owner)",
            f"  API:           http://{host}/api/v1/   (docs: http://{host}/api/docs/)",
            f"  Staff admin:   http://{platform}/admin/",
            f"  Instructor:    {INSTRUCTOR[0]} / {INSTRUCTOR[1]}",
            f"  Instructor 2:  {SECOND_INSTRUCTOR[0]} / {SECOND_INSTRUCTOR[1]}   (own course)",
            f"  Invitation:    {INVITED} (pending, on the owner's Team page)",
            f"  Owner:         {OWNER[0]} / {OWNER[1]}",
            f"  Student:       {STUDENT[0]} / {STUDENT[1]}   (enrolled in '{COURSE_TITLE}')",
            f"  Access code:   {spare}   (unused; redeem it as a new student)",
            "",
        ]
        self.stdout.write("\n".join(lines))


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
