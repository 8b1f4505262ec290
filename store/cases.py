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
    and_,
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
    "QUEUE_SORTS",
    "CursorError",
    "QueueCursor",
    "QueueFilter",
    "QueueSort",
    "case_by_idempotency_key",
    "case_content",
    "content_update",
    "decision_replayed",
    "fenced_case_update",
    "latest_decision",
    "post_hoc_decision",
    "queue_items_by_id",
    "queue_page",
    "release_claim_rows",
]


class CursorError(ValueError):
    """A queue cursor that this server did not issue (or for another ordering)."""


#: Queue orders: most urgent first (severity, then SLA time left), least SLA time left
#: whatever the severity, or oldest first.
QueueSort = Literal["priority", "sla", "age"]
QUEUE_SORTS: tuple[QueueSort, ...] = ("priority", "sla", "age")


@dataclass(frozen=True)
class QueueCursor:
    """A position in a queue order: (severity rank, due_at, id), plus the order it is in
    and the case's created_at for the oldest-first order."""

    severity_rank: int
    due_at: datetime
    id: int
    sort: QueueSort = "priority"
    created_at: datetime | None = None

    def encode(self) -> str:
        fields: list[object] = [self.severity_rank, self.due_at.isoformat(), self.id]
        if self.sort != "priority":
            created = self.created_at or self.due_at
            fields += [self.sort, created.isoformat()]
        raw = json.dumps(fields)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> QueueCursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            fields = json.loads(raw)
            if not isinstance(fields, list) or len(fields) not in (3, 5):
                raise ValueError
            rank, due, case_id = fields[:3]
            due_at = datetime.fromisoformat(due)
            sort: QueueSort = "priority"
            created_at = None
            if len(fields) == 5:
                sort, created = fields[3], fields[4]
                if sort not in QUEUE_SORTS:
                    raise ValueError
                created_at = datetime.fromisoformat(created)
                if created_at.tzinfo is None:
                    raise ValueError
            if not (isinstance(rank, int) and isinstance(case_id, int)) or due_at.tzinfo is None:
                raise ValueError
        except (ValueError, TypeError) as exc:
            raise CursorError(
                "cursor is not one this server issued; start from the first page"
            ) from exc
        return cls(rank, due_at, case_id, sort, created_at)


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


#: How a page walks past its cursor: (severity_rank, due_at, id), (due_at, id) inside one
#: severity, (created_at, id) for the oldest first; None on the first page.
_Keyset = Literal["rank", "due", "created"] | None


@dataclass(frozen=True)
class QueueFilter:
    """What a supervisor narrowed the queue to (beyond their groups).

    ``claimed``: only cases with a live claim (True) or without one (False).
    ``mine``: only cases claimed by ``me_id`` or suggested to ``me_name``.
    ``q``: only cases whose summary contains this text (case-insensitive).
    """

    severity: str | None = None
    domain: str | None = None
    claimed: bool | None = None
    mine: bool = False
    q: str | None = None
    include_deferred: bool = False
    me_id: int | None = None
    me_name: str | None = None


@dataclass(frozen=True)
class _Shape:
    """What a statement depends on besides its values: statements are cached per shape."""

    groups: int | None
    domain: bool
    severity: bool
    keyset: _Keyset
    deferred: bool
    sort: QueueSort = "priority"
    claimed: bool | None = None
    mine: bool = False
    q: bool = False


def _residual(query: Select[Any], shape: _Shape) -> Select[Any]:
    """The filters checked on each row the index walk reaches (see README: cost)."""
    if not shape.deferred:
        # Deferred cases are few.
        query = query.where(
            or_(
                _cases.deferred_until.is_(None),
                _cases.deferred_until <= bindparam("now", type_=_cases.deferred_until.type),
            )
        )
    if shape.domain:
        query = query.where(_cases.domain == bindparam("domain", type_=String))
    now = bindparam("now_claim", type_=_cases.claim_expires_at.type)
    live_claim = and_(_cases.claimed_by_id.is_not(None), _cases.claim_expires_at > now)
    if shape.claimed is True:
        query = query.where(live_claim)
    elif shape.claimed is False:
        query = query.where(or_(_cases.claimed_by_id.is_(None), _cases.claim_expires_at <= now))
    if shape.mine:
        query = query.where(
            or_(
                and_(
                    _cases.claimed_by_id == bindparam("me_id", type_=Integer),
                    _cases.claim_expires_at > now,
                ),
                _cases.suggested_assignee == bindparam("me_name", type_=String),
            )
        )
    if shape.q:
        query = query.where(_cases.summary.ilike(bindparam("q", type_=String), escape="\\"))
    return query


