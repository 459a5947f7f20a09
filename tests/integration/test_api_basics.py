"""Sign-in, tokens, roles, health and the OpenAPI document."""
from __future__ import annotations

import secrets

from tests.helpers import auth


def test_health_needs_no_token(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["postgis"].startswith("3.")


def test_token_from_email_and_password(client, make_user):
    password = secrets.token_urlsafe(12)
    _, email, _ = make_user("lawyer", password=password)
    response = client.post("/api/v1/auth/token",
                           json={"email": email.upper(), "password": password})
    assert response.status_code == 200
    token = response.get_json()["token"]
    me = client.get("/api/v1/auth/me", headers=auth(token))
    assert me.status_code == 200 and me.get_json()["role"] == "lawyer"


def test_wrong_password_and_unknown_email_are_401(client, make_user):
    _, email, _ = make_user()
    for credentials in ({"email": email, "password": "wrong password"},
                        {"email": "nobody@example.org", "password": "whatever123"}):
        response = client.post("/api/v1/auth/token", json=credentials)
        assert response.status_code == 401
        assert response.get_json()["message"] == "email or password is wrong"


def test_login_missing_field_is_422(client):
    response = client.post("/api/v1/auth/token", json={"email": "x@example.org"})
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]


def test_tokens_are_stored_only_as_hashes(app, make_user):
    from sqlalchemy import text

    from fieldapp.extensions import db

    _, _, token = make_user()
    with app.app_context():
        stored = db.session.scalars(text("SELECT token_hash FROM api_tokens")).all()
        hashes = db.session.scalars(text("SELECT password_hash FROM users")).all()
    assert token not in stored and all(len(h) == 64 for h in stored)
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_revoked_token_is_401(client, make_user):
    _, _, token = make_user()
    assert client.delete("/api/v1/auth/token", headers=auth(token)).status_code == 204
    response = client.get("/api/v1/auth/me", headers=auth(token))
    assert response.status_code == 401


def test_volunteer_pseudonym_is_generated(client, volunteer):
    me = client.get("/api/v1/auth/me", headers=auth(volunteer[2])).get_json()
    assert me["pseudonym"] and me["pseudonym"] not in me["email"]


def test_openapi_document_describes_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/reports", "/api/v1/reports/{report_id}", "/api/v1/photos/{photo_id}",
                 "/api/v1/photos/{photo_id}/original", "/api/v1/auth/token"):
        assert path in spec["paths"], path
    post = spec["paths"]["/api/v1/reports"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "201" in post["responses"] and "422" in post["responses"]
    schemas = spec["components"]["schemas"]
    assert {"ReportClaim", "Report", "Photo", "Error"} <= set(schemas)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_unknown_route_uses_the_error_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.get_json()) >= {"code", "status", "message"}
