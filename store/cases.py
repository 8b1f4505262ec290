"""Persistence for cases, the queue, claims and decisions (keyword-only, caller's Session)."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import TypeAdapter
from sqlalchemy import (
    CompoundSelect,
    Dialect,
    Integer,
    Select,
    String,
    bindparam,
    or_,
    tuple_,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from store.canonical import json_digest
from store.contracts import (
    FINAL_ACTIONS,
    SEVERITY_RANK,
    ActionSpec,
    Alternative,
    Breadcrumb,
    CaseContent,
    Confidence,
    EvidenceItem,
    InfoExchange,
    ModelInfo,
    PolicyRef,
    QueueItem,
)
from store.tables import Agent, Case, Claim, Decision, Supervisor

__all__ = [
    "CursorError",
    "QueueCursor",
    "case_by_idempotency_key",
    "case_content",
    "content_update",
    "decision_replayed",
    "fenced_case_update",
    "latest_decision",
    "post_hoc_decision",
    "queue_page",
    "release_claim_rows",
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


def case_content(
    case: Case, *, agent_name: str, changes: Mapping[str, Any] | None = None
) -> CaseContent:
    """What the supervisor is shown, rebuilt from the row (its digest is ``content_digest``).

    ``changes`` (column values about to be written) give the content the case will have:
    of them, ``group_name``, ``severity``, ``due_at`` and ``info_exchange`` show in it.
    """
    assert case.id is not None
    new = changes or {}
    return CaseContent(
        id=case.id,
        agent=agent_name,
        domain=case.domain,
        group=new.get("group_name", case.group_name),
        summary=case.summary,
        severity=new.get("severity", case.severity),
        due_at=new.get("due_at", case.due_at),
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
        info_exchange=[
            InfoExchange.model_validate(x) for x in new.get("info_exchange", case.info_exchange)
        ],
    )


class _FastUTCDateTime(UTCDateTime):
    """``UTCDateTime`` that reads SQLite's text with one ``datetime.fromisoformat`` call.

    Same values as ``UTCDateTime`` (aware, UTC); its generic path (parse, check, then
    ``replace(tzinfo=UTC)``) costs ~2 us per value, which a queue page pays a hundred times.
    """

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                # Stored without an offset, meaning UTC. Parsing the offset is ~10x
                # cheaper than datetime.replace(tzinfo=UTC).
                return parse(value + "+00:00")
            except ValueError:
                return parse(value).astimezone(UTC)

        return process


_cases_table = Case.__table__  # type: ignore[attr-defined]
_claims_table = Claim.__table__  # type: ignore[attr-defined]
_cases = _cases_table.c
# Core columns, not ORM attributes: the page's rows skip the ORM's loading machinery.
_QUEUE_COLUMNS = (
    _cases.id,
    _cases.severity_rank,
    _cases.severity,
    _cases.domain,
    _cases.group_name,
    _cases.summary,
    type_coerce(_cases.due_at, _FastUTCDateTime()).label("due_at"),
    type_coerce(_cases.created_at, _FastUTCDateTime()).label("created_at"),
    _cases.confidence,
    _cases.claimed_by_id,
    type_coerce(_cases.claim_expires_at, _FastUTCDateTime()).label("claim_expires_at"),
    type_coerce(_cases.deferred_until, _FastUTCDateTime()).label("deferred_until"),
    # Denormalized at ingest: shown without a lookup.
    _cases.suggested_assignee,
)
_queue_items = TypeAdapter(list[QueueItem])


_Keyset = Literal["rank", "due"] | None


def _queue_arm(
    *, group: str | None, domain: bool, severity: bool, keyset: _Keyset, deferred: bool
) -> Select[Any]:
    """Open cases of one group (or of all) after the cursor, in the order of their index;
    deferred ones only if ``deferred``.

    Values are bind parameters (``group`` names this arm's), so the statement is built once.
    """
    query = core_select(*_QUEUE_COLUMNS).where(_cases.status == "open")
    if not deferred:
        # A residual filter on the index range: deferred cases are few.
        query = query.where(
            or_(
                _cases.deferred_until.is_(None),
                _cases.deferred_until <= bindparam("now", type_=_cases.deferred_until.type),
            )
        )
    if group is not None:
        query = query.where(_cases.group_name == bindparam(group, type_=String))
    if domain:
        query = query.where(_cases.domain == bindparam("domain", type_=String))
    if severity:
        query = query.where(_cases.severity_rank == bindparam("rank", type_=Integer))
    a_due = bindparam("a_due", type_=_cases.due_at.type)
    a_id = bindparam("a_id", type_=Integer)
    if keyset == "due":
        query = query.where(tuple_(_cases.due_at, _cases.id) > tuple_(a_due, a_id))
    elif keyset == "rank":
        a_rank = bindparam("a_rank", type_=Integer)
        query = query.where(
            tuple_(_cases.severity_rank, _cases.due_at, _cases.id) > tuple_(a_rank, a_due, a_id)
        )
    return query


@functools.cache
def _queue_statement(
    groups: int | None, domain: bool, severity: bool, keyset: _Keyset, deferred: bool = False
) -> Select[Any] | CompoundSelect[Any]:
    """The page's statement for this shape: ``groups`` arms (None: one arm, every group).

    Several groups are a ``UNION ALL`` of one arm per group under the queue's ORDER BY and
    LIMIT: SQLite and PostgreSQL merge the arms' index ranges (``MERGE (UNION ALL)``,
    ``Merge Append``) and stop after ``limit`` rows, so a page reads about ``limit`` index
    entries and rows at any queue size and for any number of groups. Built once per shape
    and reused, so SQLAlchemy neither rebuilds it nor recomputes its cache key.
    """
    names = [None] if groups is None else [f"g{i}" for i in range(groups)]
    arms = [
        _queue_arm(group=g, domain=domain, severity=severity, keyset=keyset, deferred=deferred)
        for g in names
    ]
    query: Select[Any] | CompoundSelect[Any] = arms[0] if len(arms) == 1 else union_all(*arms)
    cols = query.selected_columns
    # One severity: walk (due_at, id) inside it, so the index needs no extra sort.
    order = (cols.due_at, cols.id) if severity else (cols.severity_rank, cols.due_at, cols.id)
    return query.order_by(*order).limit(bindparam("limit", type_=Integer))


def _queue_rows(
    session: Session,
    *,
    limit: int,
    after: QueueCursor | None,
    severity: str | None,
    domain: str | None,
    groups: list[str] | None,
    now: datetime,
    deferred: bool,
) -> list[Any]:
    """Up to ``limit`` rows in queue order, from one statement whatever the number of groups.

    ``groups`` None means every group; cases deferred beyond ``now`` only if ``deferred``.
    """
    params: dict[str, Any] = {"limit": limit}
    if not deferred:
        params["now"] = now
    keyset: _Keyset = None
    if after is not None:
        params.update(a_due=after.due_at, a_id=after.id, a_rank=after.severity_rank)
        keyset = "rank"
    if severity is not None:
        rank = SEVERITY_RANK[severity]
        params["rank"] = rank
        if after is not None:
            if after.severity_rank > rank:
                return []
            # Inside one severity the cursor is (due_at, id); before it, nothing to skip.
            keyset = "due" if after.severity_rank == rank else None
    if domain is not None:
        params["domain"] = domain
    if groups is not None:
        if not groups:
            return []
        params.update({f"g{i}": g for i, g in enumerate(groups)})
    statement = _queue_statement(
        None if groups is None else len(groups),
        domain is not None,
        severity is not None,
        keyset,
        deferred,
    )
    return list(session.connection().execute(statement, params).all())


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
    include_deferred: bool = False,
) -> tuple[list[QueueItem], QueueCursor | None]:
    """One page of open cases, most urgent first; and the cursor after it (None at the end).

    A deferred case is left out until its deferral ends (then it is back in its place by
    severity and due time); ``include_deferred`` lists it anyway, with ``deferred_until``.

    ``groups`` restricts to the supervisor's groups: one index range per group, merged by
    the database in a single statement, so a page stays a handful of index reads at any
    queue size.
    """
    arms: list[str] | None
    if groups is not None and group is None:
        arms = sorted(set(groups))
    elif groups is not None and group not in groups:
        arms = []
    else:
        arms = None if group is None else [group]
    rows = _queue_rows(
        session,
        limit=limit + 1,
        after=after,
        severity=severity,
        domain=domain,
        groups=arms,
        now=now,
        deferred=include_deferred,
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
    # One validation call for the page, not one per item.
    items = _queue_items.validate_python(
        [
            {
                "id": r[0],
                "severity": r[2],
                "domain": r[3],
                "group": r[4],
                "summary": r[5],
                "due_at": r[6],
                "created_at": r[7],
                "confidence": r[8],
                "claimed_by": names.get(r[9]) if r[9] in claimers else None,
                "deferred_until": r[11] if r[11] is not None and r[11] > now else None,
                "suggested_assignee": r[12],
            }
            for r in rows
        ]
    )
    cursor = QueueCursor(rows[-1][1], rows[-1][6], rows[-1][0]) if more and rows else None
    return items, cursor


#: Decisions that settle a case: a supervisor's final ones and the system's fallback.
_SETTLING = (*FINAL_ACTIONS, "fallback")


def latest_decision(*, session: Session, case_id: int) -> Decision | None:
    """The decision that settled the case (final or fallback), not a post-hoc one."""
    return session.exec(
        select(Decision)
        .where(Decision.case_id == case_id)
        .where(col(Decision.action).in_(_SETTLING))
        .where(col(Decision.post_hoc).is_(False))
        .order_by(col(Decision.decided_at).desc())
    ).first()


def post_hoc_decision(*, session: Session, case_id: int) -> Decision | None:
    """The supervisor's decision recorded after the case's fallback, if any."""
    return session.exec(
        select(Decision)
        .where(Decision.case_id == case_id)
        .where(col(Decision.post_hoc).is_(True))
        .order_by(col(Decision.decided_at).desc())
    ).first()


def decision_replayed(*, session: Session, decision_id: str, nonce: str) -> Decision | None:
    """The recorded decision (on any case) with this id or nonce, if there is one."""
    return session.exec(
        select(Decision).where((col(Decision.nonce) == nonce) | (col(Decision.id) == decision_id))
    ).first()


def fenced_case_update(
    *,
    session: Session,
    case: Case,
    status: str,
    claim_token: int,
    holder_id: int,
    now: datetime,
    values: dict[str, Any],
) -> bool:
    """Apply ``values`` to the case only if it still has ``status`` and fencing token
    ``claim_token``, and nobody but ``holder_id`` holds an unexpired claim on it; False
    (nothing written) otherwise.

    One conditional ``UPDATE ... WHERE id = ? AND status = ? AND claim_token = ? AND
    (claimed_by_id IS NULL OR claimed_by_id = ? OR claim_expires_at <= ?)``: the database,
    not a read made earlier, decides whether the claim is still the one the write was made
    under. On success the loaded ``case`` gets the new values (without the ORM writing them
    again) and, when the update ends the claim, the claim's rows are marked released.
    """
    assert case.id is not None
    result = session.connection().execute(
        update(_cases_table)
        .where(_cases.id == case.id)
        .where(_cases.status == status)
        .where(_cases.claim_token == claim_token)
        .where(
            or_(
                _cases.claimed_by_id.is_(None),
                _cases.claimed_by_id == holder_id,
                _cases.claim_expires_at <= now,
            )
        )
        .values(**values)
    )
    if result.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(case, name, value)
    if "claimed_by_id" in values and values["claimed_by_id"] is None and claim_token:
        release_claim_rows(session=session, case_id=case.id, token=claim_token, now=now)
    return True


def release_claim_rows(*, session: Session, case_id: int, token: int, now: datetime) -> None:
    """Mark the claim rows of ``token`` on the case released at ``now``."""
    session.connection().execute(
        update(_claims_table)
        .where(_claims_table.c.case_id == case_id)
        .where(_claims_table.c.token == token)
        .where(_claims_table.c.released_at.is_(None))
        .values(released_at=now)
    )


def content_update(
    session: Session, case: Case, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """For a change to the case's content: the column ``values`` with the new
    ``content_digest``, and audit data carrying the new content and its digest (the audit
    log must show the content a later decision signs)."""
    agent = session.get(Agent, case.agent_id)
    content = case_content(case, agent_name=agent.name if agent else "?", changes=values)
    signed = content.signed_json()
    digest = json_digest(signed)
    return values | {"content_digest": digest}, {"content": signed, "content_digest": digest}
