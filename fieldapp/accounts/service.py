"""Accounts: users, sign-in with throttling, tokens that expire, account admin.

Owns its transactions. Every change to an account is logged on ``fieldapp.auth`` with who
made it; failed sign-ins are logged there too, never with the password.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, delete, func, select, update

from fieldapp.accounts import throttle
from fieldapp.accounts.models import ROLES, SCOPES, ApiToken, SigninFailure, User, utcnow
from fieldapp.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    field_error,
)
from fieldapp.extensions import db

log = logging.getLogger("fieldapp.auth")
if not log.handlers and not logging.getLogger().handlers:
    # Sign-ins and account changes are the admin's audit trail: they must reach the
    # server's stderr even where nothing configured logging (gunicorn sets up only its own
    # loggers, and Python would drop INFO records).
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)

_hasher = PasswordHasher()
# Verifying against this keeps the time of an unknown-email login equal to a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")

# NIST SP 800-63B: at least 8 characters, and accept long passphrases; the cap only keeps
# one request from costing a worker a long hash of megabytes.
PASSWORD_MIN = 8
PASSWORD_MAX = 1024

_PSEUDONYM_WORDS = (
    "egret", "heron", "crane", "ibis", "kite", "finch", "plover", "tern", "swift", "lark",
    "bamboo", "lotus", "willow", "ginkgo", "pine", "camphor", "osmanthus", "maple",
)


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token as handed out once: the secret itself is never stored."""

    token: str
    expires_at: datetime
    scope: str


@dataclass(frozen=True)
class Authenticated:
    """Who a live token belongs to, and what that token may do."""

    user: User
    token_id: uuid.UUID
    scope: str
    expires_at: datetime

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> str:
        return self.user.role


