"""Accounts, roles and the admin's policy settings of the audit store.

Roles: an analyst reviews matches; a supervisor also approves another person's clearance of a
strong match (four eyes); an admin manages accounts and policy and neither decides nor approves.
Every account change, policy change and sign-in goes into the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel

from screener.review.audit import append_event
from screener.review.schema import StoreError, now, policy, users

MIN_PASSWORD_CHARS = 8
Role = Literal["analyst", "supervisor", "admin"]
ROLES: tuple[str, ...] = ("analyst", "supervisor", "admin")
DEFAULT_FOUR_EYES_SCORE = 95.0
RUN_VISIBILITY: tuple[str, ...] = ("team", "owner")  # every signed-in user | owner and supervisors
POLICY_DEFAULTS: dict[str, str] = {"four_eyes_score": f"{DEFAULT_FOUR_EYES_SCORE:g}", "run_visibility": "team"}


class UserInfo(BaseModel):
    name: str
    role: Role
    created_at: datetime


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}")


def _check_policy(key: str, value: str) -> str:
    if key == "run_visibility":
        if value not in RUN_VISIBILITY:
            raise StoreError(f"run visibility must be one of {', '.join(RUN_VISIBILITY)}")
        return value
    if key == "four_eyes_score":
        try:
            level = float(value)
        except ValueError:
            level = -1.0
        if not 0 <= level <= 100:
            raise StoreError("the four-eyes score must be a number from 0 to 100")
        return f"{level:g}"
    raise StoreError(f"no policy setting {key!r}; settings: {', '.join(POLICY_DEFAULTS)}")


class UserAccounts:
    """The users half of `Store` (needs `engine` and `_write`)."""

    engine: sa.Engine
    _hasher: PasswordHasher
    _dummy: str | None
    _write: Callable[[], Any]

    def add_user(self, name: str, password: str, role: str = "analyst", *, by: str | None = None) -> None:
        """Create a user; the password is kept only as an argon2id hash."""
        name = name.strip()
        if not name or len(name) > 200 or any(ord(ch) < 32 for ch in name):
            raise StoreError("a user name must be 1 to 200 printable characters")
        if len(password) < MIN_PASSWORD_CHARS:
            raise StoreError(f"a password must have at least {MIN_PASSWORD_CHARS} characters")
        _check_role(role)
        digest = self._hasher.hash(password)
        with self._write() as conn, conn.begin():
            if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
                raise StoreError(f"user {name!r} already exists")
            conn.execute(users.insert().values(name=name, password_hash=digest, created_at=now(), role=role))
            append_event(conn, by, "user_added", name, {"role": role})

    def set_role(self, name: str, role: str, *, by: str | None = None) -> None:
        _check_role(role)
        with self._write() as conn, conn.begin():
            found = conn.execute(sa.select(users.c.role).where(users.c.name == name)).first()
            if found is None:
                raise StoreError(f"no user {name!r}")
            conn.execute(users.update().where(users.c.name == name).values(role=role))
            append_event(conn, by, "role_changed", name, {"from": found.role, "to": role})

    def role_of(self, name: str) -> Role | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.role).where(users.c.name == name)).scalar()

    def verify_user(self, name: str, password: str) -> bool:
        """True when the password is right; an unknown user costs the same hashing time."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.id, users.c.password_hash).where(users.c.name == name.strip())
            ).first()
        if row is None and self._dummy is None:
            self._dummy = self._hasher.hash(uuid.uuid4().hex)
        try:
            self._hasher.verify(row.password_hash if row else self._dummy, password)  # type: ignore[arg-type]
        except (VerificationError, InvalidHashError):
            return False
        if row is None:
            return False
        if self._hasher.check_needs_rehash(row.password_hash):
            with self._write() as conn, conn.begin():
                conn.execute(
                    users.update().where(users.c.id == row.id).values(password_hash=self._hasher.hash(password))
                )
        return True

    def sign_in(self, name: str, password: str) -> bool:
        """`verify_user`, with the attempt (and its outcome) in the audit trail."""
        ok = self.verify_user(name, password)
        with self._write() as conn, conn.begin():
            append_event(conn, name.strip()[:200], "signin" if ok else "signin_failed", name.strip()[:200], {})
        return ok

    def user_exists(self, name: str) -> bool:
        return self.role_of(name) is not None

    def list_users(self) -> list[UserInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.name, users.c.role, users.c.created_at).order_by(users.c.name))
            return [UserInfo(name=r.name, role=r.role, created_at=r.created_at) for r in rows]

    # -- policy ----------------------------------------------------------------------------------

    def policy(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            stored = {r.key: r.value for r in conn.execute(sa.select(policy.c.key, policy.c.value))}
        return {**POLICY_DEFAULTS, **stored}

    def four_eyes_score(self) -> float:
        return float(self.policy()["four_eyes_score"])

    def set_policy(self, key: str, value: str, *, by: str | None = None) -> None:
        value = _check_policy(key, str(value).strip())
        with self._write() as conn, conn.begin():
            old = conn.execute(sa.select(policy.c.value).where(policy.c.key == key)).scalar()
            if old is None:
                conn.execute(policy.insert().values(key=key, value=value, updated_at=now(), updated_by=by))
            else:
                conn.execute(policy.update().where(policy.c.key == key).values(
                    value=value, updated_at=now(), updated_by=by))
            append_event(conn, by, "policy_changed", key, {"from": old or POLICY_DEFAULTS[key], "to": value})

    def sees_every_run(self, viewer: str) -> bool:
        """Under the "owner" policy only supervisors see every run; otherwise everybody does."""
        return self.policy()["run_visibility"] == "team" or self.role_of(viewer) == "supervisor"