def _queue_arm(shape: _Shape, *, group: str | None, rank: str | None) -> Select[Any]:
    """Open cases of one group (or of all) after the cursor, in the order of an index.

    Values are bind parameters (``group`` and ``rank`` name this arm's), so the statement
    is built once per shape.
    """
    query = _residual(core_select(*_QUEUE_COLUMNS).where(_cases.status == "open"), shape)
    if group is not None:
        query = query.where(_cases.group_name == bindparam(group, type_=String))
    if rank is not None:
        query = query.where(_cases.severity_rank == bindparam(rank, type_=Integer))
    a_id = bindparam("a_id", type_=Integer)
    if shape.keyset == "due":
        a_due = bindparam("a_due", type_=_cases.due_at.type)
        query = query.where(tuple_(_cases.due_at, _cases.id) > tuple_(a_due, a_id))
    elif shape.keyset == "rank":
        a_due = bindparam("a_due", type_=_cases.due_at.type)
        a_rank = bindparam("a_rank", type_=Integer)
        query = query.where(
            tuple_(_cases.severity_rank, _cases.due_at, _cases.id) > tuple_(a_rank, a_due, a_id)
        )
    elif shape.keyset == "created":
        a_created = bindparam("a_created", type_=_cases.created_at.type)
        query = query.where(tuple_(_cases.created_at, _cases.id) > tuple_(a_created, a_id))
    return query


@functools.cache
def _queue_statement(shape: _Shape) -> Select[Any] | CompoundSelect[Any]:
    """The page's statement for this shape: ``groups`` arms (None: one arm, every group).

    Several arms are a ``UNION ALL`` under the order's ORDER BY and LIMIT: SQLite and
    PostgreSQL merge the arms' index ranges (``MERGE (UNION ALL)``, ``Merge Append``) and
    stop after ``limit`` rows, so a page reads about ``limit`` index entries and rows at
    any queue size and for any number of groups. The SLA order walks the queue indexes
    one severity at a time (one arm per group and severity), so it needs no index of its
    own; the oldest-first order walks ``ix_cases_queue_age``/``ix_cases_queue_group_age``.
    Built once per shape and reused, so SQLAlchemy neither rebuilds it nor recomputes
    its cache key.
    """
    groups = [None] if shape.groups is None else [f"g{i}" for i in range(shape.groups)]
    ranks: list[str | None] = [None]
    if shape.severity:
        ranks = ["rank"]
    elif shape.sort == "sla":
        ranks = [f"r{n}" for n in range(len(SEVERITY_RANK))]
    arms = [_queue_arm(shape, group=g, rank=r) for g in groups for r in ranks]
    query: Select[Any] | CompoundSelect[Any] = arms[0] if len(arms) == 1 else union_all(*arms)
    cols = query.selected_columns
    order: tuple[Any, ...]
    if shape.sort == "age":
        order = (cols.created_at, cols.id)
    elif shape.sort == "sla" or shape.severity:
        # One severity per arm: walk (due_at, id) inside it, so the index needs no sort.
        order = (cols.due_at, cols.id)
    else:
        order = (cols.severity_rank, cols.due_at, cols.id)
    return query.order_by(*order).limit(bindparam("limit", type_=Integer))


def _values(filters: QueueFilter, now: datetime) -> dict[str, Any]:
    params: dict[str, Any] = {"now_claim": now}
    if not filters.include_deferred:
        params["now"] = now
    if filters.domain is not None:
        params["domain"] = filters.domain
    if filters.severity is not None:
        params["rank"] = SEVERITY_RANK[filters.severity]
    if filters.mine:
        params.update(me_id=filters.me_id or -1, me_name=filters.me_name or "")
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["q"] = f"%{escaped}%"
    return params


