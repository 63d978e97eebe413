"""People who sign in to the dashboard: argon2id passwords, lockout after failed sign-ins, browser sessions.

A user belongs to one workspace and sees exactly what an access token of that workspace sees. A session
cookie carries a random secret; the database keeps only its SHA-256, so a leaked database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reelhouse.db.models import User, UserSession, utcnow
from reelhouse.tokens import DEFAULT_WORKSPACE, workspace_named

SESSION_LIFETIME = timedelta(days=14)
FREE_ATTEMPTS = 5  # failed sign-ins in a row before each further failure locks the account for a while
MAX_LOCK = timedelta(minutes=15)

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
_DUMMY_HASH = _hasher.hash("not a password")  # verified against for unknown emails, so timing tells nothing


class UserError(ValueError):
    """A request about users that cannot be honoured, in words for the person who made it."""


class Locked(Exception):
    """Too many failed sign-ins: the account refuses sign-ins until `until`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"locked for {seconds} more seconds")
        self.seconds = seconds


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 255 or any(c.isspace() for c in email):
        raise UserError(f"not an email address: {email!r}")
    return email


def check_password(password: str) -> None:
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    if len(password) > 1024:
        raise UserError("a password may have at most 1024 characters")


def create_user(session: Session, email: str, password: str, *, workspace: str = DEFAULT_WORKSPACE,
                is_admin: bool = False) -> User:
    email = normalise_email(email)
    check_password(password)
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise UserError(f"a user {email} already exists")
    user = User(workspace_id=workspace_named(session, workspace).id, email=email, password_hash=_hasher.hash(password),
                is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def all_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at)))


def set_password(session: Session, user: User, password: str) -> None:
    """Also signs the user out everywhere and lifts a lockout."""
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def sign_in(session: Session, email: str, password: str) -> User | None:
    """The user when the password is right; None when it is wrong or no such user exists. Raises Locked while
    the account is locked; each failure past FREE_ATTEMPTS doubles the lock, up to MAX_LOCK."""
    user = find_user(session, email)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise Locked(int((user.locked_until - now).total_seconds()) + 1)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:1024])
        verified = user is not None
    except (VerificationError, InvalidHashError):
        verified = False
    if user is None:
        return None
    if not verified:
        user.failed_sign_ins += 1
        over = user.failed_sign_ins - FREE_ATTEMPTS
        if over >= 0:
            user.locked_until = now + min(timedelta(seconds=30 * 2**min(over, 10)), MAX_LOCK)
        return None
    user.failed_sign_ins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(session: Session, user: User) -> str:
    """A new browser session for `user`; returns the cookie's secret, which is not stored."""
    secret = secrets.token_urlsafe(32)
    session.add(UserSession(id=_digest(secret), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                            expires_at=utcnow() + SESSION_LIFETIME))
    session.execute(delete(UserSession).where(UserSession.expires_at <= utcnow()))
    return secret


def session_for(session: Session, secret: str) -> UserSession | None:
    """The live session a cookie names, with its user loaded; None for unknown or expired ones."""
    if not secret or len(secret) > 128:
        return None
    found = session.get(UserSession, _digest(secret))
    if found is None or found.expires_at <= utcnow():
        return None
    found.user  # noqa: B018 - loaded for use after the database session closes
    return found


def close_session(session: Session, secret: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id == _digest(secret)))
