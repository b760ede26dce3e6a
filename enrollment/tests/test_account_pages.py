"""The account page (``/account/``): what a student writes about themselves is inert where it
is shown (the profile card and the header), and the forms call the account services."""

import re

import pytest
from django.contrib.auth import get_user_model

from tenants.testing import PASSWORD, browser, in_tenant
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db
User = get_user_model()


def _fragment(html: str, pattern: str) -> str:
    match = re.search(pattern, html, re.S)
    assert match, pattern
    return match.group(0)


@pytest.mark.parametrize("payload", XSS_CORPUS, ids=[f"xss{n}" for n in range(len(XSS_CORPUS))])
def test_name_and_bio_are_inert_on_the_page_and_in_the_header(tenant, student, payload):
    with in_tenant(tenant):
        User.objects.filter(pk=student.pk).update(name=payload[:150], bio=payload)
    html = browser(tenant, student).get("/account/").content.decode()
    assert_inert(_fragment(html, r'<a class="site-nav__user".*?</a>'))
    assert_inert(_fragment(html, r'<div class="card profile-card">.*?</div>\s*</div>'))
    # The only forms, scripts and styles of the page are the page's own.
    # Two scripts: the header bell's (notifications) and search box's, from the page's own
    # static files.
    assert html.count("<script") == 2
    assert html.count('<script src="/static/build/notifications.js" defer></script>') == 1
    assert html.count('<script src="/static/build/search.js" defer></script>') == 1
    # The header's search box, log-out, the four account forms and the notification
    # preferences (a section of the page)
    assert html.count("<form") == 7
    assert html.count('<form method="post" action="/notifications/preferences/"') == 1


def test_profile_form_saves_and_shows_in_the_header(tenant, student):
    page = browser(tenant, student)
    response = page.post(
        "/account/",
        {
            "action": "profile",
            "profile-name": "Grace Hopper",
            "profile-bio": "Compilers, **mostly**.",
            "profile-time_zone": "America/New_York",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/account/")
    html = page.get("/account/").content.decode()
    assert '<span class="site-nav__name">Grace Hopper</span>' in html
    assert "<strong>mostly</strong>" in html
    assert '<option value="America/New_York" selected>' in html


def test_profile_form_refuses_an_unknown_time_zone(tenant, student):
    response = browser(tenant, student).post(
        "/account/", {"action": "profile", "profile-time_zone": "Nowhere/Land"}
    )
    assert response.status_code == 400
    with in_tenant(tenant):
        assert User.objects.get(pk=student.pk).time_zone == "UTC"


def test_delete_form_erases_the_account_and_signs_out(tenant, student):
    page = browser(tenant, student)
    wrong = page.post("/account/", {"action": "delete", "delete-password": "not-it-at-all"})
    assert wrong.status_code == 400
    response = page.post("/account/", {"action": "delete", "delete-password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/")
    with in_tenant(tenant):
        gone = User.objects.get(pk=student.pk)
    assert (gone.email, gone.is_active) == (f"deleted-{student.pk}@invalid", False)
    assert page.get("/account/")["Location"] == "/login/?next=/account/"


def test_instructors_see_no_delete_form(tenant, instructor):
    html = browser(tenant, instructor).get("/account/").content.decode()
    assert 'name="delete-password"' not in html
