"""The auth decorator: bearer token in, current user on flask.g, roles and scope enforced."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from fieldapp.accounts import service
from fieldapp.accounts.models import ROLES, User
from fieldapp.errors import Forbidden, Unauthorized
from fieldapp.extensions import db

# What a read-only token may do: look, never change.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_user() -> User:
    return g.current_user


def current_auth() -> service.Authenticated:
    """The current user with the token of this request (its id, scope and expiry)."""
    return g.current_auth


def current_user_id():
    """The id of the user holding this request's token (under require(account=False) too)."""
    return g.current_auth.user_id


def require(*roles: str, account: bool = True, full: bool = False):
    """Require a valid bearer token and, if roles are given, one of those roles.

    A read-only token passes only for GET (and HEAD, OPTIONS); with full=True not even then:
    a wall display's token reads no one's personal record (real names, service records,
    certificates, the holder's own area, claims and notifications). With account=False the
    view gets only current_user_id(): the user's row is not loaded (service.token_holder),
    for a request made many times over that needs no more (a tus chunk).
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            if token is None:
                raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
            found = (service.authenticate if account else service.token_holder)(token)
            if found is None:
                raise Unauthorized("the bearer token is unknown, expired or revoked")
            if found.scope != "full" and request.method not in READ_METHODS:
                raise Forbidden("this token is read-only", sub_code="READ_ONLY_TOKEN")
            if found.scope != "full" and full:
                raise Forbidden("a read-only token reads no personal record: sign in",
                                sub_code="READ_ONLY_TOKEN")
            if roles and found.role not in roles:
                raise Forbidden(f"this needs the role {' or '.join(roles)}")
            if account:
                # End the lookup's transaction now: an upload may stream for minutes, and a
                # pooled connection must not sit idle in a transaction while it does.
                db.session.expunge(found.user)
                db.session.rollback()
                g.current_user = found.user
            g.current_auth = found
            return view(*args, **kwargs)

        return wrapper

    return decorator