@dataclass(frozen=True)
class TokenHolder:
    """Who holds a live token and what it may do, without their account's row."""

    user_id: uuid.UUID
    role: str
    scope: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def account_key(email: str) -> str:
    """What failures are counted under: the same for a known and an unknown email."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def new_pseudonym() -> str:
    """A public name with no link to the person, e.g. 'heron-7f3a2c'."""
    return f"{secrets.choice(_PSEUDONYM_WORDS)}-{secrets.token_hex(3)}"


def generate_password() -> str:
    """A random password of about 120 bits, easy to copy (URL-safe characters)."""
    return secrets.token_urlsafe(15)


def check_new_password(password: str, field: str = "password") -> None:
    if len(password) < PASSWORD_MIN:
        raise field_error(field, f"must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise field_error(field, f"must be at most {PASSWORD_MAX} characters")


# --- users -------------------------------------------------------------------------------


def create_user(email: str, password: str, role: str, display_name: str | None = None,
                pseudonym: str | None = None, actor: str = "system") -> User:
    if role not in ROLES:
        raise field_error("role", f"must be one of {', '.join(ROLES)}")
    email = normalise_email(email)
    if not email or "@" not in email:
        raise field_error("email", "not a valid email address")
    check_new_password(password)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email} exists", errors={"email": ["already used"]})
    user = User(email=email, password_hash=_hasher.hash(password), role=role,
                display_name=display_name, pseudonym=pseudonym or new_pseudonym())
    db.session.add(user)
    db.session.commit()
    log.info("account created: user=%s role=%s by=%s", user.id, role, actor)
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def get_user(user_id) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def list_users(role: str | None = None) -> list[User]:
    query = select(User).order_by(User.created_at, User.email)
    if role is not None:
        query = query.where(User.role == role)
    return list(db.session.scalars(query))


def update_user(user_id, changes: dict, actor: str) -> User:
    """Change role, display name or disabled state; disabling revokes every token at once.

    The last enabled admin can be neither disabled nor demoted: nobody could undo it
    from the API afterwards.
    """
    # Account changes take turns, so two admins demoting each other at once cannot both
    # pass the last-admin check.
    db.session.execute(select(func.pg_advisory_xact_lock(
        func.hashtextextended("fieldapp.accounts.admin", 0))))
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(f"no user {user_id}")
    done = []
    if "role" in changes and changes["role"] != user.role:
        if changes["role"] not in ROLES:
            raise field_error("role", f"must be one of {', '.join(ROLES)}")
        if user.role == "admin":
            _keep_an_admin(user, "role")
        done.append(f"role {user.role}->{changes['role']}")
        user.role = changes["role"]
    if "display_name" in changes and changes["display_name"] != user.display_name:
        done.append("display_name")
        user.display_name = changes["display_name"]
    if "disabled" in changes and changes["disabled"] != user.disabled:
        if changes["disabled"]:
            if user.role == "admin":
                _keep_an_admin(user, "disabled")
            user.disabled_at = utcnow()
            revoked = _revoke_all(user.id)
            done.append(f"disabled ({revoked} token(s) revoked)")
        else:
            user.disabled_at = None
            done.append("enabled")
    db.session.commit()
    if done:
        log.info("account changed: user=%s %s by=%s", user.id, ", ".join(done), actor)
    return user


def _keep_an_admin(user: User, field: str) -> None:
    others = db.session.scalar(
        select(func.count()).select_from(User)
        .where(User.role == "admin", User.disabled_at.is_(None), User.id != user.id))
    if not others:
        db.session.rollback()
        raise Conflict(f"{field}: {user.email} is the last enabled admin",
                       errors={field: ["the last enabled admin must stay an enabled admin"]})


def _revoke_all(user_id, keep: uuid.UUID | None = None) -> int:
    query = (update(ApiToken)
             .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
             .values(revoked_at=utcnow()))
    if keep is not None:
        query = query.where(ApiToken.id != keep)
    return db.session.execute(query).rowcount


def set_password(user_id, password: str, actor: str) -> int:
    """An admin's reset: a new password, and every token of the account revoked (whoever
    knew the old one may hold some)."""
    check_new_password(password)
    user = get_user(user_id)
    user.password_hash = _hasher.hash(password)
    revoked = _revoke_all(user.id)
    db.session.commit()
    log.info("account changed: user=%s password reset (%d token(s) revoked) by=%s",
             user.id, revoked, actor)
    return revoked


def change_password(auth: Authenticated, current: str, new: str, address: str | None) -> int:
    """Set a new password; every other token of the account is revoked, this one stays.

    A wrong current password counts as a failed sign-in: a stolen token must not become
    an unlimited password oracle.
    """
    user = db.session.get(User, auth.user.id)
    key = account_key(user.email)
    _lock_account(key)
    _refuse_if_throttled(key, _address(address))
    if not _password_matches(user.password_hash, current):
        _record_failure(key, _address(address), user)
        raise field_error("current_password", "is not this account's password")
    check_new_password(new, "new_password")
    user.password_hash = _hasher.hash(new)
    revoked = _revoke_all(user.id, keep=auth.token_id)
    db.session.commit()
    log.info("account changed: user=%s password (%d other token(s) revoked) by=%s",
             user.id, revoked, user.id)
    return revoked


# --- sign-in -----------------------------------------------------------------------------


def login(email: str, password: str, address: str | None = None) -> IssuedToken:
    """Email and password for a new full token, unless failures have locked the account
    or the client address (429 with the seconds to wait)."""
    key, where = account_key(email), _address(address)
    _lock_account(key)
    _refuse_if_throttled(key, where)
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if not _password_matches(user.password_hash if user else _DUMMY_HASH, password) \
            or user is None:
        _record_failure(key, where, user)
        raise Unauthorized("email or password is wrong")
    if user.disabled:
        # Only said after the right password: the account's owner learns why, a guesser
        # learns nothing usable.
        db.session.rollback()
        log.warning("sign-in refused: user=%s disabled address=%s", user.id, where)
        raise Forbidden("this account is disabled; an admin can enable it")
    # A success ends the account's run of failures (its owner is back).
    db.session.execute(delete(SigninFailure).where(SigninFailure.account_key == key))
    return _issue(user, "full", current_app.config["FIELDAPP_TOKEN_TTL_S"])


def _address(address: str | None) -> str:
    return (address or "unknown")[:64]


def _lock_account(key: str) -> None:
    # Attempts on one account take turns (until this transaction ends), so parallel
    # guesses cannot all pass the count before any of them is recorded.
    db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def _limits() -> throttle.Limits:
    config = current_app.config
    return throttle.Limits(window=timedelta(seconds=config["FIELDAPP_SIGNIN_WINDOW_S"]),
                           per_account=config["FIELDAPP_SIGNIN_MAX_FAILURES"],
                           per_address=config["FIELDAPP_SIGNIN_MAX_FAILURES_PER_ADDRESS"])


def _recent(column, value: str, limit: int, since: datetime) -> list[datetime]:
    return list(db.session.scalars(
        select(SigninFailure.at).where(column == value, SigninFailure.at > since)
        .order_by(SigninFailure.at.desc()).limit(max(limit, 1))))


def _refuse_if_throttled(key: str, address: str) -> None:
    limits, now = _limits(), utcnow()
    since = now - limits.window
    for what, column, value, limit in (
            ("account", SigninFailure.account_key, key, limits.per_account),
            ("address", SigninFailure.address, address, limits.per_address)):
        wait = throttle.retry_after(_recent(column, value, limit, since), limit,
                                    limits.window, now)
        if wait is not None:
            db.session.rollback()
            log.warning("sign-in throttled: %s email_sha256=%s address=%s retry_after=%ds",
                        what, key[:16], address, wait)
            raise TooManyRequests(
                f"too many failed sign-ins for this {what}; try again in {wait} s",
                retry_after=wait, sub_code=f"SIGNIN_THROTTLED_{what.upper()}")


def _record_failure(key: str, address: str, user: User | None) -> None:
    db.session.add(SigninFailure(account_key=key, address=address))
    db.session.commit()
    log.warning("sign-in failed: email_sha256=%s user=%s address=%s", key[:16],
                user.id if user else "unknown", address)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def prune_signin_failures(older_than_s: int | None = None) -> int:
    """Delete failures that have left the throttling window; idempotent, safe to run
    from any process at any interval."""
    seconds = older_than_s if older_than_s is not None else \
        current_app.config["FIELDAPP_SIGNIN_WINDOW_S"]
    deleted = db.session.execute(delete(SigninFailure).where(
        SigninFailure.at < utcnow() - timedelta(seconds=seconds))).rowcount
    db.session.commit()
    return deleted


# --- tokens ------------------------------------------------------------------------------


def _issue(user: User, scope: str, ttl_s: int) -> IssuedToken:
    if scope not in SCOPES:
        raise field_error("scope", f"must be one of {', '.join(SCOPES)}")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=ttl_s)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), scope=scope,
                            expires_at=expires_at))
    db.session.commit()
    return IssuedToken(token, expires_at, scope)


def issue_token(user: User) -> str:
    """A new random full bearer token with the configured lifetime; only its digest is
    stored."""
    return _issue(user, "full", current_app.config["FIELDAPP_TOKEN_TTL_S"]).token


def issue_read_token(auth: Authenticated, ttl_s: int | None = None) -> IssuedToken:
    """A read-only token for a wall display, at most as long-lived as a full token."""
    longest = current_app.config["FIELDAPP_TOKEN_TTL_S"]
    if ttl_s is None:
        ttl_s = min(current_app.config["FIELDAPP_READ_TOKEN_TTL_S"], longest)
    if not 60 <= ttl_s <= longest:
        raise field_error("ttl_s", f"must be between 60 and {longest} seconds")
    issued = _issue(auth.user, "read", ttl_s)
    log.info("read-only token issued: user=%s ttl_s=%d", auth.user.id, ttl_s)
    return issued


# A live token: not revoked, not expired, and its account not disabled. Built once, with the
# token's digest as a parameter: building the statement for each request cost more CPU than
# running it (every signed-in request asks, and every tus chunk).
_LIVE = (ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None),
         ApiToken.expires_at > func.now(), User.disabled_at.is_(None))
_AUTHENTICATED = (select(User, ApiToken.id, ApiToken.scope, ApiToken.expires_at)
                  .join(ApiToken, ApiToken.user_id == User.id).where(*_LIVE))
_HOLDER = (select(User.id, User.role, ApiToken.scope)
           .join(ApiToken, ApiToken.user_id == User.id).where(*_LIVE))


def authenticate(token: str) -> Authenticated | None:
    """The user and token behind a live bearer token (one query: every request asks)."""
    row = db.session.execute(_AUTHENTICATED, {"digest": token_digest(token)}).first()
    return Authenticated(*row) if row else None


def token_holder(token: str) -> TokenHolder | None:
    """Who holds a live bearer token, as authenticate() decides it, for a request that needs
    no more of the user than that (a tus chunk, twenty of them for a 20 MB photo): one
    statement outside any transaction, so no BEGIN, no ROLLBACK, no statement timeout to
    set (a lookup by a unique key), and no row for the ORM to build."""
    with db.engine.connect() as connection:
        # Autocommit on the driver's connection itself: SQLAlchemy's isolation_level option
        # would send a statement to set it and another to reset it, each a round trip.
        driver = connection.connection.dbapi_connection
        driver.autocommit = True
        try:
            row = connection.execute(_HOLDER, {"digest": token_digest(token)}).first()
        finally:
            driver.autocommit = False
    return TokenHolder(*row) if row else None


def user_for_token(token: str) -> User | None:
    found = authenticate(token)
    return found.user if found else None


def revoke_token(token: str) -> bool:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    return True
