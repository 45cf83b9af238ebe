"""Authentication: API tokens, log-in throttling, sessions, security headers, deploy checks."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client


def _obtain(client, username, password, name="cli"):
    return client.post("/api/v1/auth/token", {"username": username, "password": password, "name": name},
                       content_type="application/json")


def _bearer(secret):
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _logged_in_user_id(client):
    return client.session.get("_auth_user_id")


# --- API tokens -----------------------------------------------------------------------------------
def test_token_for_right_credentials_works_as_bearer(org):
    from l2c.apps.identity.models import ApiToken

    response = _obtain(Client(), "rep1", "pw-rep1")

    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("l2c_")
    assert body["name"] == "cli"
    assert list(ApiToken.objects.filter(user=org["rep1"]).values_list("pk", flat=True)) == [body["id"]]
    me = _bearer(body["token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "rep1"


def test_token_can_be_obtained_with_the_email_address(org):
    response = _obtain(Client(), "REP1@example.com", "pw-rep1")

    assert response.status_code == 201
    assert _bearer(response.json()["token"]).get("/api/v1/me").json()["username"] == "rep1"


def test_wrong_password_is_401_and_creates_no_token(org):
    from l2c.apps.identity.models import ApiToken

    response = _obtain(Client(), "rep1", "wrong")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_credentials"
    assert ApiToken.objects.count() == 0


def test_five_wrong_passwords_lock_the_api_login_even_for_the_right_password(org):
    from l2c.apps.identity.models import ApiToken

    client = Client()
    failures = [_obtain(client, "rep1", f"wrong-{attempt}").status_code for attempt in range(5)]

    locked = _obtain(client, "rep1", "pw-rep1")

    assert failures == [401] * 5
    assert locked.status_code == 429
    assert locked.json()["code"] == "rate_limited"
    assert 1 <= int(locked["Retry-After"]) <= 15 * 60
    assert ApiToken.objects.count() == 0


def test_the_lock_holds_whether_the_user_names_themselves_by_username_or_email(org):
    from l2c.apps.identity.models import ApiToken

    client = Client()
    for attempt in range(5):
        _obtain(client, "rep1", f"wrong-{attempt}")

    by_email = _obtain(client, "rep1@example.com", "pw-rep1")

    assert by_email.status_code == 429
    assert ApiToken.objects.count() == 0


def test_the_lock_of_one_user_does_not_lock_another(org):
    client = Client()
    for attempt in range(5):
        _obtain(client, "rep1", f"wrong-{attempt}")

    other = _obtain(client, "rep2", "pw-rep2")

    assert other.status_code == 201


def test_a_successful_login_resets_the_failure_count(org):
    client = Client()
    for attempt in range(4):
        _obtain(client, "rep1", f"wrong-{attempt}")
    _obtain(client, "rep1", "pw-rep1")
    for attempt in range(4):
        _obtain(client, "rep1", f"again-{attempt}")

    response = _obtain(client, "rep1", "pw-rep1")

    assert response.status_code == 201


def test_inactive_users_get_no_token_and_their_tokens_stop_working(org):
    from l2c.apps.identity.services import api_token_create

    _token, secret = api_token_create(user=org["rep2"], name="old")
    org["rep2"].is_active = False
    org["rep2"].save()

    obtained = _obtain(Client(), "rep2", "pw-rep2")
    used = _bearer(secret).get("/api/v1/me")

    assert obtained.status_code == 401
    assert used.status_code == 401


def test_token_lifecycle_create_list_revoke(org):
    from l2c.apps.identity.services import api_token_create

    _first, first_secret = api_token_create(user=org["rep1"], name="first")
    client = _bearer(first_secret)

    created = client.post("/api/v1/auth/tokens", {"name": "脚本"}, content_type="application/json")
    secret = created.json()["token"]
    listed = client.get("/api/v1/auth/tokens")
    works_before = _bearer(secret).get("/api/v1/me")
    revoked = client.delete(f"/api/v1/auth/tokens/{created.json()['id']}")
    after = _bearer(secret).get("/api/v1/me")

    assert created.status_code == 201
    assert sorted(token["name"] for token in listed.json()) == ["first", "脚本"]
    assert all("token" not in token for token in listed.json())
    assert works_before.status_code == 200
    assert revoked.status_code == 204
    assert after.status_code == 401
    assert after.json()["code"] == "not_authenticated"
    assert client.get("/api/v1/me").status_code == 200


def test_a_user_cannot_revoke_someone_elses_token(org):
    from l2c.apps.identity.models import ApiToken
    from l2c.apps.identity.services import api_token_create

    victim, victim_secret = api_token_create(user=org["rep2"], name="victim")
    _mine, my_secret = api_token_create(user=org["rep1"], name="mine")

    response = _bearer(my_secret).delete(f"/api/v1/auth/tokens/{victim.pk}")

    assert response.status_code == 404
    assert ApiToken.objects.get(pk=victim.pk).revoked_at is None
    assert _bearer(victim_secret).get("/api/v1/me").status_code == 200


def test_expired_token_is_rejected(org):
    import datetime as dt

    from django.utils import timezone

    from l2c.apps.identity.services import api_token_create

    _token, secret = api_token_create(user=org["rep1"], name="short",
                                      expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert _bearer(secret).get("/api/v1/me").status_code == 401


def test_tokens_are_stored_hashed(org):
    from l2c.apps.identity.models import ApiToken

    response = _obtain(Client(), "rep1", "pw-rep1")
    secret = response.json()["token"]

    token = ApiToken.objects.get(pk=response.json()["id"])
    stored = [str(getattr(token, field.attname)) for field in ApiToken._meta.concrete_fields]
    assert all(secret not in value for value in stored)
    assert all(secret[len("l2c_"):] not in value for value in stored)
    assert len(token.token_hash) == 64
    assert secret.startswith(token.prefix)


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer l2c_forged", "Basic cmVwMTpwdy1yZXAx", "Bearer "])
def test_bad_authorization_headers_are_401(org, header):
    response = Client(HTTP_AUTHORIZATION=header).get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- web log-in -----------------------------------------------------------------------------------
@pytest.mark.parametrize("identifier", ["rep1", "rep1@example.com", "Rep1@Example.com"])
def test_web_login_by_username_or_email(org, identifier):
    client = Client()

    response = client.post("/login/", {"username": identifier, "password": "pw-rep1"})

    assert response.status_code == 302
    assert _logged_in_user_id(client) == str(org["rep1"].pk)


def test_web_login_with_a_wrong_password_stays_logged_out(org):
    client = Client()

    response = client.post("/login/", {"username": "rep1", "password": "nope"})

    assert response.status_code == 200
    assert _logged_in_user_id(client) is None


def test_web_login_locks_after_five_failures(org):
    client = Client()
    for attempt in range(5):
        client.post("/login/", {"username": "rep1", "password": f"wrong-{attempt}"})

    response = client.post("/login/", {"username": "rep1", "password": "pw-rep1"})

    assert response.status_code == 200
    assert _logged_in_user_id(client) is None
    assert "登录失败次数过多" in response.content.decode()


def test_web_and_api_share_the_lock(org):
    client = Client()
    for attempt in range(5):
        client.post("/login/", {"username": "rep1", "password": f"wrong-{attempt}"})

    response = _obtain(Client(), "rep1", "pw-rep1")

    assert response.status_code == 429


def test_login_rotates_the_session_key(org):
    from django.contrib.sessions.models import Session

    client = Client()
    session = client.session
    session["before_login"] = "yes"
    session.save()
    old_key = session.session_key

    client.post("/login/", {"username": "rep1", "password": "pw-rep1"})

    new_key = client.cookies["sessionid"].value
    assert new_key != old_key
    assert not Session.objects.filter(session_key=old_key).exists()
    assert Session.objects.filter(session_key=new_key).exists()


def test_logout_deletes_the_session_server_side(org):
    from django.contrib.sessions.models import Session

    client = Client()
    client.post("/login/", {"username": "rep1", "password": "pw-rep1"})
    stolen = client.cookies["sessionid"].value
    before = client.get("/api/v1/me").status_code

    logout = client.post("/logout/")
    replay = Client()
    replay.cookies["sessionid"] = stolen
    page = replay.get("/")
    api = replay.get("/api/v1/me")

    assert before == 200
    assert logout.status_code == 302
    assert not Session.objects.filter(session_key=stolen).exists()
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")
    assert api.status_code == 401


def test_logout_by_get_is_refused(org):
    client = Client()
    client.post("/login/", {"username": "rep1", "password": "pw-rep1"})

    response = client.get("/logout/")

    assert response.status_code == 405
    assert client.get("/api/v1/me").status_code == 200


def test_session_api_writes_need_the_csrf_token(org):
    from l2c.apps.customers.models import Account

    client = Client(enforce_csrf_checks=True)
    client.force_login(org["rep1"])

    response = client.post("/api/v1/accounts", {"name": "北京跨站公司"}, content_type="application/json")

    assert response.status_code in (401, 403)
    assert Account.objects.count() == 0


# --- security headers and deploy checks -----------------------------------------------------------
@pytest.mark.parametrize("path", ["/login/", "/"])
def test_security_headers_on_pages(org, path):
    client = Client()
    client.force_login(org["rep1"])
    if path == "/login/":
        client = Client()

    response = client.get(path)

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_security_headers_on_api_responses(org, api_client_for):
    response = api_client_for("rep1").get("/api/v1/me")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private, no-store"


def test_check_deploy_is_clean_for_production_settings(tmp_path: Path):
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = {key: value for key, value in os.environ.items()
           if key not in {"L2C_TESTING", "L2C_DEBUG", "DATABASE_URL", "L2C_HTTPS", "L2C_SSL_REDIRECT",
                          "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update({
        "L2C_SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "L2C_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "l2c.settings",
    })

    result = subprocess.run(
        [sys.executable, "-m", "l2c.cli", "manage", "check", "--deploy"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output
    assert "?: (" not in output
