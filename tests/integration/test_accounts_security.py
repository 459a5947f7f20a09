"""Sign-in throttling, body and password caps, expiring and read-only tokens, account admin,
password changes, the users CLI and demo passwords: all against the real database."""
from __future__ import annotations

import io
import logging
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fieldapp.accounts import service
from fieldapp.accounts.models import SigninFailure, User
from fieldapp.extensions import db
from tests.conftest import app_on_own_database
from tests.helpers import auth, superuser_sql
from tests.integration import test_map_page as map_page

# The map page's tests' headless browser (the live server is conftest's `server` fixture).
_dom = map_page._dom


def _address() -> str:
    """A client address of its own (documentation range), so tests' counts never mix."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def _sign_in(client, email, password, address="192.0.2.10"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture()
def account(make_user):
    """make_user plus the password: (id, email, token, password)."""
    def _make(role="volunteer"):
        password = service.generate_password()
        user_id, email, token = make_user(role, password=password)
        return user_id, email, token, password

    return _make


def _seed_failures(app, count: int, address: str, email: str | None = None) -> None:
    """Failures as earlier sign-ins left them, so a test reaches a limit without paying an
    argon2 verification for each one (every email different unless given)."""
    with app.app_context():
        db.session.add_all(SigninFailure(
            account_key=service.account_key(email or f"seed-{uuid.uuid4().hex}@example.org"),
            address=address) for _ in range(count))
        db.session.commit()


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- throttling --------------------------------------------------------------------------


def test_eleventh_failure_is_429_while_others_sign_in_and_tokens_work(client, account, caplog):
    _, email, token, password = account()
    _, other_email, _, other_password = account()
    address = _address()
    wrong = f"wrong-{secrets.token_hex(8)}"
    caplog.set_level(logging.INFO, logger="fieldapp.auth")
    for _ in range(10):
        response = _sign_in(client, email, wrong, address)
        assert response.status_code == 401
    # The 11th is refused before the password is looked at, even the right one.
    locked = _sign_in(client, email, password, address)
    assert locked.status_code == 429
    retry = int(locked.headers["Retry-After"])
    assert 880 <= retry <= 900
    body = locked.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert body["sub_code"] == "SIGNIN_THROTTLED_ACCOUNT" and "account" in body["message"]
    # Another account from the same address signs in; the locked account's token works.
    assert _sign_in(client, other_email, other_password, address).status_code == 200
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 200
    # Logged: the address and a hash of the email, never the password.
    failures = [r.getMessage() for r in caplog.records
                if r.name == "fieldapp.auth" and "sign-in failed" in r.getMessage()]
    assert len(failures) == 10 and all(address in line for line in failures)
    key = service.account_key(email)[:16]
    assert all(key in line for line in failures)
    assert not any(wrong in r.getMessage() or password in r.getMessage()
                   for r in caplog.records)
    assert any("sign-in throttled" in r.getMessage() for r in caplog.records)


def test_the_lock_ends_when_failures_leave_the_window(app, client, account):
    _, email, _, password = account()
    address = _address()
    _seed_failures(app, 9, address, email)
    assert _sign_in(client, email, "not the password", address).status_code == 401
    assert _sign_in(client, email, password, address).status_code == 429
    key = service.account_key(email)
    superuser_sql("UPDATE signin_failures SET at = at - interval '15 minutes' "
                  f"WHERE account_key = '{key}'")
    assert _sign_in(client, email, password, address).status_code == 200
    # A success clears the account's run of failures.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SigninFailure)
                                 .where(SigninFailure.account_key == key)) == 0


def test_unknown_emails_are_throttled_like_known_ones(app, client):
    address, email = _address(), f"nobody-{uuid.uuid4().hex[:8]}@example.org"
    _seed_failures(app, 8, address, email.upper())
    for _ in range(2):
        assert _sign_in(client, email, "whatever123", address).status_code == 401
    assert _sign_in(client, email, "whatever123", address).status_code == 429


def test_per_address_limit_refuses_every_account_from_that_address(app, client, account):
    address = _address()
    _seed_failures(app, 48, address)
    for index in range(2):
        response = _sign_in(client, f"guess-{index}-{uuid.uuid4().hex[:6]}@example.org",
                            "guess", address)
        assert response.status_code == 401
    _, email, _, password = account()
    refused = _sign_in(client, email, password, address)
    assert refused.status_code == 429
    assert refused.get_json()["sub_code"] == "SIGNIN_THROTTLED_ADDRESS"
    assert 1 <= int(refused.headers["Retry-After"]) <= 900
    # The same account from elsewhere is not affected.
    assert _sign_in(client, email, password, _address()).status_code == 200


def test_prune_removes_only_failures_outside_the_window(app, client):
    address = _address()
    _sign_in(client, f"prune-{uuid.uuid4().hex[:8]}@example.org", "x", address)
    superuser_sql(f"UPDATE signin_failures SET at = at - interval '1 hour' "
                  f"WHERE address = '{address}'")
    _sign_in(client, f"prune-{uuid.uuid4().hex[:8]}@example.org", "x", address)
    with app.app_context():
        assert service.prune_signin_failures() >= 1
        left = db.session.scalars(select(SigninFailure.at)
                                  .where(SigninFailure.address == address)).all()
    assert len(left) == 1 and left[0] > datetime.now(UTC) - timedelta(minutes=15)


# --- body and password caps ---------------------------------------------------------------


def test_json_body_above_64_kb_is_413_and_creates_nothing(app, client, account):
    _, _, admin_token, _ = account("admin")
    before = _count(app, User)
    body = {"email": f"big-{uuid.uuid4().hex[:8]}@example.org",
            "password": service.generate_password(), "role": "volunteer",
            "display_name": "x" * (64 * 1024)}
    response = client.post("/api/v1/users", json=body, headers=auth(admin_token))
    assert response.status_code == 413
    payload = response.get_json()
    assert payload["code"] == 413 and payload["sub_code"] == "BODY_TOO_LARGE"
    assert "body" in payload["errors"] and "65536" in payload["message"]
    assert _count(app, User) == before


def test_large_sign_in_body_is_refused_unread_and_is_not_a_failure(app, client):
    failures = _count(app, SigninFailure)
    big = b'{"email": "a@example.org", "password": "' + b"p" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/api/v1/auth/token", data=big, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["sub_code"] == "BODY_TOO_LARGE"
    # Without a Content-Length (chunked), the stream itself stops at the cap.
    stream = io.BytesIO(big)
    response = client.post("/api/v1/auth/token", input_stream=stream,
                           content_type="application/json",
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert stream.tell() <= 64 * 1024 + 1
    assert _count(app, SigninFailure) == failures


def test_too_long_password_is_422_naming_password(app, client, account):
    too_long = "p" * 1025
    response = _sign_in(client, "someone@example.org", too_long, _address())
    assert response.status_code == 422 and "password" in response.get_json()["errors"]
    _, _, admin_token, _ = account("admin")
    before = _count(app, User)
    for password, field in ((too_long, "password"), ("short", "password")):
        response = client.post("/api/v1/users", headers=auth(admin_token), json={
            "email": f"long-{uuid.uuid4().hex[:8]}@example.org", "password": password,
            "role": "volunteer"})
        assert response.status_code == 422 and field in response.get_json()["errors"]
    assert _count(app, User) == before
    # The longest allowed password works end to end.
    _, email, token, password = account()
    longest = "q" * 1024
    changed = client.post("/api/v1/auth/password", headers=auth(token),
                          json={"current_password": password, "new_password": longest})
    assert changed.status_code == 204
    assert _sign_in(client, email, longest, _address()).status_code == 200


# --- tokens -------------------------------------------------------------------------------


def test_token_carries_its_expiry_and_an_expired_token_is_401(app, client, account):
    _, email, _, password = account()
    response = _sign_in(client, email, password, _address())
    assert response.status_code == 200
    issued = response.get_json()
    expires = datetime.fromisoformat(issued["expires_at"])
    expected = datetime.now(UTC) + timedelta(seconds=app.config["FIELDAPP_TOKEN_TTL_S"])
    assert abs((expires - expected).total_seconds()) < 60 and issued["scope"] == "full"
    token = issued["token"]
    me = client.get("/api/v1/auth/me", headers=auth(token)).get_json()
    assert me["token_scope"] == "full"
    superuser_sql("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                  f"WHERE token_hash = '{service.token_digest(token)}'")
    expired = client.get("/api/v1/auth/me", headers=auth(token))
    assert expired.status_code == 401 and "expired" in expired.get_json()["message"]


def test_token_lifetime_follows_the_setting(app, client, account):
    _, email, _, password = account()
    app.config["FIELDAPP_TOKEN_TTL_S"], saved = 3600, app.config["FIELDAPP_TOKEN_TTL_S"]
    try:
        issued = _sign_in(client, email, password, _address()).get_json()
    finally:
        app.config["FIELDAPP_TOKEN_TTL_S"] = saved
    left = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=59) < left <= timedelta(hours=1)


def test_read_only_token_reads_and_is_refused_on_every_change(client, account):
    _, _, token, _ = account("coordinator")
    made = client.post("/api/v1/auth/read-token", json={"ttl_s": 600}, headers=auth(token))
    assert made.status_code == 201
    issued = made.get_json()
    assert issued["scope"] == "read"
    left = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=9) < left <= timedelta(minutes=10)
    read = auth(issued["token"])
    assert client.get("/api/v1/sites", headers=read).status_code == 200
    assert client.get("/api/v1/auth/me", headers=read).get_json()["token_scope"] == "read"
    site = {"name": "只读测试厂", "geometry": {"type": "Point", "coordinates": [113.3, 23.1]}}
    for method, path, body in (("post", "/api/v1/sites", site),
                               ("post", "/api/v1/auth/read-token", {}),
                               ("post", "/api/v1/auth/password",
                                {"current_password": "x" * 8, "new_password": "y" * 8}),
                               ("delete", "/api/v1/auth/token", None)):
        response = getattr(client, method)(path, json=body, headers=read)
        assert response.status_code == 403, path
        assert response.get_json()["sub_code"] == "READ_ONLY_TOKEN"
    # The full token that made it still changes things.
    assert client.post("/api/v1/sites", json=site, headers=auth(token)).status_code == 201


def test_read_only_tokens_are_for_staff_and_bounded(app, client, account):
    _, _, volunteer_token, _ = account("volunteer")
    assert client.post("/api/v1/auth/read-token", json={},
                       headers=auth(volunteer_token)).status_code == 403
    _, _, token, _ = account("lawyer")
    too_long = app.config["FIELDAPP_TOKEN_TTL_S"] + 1
    for ttl in (too_long, 5):
        response = client.post("/api/v1/auth/read-token", json={"ttl_s": ttl},
                               headers=auth(token))
        assert response.status_code == 422 and "ttl_s" in response.get_json()["errors"]
    default = client.post("/api/v1/auth/read-token", json={}, headers=auth(token)).get_json()
    left = datetime.fromisoformat(default["expires_at"]) - datetime.now(UTC)
    assert abs(left.total_seconds() - app.config["FIELDAPP_READ_TOKEN_TTL_S"]) < 60


# --- account admin ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "lawyer", "volunteer"])
def test_admin_api_is_403_for_every_other_role(client, account, role):
    target_id, _, _, _ = account()
    _, _, token, _ = account(role)
    headers = auth(token)
    new = {"email": f"x-{uuid.uuid4().hex[:8]}@example.org",
           "password": service.generate_password(), "role": "admin"}
    for response in (client.get("/api/v1/users", headers=headers),
                     client.post("/api/v1/users", json=new, headers=headers),
                     client.get(f"/api/v1/users/{target_id}", headers=headers),
                     client.patch(f"/api/v1/users/{target_id}", json={"role": "admin"},
                                  headers=headers)):
        assert response.status_code == 403
    assert client.get("/api/v1/users").status_code == 401


def test_admin_creates_lists_and_changes_accounts(app, client, account, caplog):
    admin_id, _, token, _ = account("admin")
    caplog.set_level(logging.INFO, logger="fieldapp.auth")
    password = service.generate_password()
    email = f"Made-{uuid.uuid4().hex[:8]}@Example.org"
    created = client.post("/api/v1/users", headers=auth(token), json={
        "email": email, "password": password, "role": "volunteer", "display_name": "阿明"})
    assert created.status_code == 201
    user = created.get_json()
    assert user["email"] == email.lower() and user["disabled"] is False
    assert "password" not in user and "password_hash" not in user
    assert _sign_in(client, email, password, _address()).status_code == 200
    again = client.post("/api/v1/users", headers=auth(token), json={
        "email": email, "password": password, "role": "volunteer"})
    assert again.status_code == 409 and "email" in again.get_json()["errors"]
    listed = client.get("/api/v1/users?role=volunteer", headers=auth(token)).get_json()
    assert user["id"] in {u["id"] for u in listed}
    assert {u["role"] for u in listed} == {"volunteer"}
    changed = client.patch(f"/api/v1/users/{user['id']}", headers=auth(token),
                           json={"role": "coordinator", "display_name": "A Ming"})
    assert changed.status_code == 200
    assert changed.get_json()["role"] == "coordinator"
    assert changed.get_json()["display_name"] == "A Ming"
    bad = client.patch(f"/api/v1/users/{user['id']}", headers=auth(token),
                       json={"role": "emperor"})
    assert bad.status_code == 422 and "role" in bad.get_json()["errors"]
    missing = client.patch(f"/api/v1/users/{uuid.uuid4()}", headers=auth(token),
                           json={"display_name": "x"})
    assert missing.status_code == 404
    # Who changed what, in the log.
    lines = [r.getMessage() for r in caplog.records if r.name == "fieldapp.auth"]
    assert any(f"account created: user={user['id']}" in line and f"by={admin_id}" in line
               for line in lines)
    assert any(f"user={user['id']} role volunteer->coordinator" in line
               and f"by={admin_id}" in line for line in lines)


def test_disabling_revokes_every_token_at_once_and_blocks_sign_in(app, client, account):
    _, _, admin_token, _ = account("admin")
    user_id, email, token, password = account("coordinator")
    with app.app_context():
        second = service.issue_token(db.session.get(User, user_id))
    for each in (token, second):
        assert client.get("/api/v1/auth/me", headers=auth(each)).status_code == 200
    disabled = client.patch(f"/api/v1/users/{user_id}", headers=auth(admin_token),
                            json={"disabled": True})
    assert disabled.status_code == 200 and disabled.get_json()["disabled"] is True
    for each in (token, second):
        assert client.get("/api/v1/auth/me", headers=auth(each)).status_code == 401
    with app.app_context():
        live = db.session.scalar(_live_tokens(user_id))
    assert live == 0
    refused = _sign_in(client, email, password, _address())
    assert refused.status_code == 403 and "disabled" in refused.get_json()["message"]
    enabled = client.patch(f"/api/v1/users/{user_id}", headers=auth(admin_token),
                           json={"disabled": False})
    assert enabled.status_code == 200 and enabled.get_json()["disabled"] is False
    assert _sign_in(client, email, password, _address()).status_code == 200
    # Enabling never brings the revoked tokens back.
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 401


@pytest.fixture()
def lone_app(data_dir):
    """The app on a database of its own, migrated: there, a test sees every admin there is."""
    with app_on_own_database("admins", data_dir) as lone:
        yield lone


def test_the_last_enabled_admin_stays_an_enabled_admin(lone_app):
    client = lone_app.test_client()
    with lone_app.app_context():
        first = service.create_user("first@example.org", service.generate_password(), "admin")
        first_id, token = first.id, service.issue_token(first)
    for change, field in (({"disabled": True}, "disabled"), ({"role": "lawyer"}, "role")):
        refused = client.patch(f"/api/v1/users/{first_id}", json=change, headers=auth(token))
        assert refused.status_code == 409 and field in refused.get_json()["errors"]
    runner = lone_app.test_cli_runner()
    refused = runner.invoke(args=["users", "disable", "--email", "first@example.org"])
    assert refused.exit_code != 0 and "last enabled admin" in refused.output
    assert client.get("/api/v1/auth/me", headers=auth(token)).get_json()["role"] == "admin"
    # With a second admin, the first may step down, and then the second may not.
    second = client.post("/api/v1/users", headers=auth(token), json={
        "email": "second@example.org", "password": service.generate_password(),
        "role": "admin"}).get_json()
    assert client.patch(f"/api/v1/users/{first_id}", json={"role": "coordinator"},
                        headers=auth(token)).status_code == 200
    with lone_app.app_context():
        second_token = service.issue_token(service.find_user("second@example.org"))
    refused = client.patch(f"/api/v1/users/{second['id']}", json={"disabled": True},
                           headers=auth(second_token))
    assert refused.status_code == 409


def _live_tokens(user_id):
    from fieldapp.accounts.models import ApiToken

    return (select(func.count()).select_from(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)))


def test_password_change_revokes_other_tokens_and_keeps_this_one(app, client, account):
    user_id, email, token, password = account("lawyer")
    other = _sign_in(client, email, password, _address()).get_json()["token"]
    wrong = client.post("/api/v1/auth/password", headers=auth(token), json={
        "current_password": "not my password", "new_password": service.generate_password()})
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["errors"]
    assert client.get("/api/v1/auth/me", headers=auth(other)).status_code == 200
    short = client.post("/api/v1/auth/password", headers=auth(token), json={
        "current_password": password, "new_password": "short"})
    assert short.status_code == 422 and "new_password" in short.get_json()["errors"]
    new_password = service.generate_password()
    changed = client.post("/api/v1/auth/password", headers=auth(token), json={
        "current_password": password, "new_password": new_password})
    assert changed.status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 200
    assert client.get("/api/v1/auth/me", headers=auth(other)).status_code == 401
    assert _sign_in(client, email, password, _address()).status_code == 401
    assert _sign_in(client, email, new_password, _address()).status_code == 200


# --- the users CLI and the demo -------------------------------------------------------------


def test_cli_create_from_stdin_list_disable_enable_set_role(app, client):
    runner = app.test_cli_runner()
    email = f"cli-{uuid.uuid4().hex[:8]}@example.org"
    password = service.generate_password()
    created = runner.invoke(args=["users", "create", "--email", email, "--password-stdin",
                                  "--role", "volunteer"], input=password + "\n")
    assert created.exit_code == 0, created.output
    assert password not in created.output
    token = _sign_in(client, email, password, _address()).get_json()["token"]
    listed = runner.invoke(args=["users", "list", "--role", "volunteer"])
    assert listed.exit_code == 0
    assert re.search(rf"^{re.escape(email)}\tvolunteer\tenabled\t", listed.output, re.M)
    disabled = runner.invoke(args=["users", "disable", "--email", email])
    assert disabled.exit_code == 0 and "disabled" in disabled.output
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 401
    assert _sign_in(client, email, password, _address()).status_code == 403
    assert re.search(rf"^{re.escape(email)}\tvolunteer\tdisabled\t",
                     runner.invoke(args=["users", "list"]).output, re.M)
    assert runner.invoke(args=["users", "enable", "--email", email]).exit_code == 0
    set_role = runner.invoke(args=["users", "set-role", "--email", email, "--role", "lawyer"])
    assert set_role.exit_code == 0 and "lawyer" in set_role.output
    token = _sign_in(client, email, password, _address()).get_json()["token"]
    assert client.get("/api/v1/auth/me", headers=auth(token)).get_json()["role"] == "lawyer"
    unknown = runner.invoke(args=["users", "disable", "--email", "nobody@nowhere.org"])
    assert unknown.exit_code != 0 and "no user" in unknown.output


def test_cli_create_prompts_hidden_and_confirmed_and_has_no_password_option(app, client):
    runner = app.test_cli_runner()
    email = f"prompt-{uuid.uuid4().hex[:8]}@example.org"
    password = service.generate_password()
    mismatch = runner.invoke(args=["users", "create", "--email", email, "--role", "admin"],
                             input=f"{password}\nsomething else\n")
    assert mismatch.exit_code != 0
    with app.app_context():
        assert service.find_user(email) is None
    created = runner.invoke(args=["users", "create", "--email", email, "--role", "admin"],
                            input=f"{password}\n{password}\n")
    assert created.exit_code == 0, created.output
    assert password not in created.output
    assert _sign_in(client, email, password, _address()).status_code == 200
    old_way = runner.invoke(args=["users", "create", "--email", f"x{email}", "--password",
                                  password, "--role", "admin"])
    assert old_way.exit_code == 2 and "No such option" in old_way.output
    short = runner.invoke(args=["users", "create", "--email", f"y{email}", "--password-stdin",
                                "--role", "admin"], input="short\n")
    assert short.exit_code != 0 and "password" in short.output


def _demo_accounts(output: str) -> dict[str, tuple[str, str]]:
    found = {}
    for role, password, token in re.findall(
            r"^\s+(volunteer|coordinator|lawyer|admin)\s+\S+@demo\.fieldapp\.org\s+(\S+)\s+(\S+)$",
            output, re.M):
        found[role] = (password, token)
    return found


@pytest.fixture()
def demo_app(data_dir):
    """The demo's sites and photos would be found near other tests' reports (links,
    near duplicates): it loads on a database of its own."""
    with app_on_own_database("demo", data_dir) as application:
        yield application


def test_demo_passwords_are_random_printed_once_and_work(demo_app):
    app, client = demo_app, demo_app.test_client()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    accounts = _demo_accounts(first.output)
    assert set(accounts) == {"volunteer", "coordinator", "lawyer", "admin"}
    if accounts["admin"][0] == "(unchanged)":
        # Another test made them first: a reset prints new ones.
        first = runner.invoke(args=["demo", "--reset-passwords"])
        assert first.exit_code == 0, first.output
        accounts = _demo_accounts(first.output)
    passwords = {password for password, _ in accounts.values()}
    assert len(passwords) == 4 and all(len(p) >= 16 for p in passwords)
    assert "demo-admin-pass" not in first.output
    for role, (password, token) in accounts.items():
        signed = _sign_in(client, f"{role}@demo.fieldapp.org", password, _address())
        assert signed.status_code == 200, role
        assert client.get("/api/v1/auth/me", headers=auth(token)).get_json()["role"] == role
    # Re-running keeps the passwords and shows none of them again.
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    again = _demo_accounts(second.output)
    assert {password for password, _ in again.values()} == {"(unchanged)"}
    assert not any(password in second.output for password in passwords)
    admin_password = accounts["admin"][0]
    assert _sign_in(client, "admin@demo.fieldapp.org", admin_password,
                    _address()).status_code == 200
    # A reset gives new passwords and revokes the accounts' tokens.
    reset = runner.invoke(args=["demo", "--reset-passwords"])
    renewed = _demo_accounts(reset.output)
    assert renewed["admin"][0] not in passwords | {"(unchanged)"}
    assert _sign_in(client, "admin@demo.fieldapp.org", admin_password,
                    _address()).status_code == 401
    assert client.get("/api/v1/auth/me", headers=auth(accounts["admin"][1])).status_code == 401
    assert client.get("/api/v1/auth/me", headers=auth(renewed["admin"][1])).status_code == 200


def test_wall_display_link_opens_the_map_read_only(server, client, account, tmp_path):
    _, _, token, _ = account("coordinator")
    staff = _dom(f"{server}/map#token={token}&lon=100.1&lat=30.1&zoom=9", tmp_path)
    assert 'data-state="ready"' in staff
    assert re.search(r'<button id="walllink" type="button">', staff)
    read = client.post("/api/v1/auth/read-token", json={"ttl_s": 3600},
                       headers=auth(token)).get_json()["token"]
    wall = _dom(f"{server}/map#token={read}&lon=100.1&lat=30.1&zoom=9", tmp_path)
    # It draws, and offers no link of its own: a read-only token cannot make one.
    assert 'data-state="ready"' in wall
    assert re.search(r'<button id="walllink" type="button" hidden="">', wall)
    superuser_sql("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                  f"WHERE token_hash = '{service.token_digest(read)}'")
    expired = _dom(f"{server}/map#token={read}&zoom=9", tmp_path)
    assert 'data-state="signin"' in expired and "please sign in again" in expired
