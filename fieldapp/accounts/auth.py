"""The auth decorator: bearer token in, current user on flask.g, roles enforced."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from fieldapp.accounts import service
from fieldapp.accounts.models import ROLES, User
from fieldapp.errors import Forbidden, Unauthorized
from fieldapp.extensions import db


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_user() -> User:
    return g.current_user


def require(*roles: str):
    """Require a valid bearer token and, if roles are given, one of those roles."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            if token is None:
                raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
            user = service.user_for_token(token)
            if user is None:
                raise Unauthorized("the bearer token is unknown or revoked")
            if roles and user.role not in roles:
                raise Forbidden(f"this needs the role {' or '.join(roles)}")
            # End the lookup's transaction now: an upload may stream for minutes, and a
            # pooled connection must not sit idle in a transaction while it does.
            db.session.expunge(user)
            db.session.rollback()
            g.current_user = user
            return view(*args, **kwargs)

        return wrapper

    return decorator
