"""Authentication API: register, token, refresh, me; tokens never cross tenants."""

import pytest

from tenants.testing import PASSWORD, TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db


def test_register_creates_a_student_in_this_school_only(tenant, other_tenant):
    response = TenantClient(tenant).post(
        "/api/v1/auth/register",
        {"email": "Ada@Example.test", "password": PASSWORD, "name": "Ada"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "name", "role"}
    assert (body["email"], body["name"], body["role"]) == ("ada@example.test", "Ada", "student")
    from django.contrib.auth import get_user_model

    with in_tenant(other_tenant):
        assert not get_user_model().objects.filter(email="ada@example.test").exists()


def test_register_same_email_twice_is_409_and_on_another_school_is_fine(tenant, other_tenant):
    payload = {"email": "bob@example.test", "password": PASSWORD, "name": "Bob"}
    assert (
        TenantClient(tenant).post("/api/v1/auth/register", payload, format="json").status_code
        == 201
    )

    again = TenantClient(tenant).post("/api/v1/auth/register", payload, format="json")
    elsewhere = TenantClient(other_tenant).post("/api/v1/auth/register", payload, format="json")

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "EMAIL_TAKEN"
    assert elsewhere.status_code == 201


def test_register_bad_input_gets_the_error_body(tenant):
    response = TenantClient(tenant).post(
        "/api/v1/auth/register", {"email": "not-an-email", "password": "x"}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert list(error["details"]) == ["email"]
    assert error["request_id"] == response["X-Request-ID"]


def test_weak_password_is_rejected_without_creating_the_account(tenant):
    from django.contrib.auth import get_user_model

    response = TenantClient(tenant).post(
        "/api/v1/auth/register", {"email": "weak@example.test", "password": "123"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["password"]
    with in_tenant(tenant):
        assert not get_user_model().objects.filter(email="weak@example.test").exists()


def test_token_me_and_refresh_rotation(tenant):
    make_user(tenant, "carol@example.test", role="instructor")
    client = TenantClient(tenant)

    token = client.post(
        "/api/v1/auth/token", {"email": "carol@example.test", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 200
    pair = token.json()
    assert set(pair) == {"access", "refresh", "expires_in"}
    assert pair["expires_in"] == 900

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["role"]) == ("carol@example.test", "instructor")

    client.credentials()
    rotated = client.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != pair["refresh"]
    reused = client.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "INVALID_TOKEN"


def test_wrong_password_and_unknown_email_are_the_same_401(tenant):
    make_user(tenant, "dave@example.test")
    client = TenantClient(tenant)

    wrong = client.post(
        "/api/v1/auth/token", {"email": "dave@example.test", "password": "nope"}, format="json"
    )
    unknown = client.post(
        "/api/v1/auth/token", {"email": "nobody@example.test", "password": "nope"}, format="json"
    )

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_me_without_token_is_401(tenant):
    response = TenantClient(tenant).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"


def test_a_token_of_one_school_is_401_on_another_even_with_the_same_user_id(tenant, other_tenant):
    alice_a = make_user(tenant, "same-id-a@example.test")
    alice_b = make_user(other_tenant, "same-id-b@example.test")
    # Force the same primary key in both schemas: ids repeat across tenants.
    with in_tenant(other_tenant):
        from django.contrib.auth import get_user_model

        get_user_model().objects.filter(pk=alice_b.pk).update(id=alice_a.pk + 100000)
    with in_tenant(tenant):
        get_user_model().objects.filter(pk=alice_a.pk).update(id=alice_a.pk + 100000)
    with in_tenant(tenant):
        alice_a = get_user_model().objects.get(pk=alice_a.pk + 100000)
    client_a = TenantClient(tenant, user=alice_a)

    own = client_a.get("/api/v1/auth/me")
    client_b = TenantClient(other_tenant)
    client_b.credentials(HTTP_AUTHORIZATION=f"Bearer {client_a.tokens['access']}")
    foreign = client_b.get("/api/v1/auth/me")
    refresh = client_b.post(
        "/api/v1/auth/token/refresh", {"refresh": client_a.tokens["refresh"]}, format="json"
    )

    assert own.status_code == 200
    assert foreign.status_code == 401
    assert foreign.json()["error"]["code"] == "AUTHENTICATION_FAILED"
    assert refresh.status_code == 401


def test_unknown_host_is_404_with_the_error_body(db):
    from rest_framework.test import APIClient

    response = APIClient(HTTP_HOST="nowhere.localhost").get("/api/v1/auth/me")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_HOST"


def test_tenant_api_does_not_answer_on_the_public_host(db):
    from rest_framework.test import APIClient

    response = APIClient(HTTP_HOST="localhost").post(
        "/api/v1/auth/token", {"email": "a@b.test", "password": "x"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