def _queue_rows(
    session: Session,
    *,
    limit: int,
    after: QueueCursor | None,
    sort: QueueSort,
    filters: QueueFilter,
    groups: list[str] | None,
    now: datetime,
) -> list[Any]:
    """Up to ``limit`` rows in queue order, from one statement whatever the number of groups.

    ``groups`` None means every group; cases deferred beyond ``now`` only if asked for.
    """
    params = _values(filters, now)
    params["limit"] = limit
    keyset: _Keyset = None
    if after is not None:
        params.update(a_due=after.due_at, a_id=after.id, a_rank=after.severity_rank)
        if sort == "age":
            params["a_created"] = after.created_at
            keyset = "created"
        elif sort == "sla":
            keyset = "due"
        else:
            keyset = "rank"
    if filters.severity is not None and sort == "priority" and after is not None:
        rank = params["rank"]
        if after.severity_rank > rank:
            return []
        # Inside one severity the cursor is (due_at, id); before it, nothing to skip.
        keyset = "due" if after.severity_rank == rank else None
    if sort == "sla" and filters.severity is None:
        params.update({f"r{n}": n for n in range(len(SEVERITY_RANK))})
    if groups is not None:
        if not groups:
            return []
        params.update({f"g{i}": g for i, g in enumerate(groups)})
    shape = _Shape(
        groups=None if groups is None else len(groups),
        domain=filters.domain is not None,
        severity=filters.severity is not None,
        keyset=keyset,
        deferred=filters.include_deferred,
        sort=sort,
        claimed=filters.claimed,
        mine=filters.mine,
        q=bool(filters.q),
    )
    return list(session.connection().execute(_queue_statement(shape), params).all())


def _arms(groups: list[str] | None, group: str | None) -> list[str] | None:
    """The groups to read: the one asked for if visible, else all visible (None: all)."""
    if groups is not None and group is None:
        return sorted(set(groups))
    if groups is not None and group not in groups:
        return []
    return None if group is None else [group]


def _items(session: Session, rows: list[Any], now: datetime) -> list[QueueItem]:
    claimers = {r[9] for r in rows if r[9] is not None and r[10] is not None and r[10] > now}
    names: dict[int, str] = {}
    if claimers:
        for sid, name in session.exec(
            select(Supervisor.id, Supervisor.name).where(col(Supervisor.id).in_(claimers))
        ):
            assert sid is not None
            names[sid] = name
    # One validation call for the page, not one per item.
    return _queue_items.validate_python(
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
    sort: QueueSort = "priority",
    filters: QueueFilter | None = None,
) -> tuple[list[QueueItem], QueueCursor | None]:
    """One page of open cases in ``sort`` order; and the cursor after it (None at the end).

    A deferred case is left out until its deferral ends (then it is back in its place by
    severity and due time); ``include_deferred`` lists it anyway, with ``deferred_until``.

    ``groups`` restricts to the supervisor's groups: one index range per group, merged by
    the database in a single statement, so a page stays a handful of index reads at any
    queue size. ``filters`` (claimed, mine, summary text) are checked on the rows the walk
    reaches: a page costs about ``limit`` rows when most cases match, up to a walk of the
    visible open cases when almost none do.
    """
    if filters is None:
        filters = QueueFilter(severity=severity, domain=domain, include_deferred=include_deferred)
    if after is not None and after.sort != sort:
        raise CursorError(f"the cursor is for sort={after.sort}; start from the first page")
    rows = _queue_rows(
        session,
        limit=limit + 1,
        after=after,
        sort=sort,
        filters=filters,
        groups=_arms(groups, group),
        now=now,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = _items(session, rows, now)
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = QueueCursor(last[1], last[6], last[0], sort, last[7])
    return items, cursor


def queue_items_by_id(
    *,
    session: Session,
    ids: list[int],
    now: datetime,
    group: str | None = None,
    groups: list[str] | None = None,
    filters: QueueFilter | None = None,
) -> list[QueueItem]:
    """Those of ``ids`` that are in the queue as filtered (open, visible, matching), by id.

    What a live console asks after the change feed named these cases: each comes back
    as its queue row, or not at all when it left the queue (or the filter).
    """
    filters = filters or QueueFilter()
    arms = _arms(groups, group)
    if not ids or arms == []:
        return []
    shape = _Shape(
        groups=None,
        domain=filters.domain is not None,
        severity=False,
        keyset=None,
        deferred=filters.include_deferred,
        claimed=filters.claimed,
        mine=filters.mine,
        q=bool(filters.q),
    )
    query = _residual(core_select(*_QUEUE_COLUMNS).where(_cases.status == "open"), shape)
    query = query.where(_cases.id.in_(bindparam("ids", expanding=True)))
    params = _values(filters, now)
    params["ids"] = sorted(set(ids))
    if filters.severity is not None:
        query = query.where(_cases.severity_rank == bindparam("rank", type_=Integer))
    if arms is not None:
        query = query.where(_cases.group_name.in_(bindparam("arms", expanding=True)))
        params["arms"] = arms
    rows = list(session.connection().execute(query.order_by(_cases.id), params).all())
    return _items(session, rows, now)


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
