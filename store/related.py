"""Cases related to a case: the same agent, the same trace id, the same redacted value.

Each relation is read through an index, newest first, and bounded: at most :data:`WINDOW`
candidates per relation are read (the newest ones sharing it), then the reader's groups
are applied and ``limit`` are kept. So a request costs a few bounded index ranges whatever
the number of cases; the price is that a relation whose newest :data:`WINDOW` cases all
lie outside the reader's groups lists nothing, even if an older case would be visible.

Placeholders (``⟦kind:hash⟧``, see ``backend/services/redaction.py``) are indexed in
``case_placeholders`` when a case is stored and when its agent answers a question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.sql import Select
from sqlmodel import Session, col

from store.contracts import RelatedCase, RelatedGroup, Relation
from store.tables import Agent, Case, CasePlaceholder

__all__ = [
    "MAX_PLACEHOLDERS",
    "PLACEHOLDER",
    "WINDOW",
    "index_placeholders",
    "placeholders_in",
    "related_groups",
]

#: A typed placeholder as redaction writes it (kind, then 12 hex digits of a keyed hash).
PLACEHOLDER = re.compile(r"⟦[a-z]+:[0-9a-f]{12}⟧")
#: Candidates read per relation before the reader's groups are applied.
WINDOW = 200
#: Placeholders of one case that are looked up (the first ones in sorted order).
MAX_PLACEHOLDERS = 10

_cases = Case.__table__.c  # type: ignore[attr-defined]
_marks = CasePlaceholder.__table__.c  # type: ignore[attr-defined]
_COLUMNS = (
    _cases.id,
    _cases.status,
    _cases.severity,
    _cases.domain,
    _cases.group_name,
    _cases.agent_id,
    _cases.summary,
    _cases.created_at,
)


def placeholders_in(text: str) -> list[str]:
    """The distinct placeholders in ``text``, sorted."""
    if "⟦" not in text:
        return []
    return sorted(set(PLACEHOLDER.findall(text)))


def index_placeholders(session: Session, *, case_id: int, text: str) -> None:
    """Record the placeholders ``text`` (the case's content as JSON) holds for ``case_id``;
    those already recorded are kept."""
    found = placeholders_in(text)
    if not found:
        return
    known = set(
        session.connection()
        .execute(select(_marks.placeholder).where(_marks.case_id == case_id))
        .scalars()
    )
    new = [p for p in found if p not in known]
    if new:
        session.execute(
            CasePlaceholder.__table__.insert(),  # type: ignore[attr-defined]
            [{"case_id": case_id, "placeholder": p} for p in new],
        )


def _visible(query: Select[Any], groups: Sequence[str] | None) -> Select[Any]:
    if groups is None:
        return query
    return query.where(_cases.group_name.in_(list(groups)))


def _newest(candidates: Select[Any], groups: Sequence[str] | None) -> Select[Any]:
    """The visible cases among ``candidates`` (a bounded id subquery), newest first."""
    query = select(*_COLUMNS).where(_cases.id.in_(candidates.scalar_subquery()))
    return (
        _visible(query, groups).order_by(_cases.id.desc()).limit(bindparam("limit", type_=Integer))
    )


def _agent_candidates() -> Select[Any]:
    # Walks ix_cases_agent_recent (agent_id, id) backwards from the newest.
    return (
        select(_cases.id)
        .where(_cases.agent_id == bindparam("agent_id"), _cases.id != bindparam("case_id"))
        .order_by(_cases.id.desc())
        .limit(WINDOW)
    )


def _trace_candidates() -> Select[Any]:
    # ix_cases_trace_id: a trace holds few cases.
    return (
        select(_cases.id)
        .where(_cases.trace_id == bindparam("trace_id"), _cases.id != bindparam("case_id"))
        .order_by(_cases.id.desc())
        .limit(WINDOW)
    )


def _placeholder_candidates() -> Select[Any]:
    # ix_case_placeholders_value (placeholder, case_id) backwards from the newest.
    return (
        select(_marks.case_id)
        .where(
            _marks.placeholder == bindparam("placeholder"), _marks.case_id != bindparam("case_id")
        )
        .order_by(_marks.case_id.desc())
        .limit(WINDOW)
    )


def related_groups(
    session: Session, *, case: Case, groups: Sequence[str] | None, limit: int
) -> list[RelatedGroup]:
    """The related cases of ``case`` that a reader of ``groups`` (None: every group) may
    see, at most ``limit`` per relation; relations with none are left out."""
    assert case.id is not None
    connection = session.connection()
    found: list[tuple[Relation, str, list[Any]]] = []
    params: dict[str, Any] = {"case_id": case.id, "limit": limit + 1}

    if case.trace_id:
        rows = connection.execute(
            _newest(_trace_candidates(), groups), {**params, "trace_id": case.trace_id}
        ).all()
        found.append(("trace", case.trace_id, list(rows)))
    own = connection.execute(
        select(_marks.placeholder)
        .where(_marks.case_id == case.id)
        .order_by(_marks.placeholder)
        .limit(MAX_PLACEHOLDERS)
    ).scalars()
    statement = _newest(_placeholder_candidates(), groups)
    for placeholder in list(own):
        rows = connection.execute(statement, {**params, "placeholder": placeholder}).all()
        found.append(("placeholder", placeholder, list(rows)))

    # The most telling first: a trace and a shared value say more than the same agent.
    agent_rows = connection.execute(
        _newest(_agent_candidates(), groups), {**params, "agent_id": case.agent_id}
    ).all()
    found.append(("agent", "", list(agent_rows)))

    agent_ids = {r.agent_id for _, _, rows in found for r in rows} | {case.agent_id}
    names: dict[int, str] = dict(
        session.exec(
            select(Agent.id, Agent.name).where(col(Agent.id).in_(agent_ids))  # type: ignore[call-overload]
        ).all()
    )
    result: list[RelatedGroup] = []
    for relation, value, rows in found:
        if not rows:
            continue
        result.append(
            RelatedGroup(
                relation=relation,
                value=value or names.get(case.agent_id, "?"),
                cases=[
                    RelatedCase(
                        id=r.id,
                        status=r.status,
                        severity=r.severity,
                        domain=r.domain,
                        group=r.group_name,
                        agent=names.get(r.agent_id, "?"),
                        summary=r.summary,
                        created_at=r.created_at,
                    )
                    for r in rows[:limit]
                ],
                more=len(rows) > limit,
            )
        )
    return result
