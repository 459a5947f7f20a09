"""Accounts: creating users, issuing and checking tokens. Owns its transactions."""
from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from fieldapp.accounts.models import ROLES, ApiToken, User, utcnow
from fieldapp.errors import Conflict, Unauthorized, field_error
from fieldapp.extensions import db

_hasher = PasswordHasher()
# Verifying against this keeps the time of an unknown-email login equal to a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")

_PSEUDONYM_WORDS = (
    "egret", "heron", "crane", "ibis", "kite", "finch", "plover", "tern", "swift", "lark",
    "bamboo", "lotus", "willow", "ginkgo", "pine", "camphor", "osmanthus", "maple",
)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_pseudonym() -> str:
    """A public name with no link to the person, e.g. 'heron-7f3a2c'."""
    return f"{secrets.choice(_PSEUDONYM_WORDS)}-{secrets.token_hex(3)}"


def create_user(email: str, password: str, role: str, display_name: str | None = None,
                pseudonym: str | None = None) -> User:
    if role not in ROLES:
        raise field_error("role", f"must be one of {', '.join(ROLES)}")
    email = email.strip().lower()
    if not email or "@" not in email:
        raise field_error("email", "not a valid email address")
    if len(password) < 8:
        raise field_error("password", "must be at least 8 characters")
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email} exists", errors={"email": ["already used"]})
    user = User(email=email, password_hash=_hasher.hash(password), role=role,
                display_name=display_name, pseudonym=pseudonym or new_pseudonym())
    db.session.add(user)
    db.session.commit()
    return user


def issue_token(user: User) -> str:
    """A new random bearer token; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token)))
    db.session.commit()
    return token


def login(email: str, password: str) -> str:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("email or password is wrong") from None
    if user is None:
        raise Unauthorized("email or password is wrong")
    return issue_token(user)


def user_for_token(token: str) -> User | None:
    """The user a live token belongs to (one query: every request asks this)."""
    return db.session.scalar(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None))
    )


def revoke_token(token: str) -> bool:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    return True


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))
