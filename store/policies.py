"""Persistence for policy versions (keyword-only, caller's Session).

A version is immutable once stored: the file's text verbatim, its content hash, who pushed
it and when. At most one version per policy id is active; activating one deactivates the
others of that id in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from store.canonical import sha256_hex
from store.tables import PolicyVersion

__all__ = [
    "activate_policy_version",
    "active_policy_signature",
    "active_policy_versions",
    "find_policy_version",
    "policy_content_hash",
    "policy_versions",
    "store_policy_version",
]


def policy_content_hash(source: str) -> str:
    """``sha256:<hex>`` of the policy file's UTF-8 bytes."""
    return "sha256:" + sha256_hex(source.encode("utf-8"))


def policy_versions(*, session: Session, policy_id: str | None = None) -> list[PolicyVersion]:
    """Every stored version (of one policy id), by policy id then newest first."""
    query = select(PolicyVersion)
    if policy_id is not None:
        query = query.where(PolicyVersion.policy_id == policy_id)
    query = query.order_by(col(PolicyVersion.policy_id), col(PolicyVersion.version).desc())
    return list(session.exec(query))


def active_policy_versions(*, session: Session) -> list[PolicyVersion]:
    return list(
        session.exec(
            select(PolicyVersion)
            .where(col(PolicyVersion.active).is_(True))
            .order_by(col(PolicyVersion.policy_id))
        )
    )


def active_policy_signature(*, session: Session) -> tuple[tuple[int, str], ...]:
    """(row id, content hash) of each active version: cheap to compare for a reload."""
    rows = session.exec(
        select(PolicyVersion.id, PolicyVersion.content_hash)
        .where(col(PolicyVersion.active).is_(True))
        .order_by(col(PolicyVersion.id))
    )
    return tuple((int(ident or 0), digest) for ident, digest in rows)


def find_policy_version(
    *, session: Session, policy_id: str, version: int | None = None
) -> PolicyVersion | None:
    """That version, or (``version`` None) the active one."""
    query = select(PolicyVersion).where(PolicyVersion.policy_id == policy_id)
    if version is None:
        query = query.where(col(PolicyVersion.active).is_(True))
    else:
        query = query.where(PolicyVersion.version == version)
    return session.exec(query).first()


def store_policy_version(
    *,
    session: Session,
    policy_id: str,
    source: str,
    filename: str,
    domains: list[str],
    author: str,
    now: datetime,
) -> tuple[PolicyVersion, bool]:
    """Store the text as the policy's next version; (row, True) if new, (existing, False) if
    the same content was pushed before."""
    content_hash = policy_content_hash(source)
    existing = session.exec(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id == policy_id)
        .where(PolicyVersion.content_hash == content_hash)
    ).first()
    if existing is not None:
        return existing, False
    latest = session.exec(
        select(func.max(PolicyVersion.version)).where(PolicyVersion.policy_id == policy_id)
    ).one()
    row = PolicyVersion(
        policy_id=policy_id,
        version=(latest or 0) + 1,
        content_hash=content_hash,
        source=source,
        filename=filename[:255],
        domains=domains,
        author=author[:120],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, True


def activate_policy_version(
    *, session: Session, row: PolicyVersion, now: datetime
) -> PolicyVersion | None:
    """Make ``row`` its policy's active version; returns the version it replaces, if any."""
    previous = find_policy_version(session=session, policy_id=row.policy_id)
    if previous is not None and previous.id != row.id:
        previous.active = False
        session.add(previous)
        session.flush()  # one active row per policy id, even between statements
    row.active = True
    row.activated_at = now
    session.add(row)
    session.flush()
    return previous if previous is not None and previous.id != row.id else None
