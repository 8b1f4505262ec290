"""Pushing and activating policy versions (the `hitl policy` commands).

A push checks the file (as `hitl policy check` does), stores it as an immutable version
unless the same content was pushed before, and activates it: the version row, the
deactivation of the previous one and the audit events commit together. Two active
policies may not claim the same domain, and at most one may claim every domain (no
``domains``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.policies import PolicyError, compile_policy
from store import audit
from store.contracts import utcnow
from store.db import read_session, write_session
from store.policies import (
    activate_policy_version,
    active_policy_versions,
    find_policy_version,
    policy_versions,
    store_policy_version,
)
from store.tables import PolicyVersion

__all__ = [
    "PolicyConflict",
    "PushResult",
    "activate_policy",
    "get_policy_version",
    "list_policy_versions",
    "push_policy",
]

KIND_STORED = "policy.version_stored"
KIND_ACTIVATED = "policy.activated"


class PolicyConflict(ValueError):
    """The version cannot be activated (another active policy claims its domains...)."""


@dataclass(frozen=True)
class PushResult:
    version: PolicyVersion
    created: bool
    #: The version it replaced; None if the policy had no active version.
    previous: PolicyVersion | None
    #: False when the pushed content was already the active version (nothing changed).
    activated: bool


def _overlap(session: Session, row: PolicyVersion) -> None:
    mine = set(row.domains)
    for other in active_policy_versions(session=session):
        if other.policy_id == row.policy_id:
            continue
        theirs = set(other.domains)
        if not mine and not theirs:
            raise PolicyConflict(
                f"policy {other.policy_id!r} v{other.version} already governs every domain "
                f"(no domains); give {row.policy_id!r} a domains list"
            )
        if mine & theirs:
            raise PolicyConflict(
                f"policy {other.policy_id!r} v{other.version} already governs "
                f"{', '.join(sorted(mine & theirs))}; one domain, one active policy"
            )


def _activate(
    session: Session, row: PolicyVersion, *, actor: str
) -> tuple[PolicyVersion | None, bool]:
    if row.active:
        return None, False
    _overlap(session, row)
    now = utcnow()
    previous = activate_policy_version(session=session, row=row, now=now)
    audit.append_event(
        session,
        kind=KIND_ACTIVATED,
        actor=actor,
        ts=now,
        data={
            "policy_id": row.policy_id,
            "version": row.version,
            "content_hash": row.content_hash,
            "domains": row.domains,
            "previous_version": previous.version if previous else None,
        },
    )
    return previous, True


def push_policy(engine: Engine, *, source: str, filename: str, author: str) -> PushResult:
    """Check, store and activate a policy file. Raises :class:`PolicyError` with every
    problem, or :class:`PolicyConflict`."""
    policy = compile_policy(source, source=filename)
    actor = f"admin:{author}"
    with write_session(engine) as session:
        row, created = store_policy_version(
            session=session,
            policy_id=policy.id,
            source=source,
            filename=filename,
            domains=list(policy.domains),
            author=author,
            now=utcnow(),
        )
        if created:
            audit.append_event(
                session,
                kind=KIND_STORED,
                actor=actor,
                ts=row.created_at,
                data={
                    "policy_id": row.policy_id,
                    "version": row.version,
                    "content_hash": row.content_hash,
                    "filename": row.filename,
                    "author": row.author,
                    "source": row.source,
                },
            )
        previous, activated = _activate(session, row, actor=actor)
        return PushResult(row, created, previous, activated)


def activate_policy(engine: Engine, *, policy_id: str, version: int, author: str) -> PushResult:
    """Make a stored version active again (a rollback)."""
    with write_session(engine) as session:
        row = find_policy_version(session=session, policy_id=policy_id, version=version)
        if row is None:
            raise LookupError(f"policy {policy_id!r} has no version {version}")
        # A version stored by an older hitl must still compile with this one.
        try:
            compile_policy(row.source, source=f"{policy_id} v{version}")
        except PolicyError as exc:
            raise PolicyConflict(f"version {version} no longer checks:\n{exc}") from exc
        previous, activated = _activate(session, row, actor=f"admin:{author}")
        return PushResult(row, False, previous, activated)


def list_policy_versions(engine: Engine, *, policy_id: str | None = None) -> list[PolicyVersion]:
    with read_session(engine) as session:
        return policy_versions(session=session, policy_id=policy_id)


def get_policy_version(
    engine: Engine, *, policy_id: str, version: int | None = None
) -> PolicyVersion | None:
    with read_session(engine) as session:
        return find_policy_version(session=session, policy_id=policy_id, version=version)
