"""Persistence for supervisor groups and who is on call in them (caller's Session).

A group's ``open_cases`` and a supervisor's ``open_load`` are kept by triggers on
``cases`` (the ``*_lifecycle`` migration): reading them is one indexed row, whatever the
number of cases.
Membership is the supervisor's ``groups`` JSON list, tested in SQL so a lookup reads only
the group's on-call members.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from store.tables import Group, Supervisor

__all__ = [
    "MEMBER_ROLES",
    "GroupRouting",
    "Member",
    "group_members",
    "group_routing",
    "list_groups",
    "on_call_members",
    "set_availability",
    "upsert_group",
]

#: Roles that take cases: viewers read, the system principal only signs fallbacks.
MEMBER_ROLES = ("supervisor", "admin")

_sups_table: Table = Supervisor.__table__  # type: ignore[attr-defined]
_groups = Group.__table__.c  # type: ignore[attr-defined]
_sups = _sups_table.c


@dataclass(frozen=True)
class GroupRouting:
    name: str
    fallback_group: str | None
    open_case_limit: int | None
    open_cases: int


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    open_load: int
    availability: str


def _member_of(dialect: str) -> ColumnElement[bool]:
    """``supervisors.groups`` (a JSON list) contains the bound ``grp``."""
    grp = bindparam("grp", type_=String)
    if dialect == "postgresql":
        elements = func.json_array_elements_text(_sups.groups).table_valued("value")
    else:
        elements = func.json_each(_sups.groups).table_valued("value")
    return exists(select(literal_column("1")).select_from(elements).where(elements.c.value == grp))


@functools.cache
def _members_statement(dialect: str, *, on_call_only: bool) -> Select[Any]:
    query = (
        select(_sups.id, _sups.name, _sups.open_load, _sups.availability)
        .where(_sups.role.in_(MEMBER_ROLES))
        .where(_member_of(dialect))
    )
    if on_call_only:
        return (
            query.where(_sups.availability == "on_call")
            .order_by(_sups.open_load, _sups.id)
            .limit(bindparam("limit", type_=Integer))
        )
    return query.order_by(_sups.name)


def _members(
    session: Session, group: str, *, on_call_only: bool, limit: int | None = None
) -> list[Member]:
    statement = _members_statement(session.get_bind().dialect.name, on_call_only=on_call_only)
    params: dict[str, Any] = {"grp": group}
    if on_call_only:
        params["limit"] = limit if limit is not None else 1_000_000
    return [Member(*row) for row in session.connection().execute(statement, params)]


def _routing_statement(lock: bool) -> Select[Any]:
    query = select(
        _groups.name, _groups.fallback_group, _groups.open_case_limit, _groups.open_cases
    ).where(_groups.name == bindparam("name", type_=String))
    return query.with_for_update() if lock else query


_ROUTING = _routing_statement(False)
_ROUTING_LOCKED = _routing_statement(True)


def group_routing(*, session: Session, name: str, lock: bool = False) -> GroupRouting | None:
    """The group's fallback, limit and open count; ``lock`` holds its row to the commit
    (so concurrent ingests on PostgreSQL see each other's cases in ``open_cases``)."""
    row = (
        session.connection().execute(_ROUTING_LOCKED if lock else _ROUTING, {"name": name}).first()
    )
    return None if row is None else GroupRouting(row[0], row[1], row[2], row[3])


def on_call_members(*, session: Session, group: str, limit: int | None = None) -> list[Member]:
    """The group's on-call members who take cases, least loaded first (then by id);
    ``limit`` of them (routing needs the first)."""
    return _members(session, group, on_call_only=True, limit=limit)


def group_members(*, session: Session, group: str) -> list[Member]:
    """Everyone in the group who takes cases, on call or away, by name."""
    return _members(session, group, on_call_only=False)


def list_groups(*, session: Session, names: list[str] | None = None) -> list[Group]:
    """Every group with a row (configured, or that ever had a queued case), by name;
    ``names`` restricts to those."""
    query = select(Group).order_by(_groups.name)
    if names is not None:
        query = query.where(_groups.name.in_(names))
    return list(session.scalars(query))


def upsert_group(
    *,
    session: Session,
    name: str,
    now: datetime,
    domains: list[str] | None = None,
    fallback_group: str | None = None,
    clear_fallback: bool = False,
    open_case_limit: int | None = None,
    clear_limit: bool = False,
) -> Group:
    """Create or change a group's row; what is not given keeps its value."""
    group = session.get(Group, name, with_for_update=True)
    if group is None:
        group = Group(name=name, domains=[])
        session.add(group)
    if domains is not None:
        group.domains = list(domains)
    if clear_fallback:
        group.fallback_group = None
    elif fallback_group is not None:
        group.fallback_group = fallback_group
    if clear_limit:
        group.open_case_limit = None
    elif open_case_limit is not None:
        group.open_case_limit = open_case_limit
    group.updated_at = now
    session.flush()
    return group


def set_availability(*, session: Session, supervisor_id: int, availability: str) -> bool:
    """Set a supervisor's availability; False if there is no such supervisor."""
    result = session.connection().execute(
        update(_sups_table).where(_sups.id == supervisor_id).values(availability=availability)
    )
    return bool(result.rowcount)
