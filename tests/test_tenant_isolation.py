"""Every route of the school urlconf, called with school A's credentials on school B's host.

A route added without a case here fails ``test_every_route_has_a_cross_tenant_case``.
"""

import base64

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from enrollment.services import access_codes_create, playback_grant
from tenants.testing import PASSWORD, TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db


def routes(urlconf: str) -> set[str]:
    """Route strings of a urlconf, with the whole admin site counted as ``admin/``."""
    found: set[str] = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith("admin/"):
                found.add("admin/")
            elif isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.add(route)

    walk(get_resolver(urlconf).url_patterns)
    return found


@pytest.fixture
def world(tenant, other_tenant):
    """School A with content, codes, an enrolled student and a playback token; school B with
    its own instructor and student. Returns everything the cases need."""
    owner_a = make_user(tenant, "owner-x@alpha.test", role="instructor")
    student_a = make_user(tenant, "student-x@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Alpha secret course", published=True, created_by=owner_a)
        section = section_create(course=course, title="Alpha section")
        lecture = lecture_create(section=section, title="Alpha lecture")
        lecture.media_version = 1
        lecture.duration = 10.0
        lecture.save()
        code = access_codes_create(course=course, quantity=1).codes[0]
        Enrollment.objects.create(student=student_a, course=course)
        grant = playback_grant(student=student_a, course_id=course.id, lecture_id=lecture.id)
    a_instructor = TenantClient(tenant, user=owner_a)
    a_student = TenantClient(tenant, user=student_a)
    # Clients on B's host carrying A's JWTs.
    b_with_a_instructor = TenantClient(other_tenant)
    b_with_a_instructor.credentials(HTTP_AUTHORIZATION=f"Bearer {a_instructor.tokens['access']}")
    b_with_a_student = TenantClient(other_tenant)
    b_with_a_student.credentials(HTTP_AUTHORIZATION=f"Bearer {a_student.tokens['access']}")
    # B's own accounts, to show that A's ids behave as unknown ids.
    b_instructor = TenantClient(
        other_tenant, user=make_user(other_tenant, "owner-x@beta.test", role="instructor")
    )
    b_student = TenantClient(other_tenant, user=make_user(other_tenant, "student-x@beta.test"))
    return {
        "course": course,
        "section": section,
        "lecture": lecture,
        "code": code,
        "grant": grant,
        "a_tokens": a_instructor.tokens,
        "jwt_i": b_with_a_instructor,
        "jwt_s": b_with_a_student,
        "b_i": b_instructor,
        "b_s": b_student,
        "other_tenant": other_tenant,
    }


def _not_leaking(response, w):
    assert not 200 <= response.status_code < 300 or b"Alpha" not in response.content


def case_register(w):
    # Registering on B creates a B account; it never touches A (same e-mail is free on B).
    response = w["jwt_s"].post(
        "/api/v1/auth/register",
        {"email": "student-x@alpha.test", "password": PASSWORD, "name": "X"},
        format="json",
    )
    assert response.status_code == 201


