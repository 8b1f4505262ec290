"""Persistence for cases, the queue, claims and decisions (keyword-only, caller's Session)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Select, tuple_, union_all
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from store.contracts import (
    SEVERITY_RANK,
    ActionSpec,
    Alternative,
    Breadcrumb,
    CaseContent,
    Confidence,
    EvidenceItem,
    ModelInfo,
    PolicyRef,
    QueueItem,
)
from store.tables import Case, Decision, Supervisor

__all__ = [
    "CursorError",
    "QueueCursor",
    "case_by_idempotency_key",
    "case_content",
    "latest_decision",
    "queue_page",
]


class CursorError(ValueError):
    """A queue cursor that this server did not issue (or for another ordering)."""


@dataclass(frozen=True, order=True)
class QueueCursor:
    """A position in the queue order: (severity rank, due_at, id)."""

    severity_rank: int
    due_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.severity_rank, self.due_at.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> QueueCursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            rank, due, case_id = json.loads(raw)
            due_at = datetime.fromisoformat(due)
            if not (isinstance(rank, int) and isinstance(case_id, int)) or due_at.tzinfo is None:
                raise ValueError
        except (ValueError, TypeError) as exc:
            raise CursorError(
                "cursor is not one this server issued; start from the first page"
            ) from exc
        return cls(rank, due_at, case_id)


def case_by_idempotency_key(*, session: Session, agent_id: int, key: str) -> Case | None:
    return session.exec(
        select(Case).where(Case.agent_id == agent_id).where(Case.idempotency_key == key)
    ).first()


def case_content(case: Case, *, agent_name: str) -> CaseContent:
    """What the supervisor is shown, rebuilt from the row (its digest is ``content_digest``)."""
    assert case.id is not None
    return CaseContent(
        id=case.id,
        agent=agent_name,
        domain=case.domain,
        group=case.group_name,
        summary=case.summary,
        severity=case.severity,  # type: ignore[arg-type]
        due_at=case.due_at,
        created_at=case.created_at,
        proposed_action=ActionSpec.model_validate(case.proposed_action),
        fallback_action=ActionSpec.model_validate(case.fallback_action),
        context=case.context,
        reasoning=[Breadcrumb.model_validate(b) for b in case.reasoning],
        evidence=[EvidenceItem.model_validate(e) for e in case.evidence],
        alternatives=[Alternative.model_validate(a) for a in case.alternatives],
        confidence=Confidence.model_validate(case.confidence_detail),
        model=ModelInfo(name=case.model_name, version=case.model_version, seed=case.model_seed),
        trace_id=case.trace_id,
        risk_flags=case.risk_flags,
        amount=case.amount,
        policy=PolicyRef(
            id=case.policy_id,
            version=case.policy_version,
            hash=case.policy_hash,
            rule=case.policy_rule,
        ),
    )


_cases = Case.__table__.c  # type: ignore[attr-defined]
# Core columns, not ORM attributes: the page's rows skip the ORM's loading machinery.
_QUEUE_COLUMNS = (
    _cases.id,
    _cases.severity_rank,
    _cases.severity,
    _cases.domain,
    _cases.group_name,
    _cases.summary,
    _cases.due_at,
    _cases.created_at,
    _cases.confidence,
    _cases.claimed_by_id,
    _cases.claim_expires_at,
)


def _queue_arm(
    *,
    after: QueueCursor | None,
    severity: str | None,
    domain: str | None,
    group: str | None,
) -> Select[Any] | None:
    """Open cases of one group (or all) after the cursor, in the order of their index.

    None when the cursor is already past everything this arm could return.
    """
    query = core_select(*_QUEUE_COLUMNS).where(_cases.status == "open")
    if group is not None:
        query = query.where(_cases.group_name == group)
    if domain is not None:
        query = query.where(_cases.domain == domain)
    if severity is not None:
        # One severity: walk (due_at, id) inside it, so the index needs no extra sort.
        rank = SEVERITY_RANK[severity]
        query = query.where(_cases.severity_rank == rank)
        if after is not None:
            if after.severity_rank > rank:
                return None
            if after.severity_rank == rank:
                query = query.where(
                    tuple_(_cases.due_at, _cases.id) > tuple_(after.due_at, after.id)
                )
    elif after is not None:
        query = query.where(
            tuple_(_cases.severity_rank, _cases.due_at, _cases.id)
            > tuple_(after.severity_rank, after.due_at, after.id)
        )
    return query


def _queue_rows(
    session: Session,
    *,
    limit: int,
    after: QueueCursor | None,
    severity: str | None,
    domain: str | None,
    groups: list[str | None],
) -> list[Any]:
    """Up to ``limit`` rows in queue order, from one statement whatever the number of groups.

    Several groups are a ``UNION ALL`` of one arm per group under the queue's ORDER BY and
    LIMIT: SQLite and PostgreSQL merge the arms' index ranges (``MERGE (UNION ALL)``,
    ``Merge Append``) and stop after ``limit`` rows, so a page reads about ``limit`` index
    entries and rows at any queue size and for any number of groups.
    """
    arms = [
        arm
        for g in groups
        if (arm := _queue_arm(after=after, severity=severity, domain=domain, group=g)) is not None
    ]
    if not arms:
        return []
    if len(arms) == 1:
        query: Select[Any] | CompoundSelect[Any] = arms[0]
        cols = query.selected_columns
    else:
        query = union_all(*arms)
        cols = query.selected_columns
    order = (
        (cols.due_at, cols.id)
        if severity is not None
        else (
            cols.severity_rank,
            cols.due_at,
            cols.id,
        )
    )
    return list(session.connection().execute(query.order_by(*order).limit(limit)))


def queue_page(
    *,
    session: Session,
    limit: int,
    now: datetime,
    after: QueueCursor | None = None,
    severity: str | None = None,
    domain: str | None = None,
    group: str | None = None,
    groups: list[str] | None = None,
) -> tuple[list[QueueItem], QueueCursor | None]:
    """One page of open cases, most urgent first; and the cursor after it (None at the end).

    ``groups`` restricts to the supervisor's groups: one index range per group, merged by
    the database in a single statement, so a page stays a handful of index reads at any
    queue size.
    """
    arms: list[str | None]
    if groups is not None and group is None:
        arms = list(sorted(set(groups)))
    elif groups is not None and group not in groups:
        arms = []
    else:
        arms = [group]
    rows = _queue_rows(
        session, limit=limit + 1, after=after, severity=severity, domain=domain, groups=arms
    )
    more = len(rows) > limit
    rows = rows[:limit]
    claimers = {r[9] for r in rows if r[9] is not None and r[10] is not None and r[10] > now}
    names: dict[int, str] = {}
    if claimers:
        for sid, name in session.exec(
            select(Supervisor.id, Supervisor.name).where(col(Supervisor.id).in_(claimers))
        ):
            assert sid is not None
            names[sid] = name
    items = [
        QueueItem(
            id=r[0],
            severity=r[2],
            domain=r[3],
            group=r[4],
            summary=r[5],
            due_at=r[6],
            created_at=r[7],
            confidence=r[8],
            claimed_by=names.get(r[9]) if r[9] in claimers else None,
        )
        for r in rows
    ]
    cursor = QueueCursor(rows[-1][1], rows[-1][6], rows[-1][0]) if more and rows else None
    return items, cursor


def latest_decision(*, session: Session, case_id: int) -> Decision | None:
    return session.exec(
        select(Decision)
        .where(Decision.case_id == case_id)
        .order_by(col(Decision.decided_at).desc())
    ).first()