def case_token(w):
    response = TenantClient(w["other_tenant"]).post(
        "/api/v1/auth/token", {"email": "owner-x@alpha.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


def case_refresh(w):
    response = TenantClient(w["other_tenant"]).post(
        "/api/v1/auth/token/refresh", {"refresh": w["a_tokens"]["refresh"]}, format="json"
    )
    assert response.status_code == 401


def case_me(w):
    assert w["jwt_s"].get("/api/v1/auth/me").status_code == 401


def case_course_list(w):
    assert w["jwt_i"].get("/api/v1/courses").status_code == 401
    assert w["jwt_i"].post("/api/v1/courses", {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].get("/api/v1/courses").json()["count"] == 0


def case_course_detail(w):
    url = f"/api/v1/courses/{w['course'].id}"
    assert w["jwt_i"].get(url).status_code == 401
    assert [w["b_i"].get(url).status_code, w["b_i"].delete(url).status_code] == [404, 404]
    assert w["b_i"].patch(url, {"title": "x"}, format="json").status_code == 404


def case_section_create(w):
    url = f"/api/v1/courses/{w['course'].id}/sections"
    assert w["jwt_i"].post(url, {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].post(url, {"title": "x"}, format="json").status_code == 404


def case_lecture_create(w):
    url = f"/api/v1/sections/{w['section'].id}/lectures"
    assert w["jwt_i"].post(url, {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].post(url, {"title": "x"}, format="json").status_code == 404


def case_lecture_detail(w):
    url = f"/api/v1/lectures/{w['lecture'].id}"
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]


def case_access_codes(w):
    url = f"/api/v1/courses/{w['course'].id}/access-codes"
    assert w["jwt_i"].get(url).status_code == 401
    assert w["b_i"].get(url).status_code == 404
    assert w["b_i"].post(url, {"quantity": 1}, format="json").status_code == 404


def case_enroll(w):
    payload = {"code": w["code"]}
    assert w["jwt_s"].post("/api/v1/students/enroll", payload, format="json").status_code == 401
    response = w["b_s"].post("/api/v1/students/enroll", payload, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "INVALID_CODE")


def case_student_courses(w):
    assert w["jwt_s"].get("/api/v1/students/courses").status_code == 401
    assert w["b_s"].get("/api/v1/students/courses").json() == []


def case_student_course_detail(w):
    url = f"/api/v1/students/courses/{w['course'].id}"
    assert [w["jwt_s"].get(url).status_code, w["b_s"].get(url).status_code] == [401, 404]


def case_student_playback(w):
    url = f"/api/v1/students/courses/{w['course'].id}/lectures/{w['lecture'].id}"
    assert [w["jwt_s"].get(url).status_code, w["b_s"].get(url).status_code] == [401, 404]


def case_progress(w):
    payload = {"lecture_id": str(w["lecture"].id), "position": 1, "watched": [[0, 1]]}
    assert w["jwt_s"].post("/api/v1/students/progress", payload, format="json").status_code == 401
    assert w["b_s"].post("/api/v1/students/progress", payload, format="json").status_code == 404


def case_uploads(w):
    headers = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_LENGTH": "10"}
    assert w["jwt_i"].post("/api/v1/uploads/", **headers).status_code == 401
    lecture_id = base64.b64encode(str(w["lecture"].id).encode()).decode()
    metadata = f"lecture_id {lecture_id},filename {base64.b64encode(b'x.mp4').decode()}"
    response = w["b_i"].post("/api/v1/uploads/", HTTP_UPLOAD_METADATA=metadata, **headers)
    assert response.status_code == 404


def case_upload_detail(w):
    url = "/api/v1/uploads/00000000-0000-0000-0000-000000000000"
    assert w["jwt_i"].head(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 401


def case_hls(w):
    grant = w["grant"]
    url = grant.access.master_path
    others = [
        url.replace("master.m3u8", name)
        for name in (
            "360p/seg_00000.ts",
            "poster.jpg",
            "storyboard.vtt",
            "storyboard.jpg",
            "preview.mp4",
        )
    ]
    client = TenantClient(w["other_tenant"])
    assert [client.get(u).status_code for u in [url, *others]] == [403] * 6


def case_home(w):
    response = TenantClient(w["other_tenant"]).get("/")
    assert response.status_code == 200
    assert b"Alpha secret course" not in response.content


def case_schema(w):
    # The OpenAPI document describes the API, identical on every host; it holds no tenant data.
    response = TenantClient(w["other_tenant"]).get("/api/schema/")
    _not_leaking(response, w)


def case_docs(w):
    _not_leaking(TenantClient(w["other_tenant"]).get("/api/docs/"), w)


def case_admin(w):
    response = w["jwt_i"].get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


CASES = {
    "": case_home,
    "api/v1/auth/register": case_register,
    "api/v1/auth/token": case_token,
    "api/v1/auth/token/refresh": case_refresh,
    "api/v1/auth/me": case_me,
    "api/v1/courses": case_course_list,
    "api/v1/courses/<uuid:course_id>": case_course_detail,
    "api/v1/courses/<uuid:course_id>/sections": case_section_create,
    "api/v1/sections/<uuid:section_id>/lectures": case_lecture_create,
    "api/v1/lectures/<uuid:lecture_id>": case_lecture_detail,
    "api/v1/courses/<uuid:course_id>/access-codes": case_access_codes,
    "api/v1/students/enroll": case_enroll,
    "api/v1/students/courses": case_student_courses,
    "api/v1/students/courses/<uuid:course_id>": case_student_course_detail,
    "api/v1/students/courses/<uuid:course_id>/lectures/<uuid:lecture_id>": case_student_playback,
    "api/v1/students/progress": case_progress,
    "api/v1/uploads/": case_uploads,
    "api/v1/uploads/<uuid:upload_id>": case_upload_detail,
    "media/hls/<uuid:lecture_id>/v<int:version>/<path:path>": case_hls,
    "api/schema/": case_schema,
    "api/docs/": case_docs,
    "admin/": case_admin,
}


def test_every_route_has_a_cross_tenant_case():
    assert routes("config.urls_tenants") == set(CASES)


@pytest.mark.parametrize("route", sorted(CASES))
def test_school_a_credentials_on_school_b(route, world):
    CASES[route](world)


def test_public_host_serves_no_school_route(db):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="localhost")
    school_only = [r for r in CASES if r.startswith(("api/", "media/"))]
    concrete = [
        r.replace("<uuid:course_id>", "00000000-0000-0000-0000-000000000000")
        .replace("<uuid:section_id>", "00000000-0000-0000-0000-000000000000")
        .replace("<uuid:lecture_id>", "00000000-0000-0000-0000-000000000000")
        .replace("<uuid:upload_id>", "00000000-0000-0000-0000-000000000000")
        .replace("v<int:version>/<path:path>", "v1/master.m3u8")
        for r in school_only
    ]

    statuses = {route: client.get(f"/{route}").status_code for route in concrete}

    assert set(statuses.values()) == {404}
    assert routes("config.urls_public") == {"", "admin/"}
