"""Supervisor groups (`hitl admin group`, ``GET /v1/groups``) and availability."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.problems import ProblemError
from backend.services.cases import visible_groups
from backend.state import AppState
from store import audit
from store.contracts import Availability, GroupPublic, SupervisorMe, utcnow
from store.db import read_session, write_session
from store.groups import group_members, list_groups, set_availability, upsert_group
from store.tables import Group, Supervisor

__all__ = ["GroupConfigError", "change_availability", "configure_group", "groups", "visible"]


class GroupConfigError(ValueError):
    """A group setting that cannot be stored; the message says what to fix."""


def _public(session: Session, group: Group) -> GroupPublic:
    members = group_members(session=session, group=group.name)
    return GroupPublic(
        name=group.name,
        domains=list(group.domains),
        fallback_group=group.fallback_group,
        open_case_limit=group.open_case_limit,
        open_cases=group.open_cases,
        on_call=[m.name for m in members if m.availability == "on_call"],
        away=[m.name for m in members if m.availability != "on_call"],
    )


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > 64 or name != name.strip():
        raise GroupConfigError(f"{what} must be 1 to 64 characters without surrounding spaces")


def configure_group(
    engine: Engine,
    *,
    name: str,
    domains: list[str] | None = None,
    fallback_group: str | None = None,
    clear_fallback: bool = False,
    open_case_limit: int | None = None,
    clear_limit: bool = False,
    actor: str = "admin",
) -> GroupPublic:
    """Create or change a group (what is not given keeps its value); audited."""
    _check_name(name, "a group name")
    if fallback_group is not None:
        _check_name(fallback_group, "--fallback")
        if fallback_group == name:
            raise GroupConfigError(f"group {name!r} cannot be its own fallback group")
    if open_case_limit is not None and open_case_limit < 0:
        raise GroupConfigError("--limit must be 0 or more (0: low and medium cases never queue)")
    now = utcnow()
    with write_session(engine) as session:
        group = upsert_group(
            session=session,
            name=name,
            now=now,
            domains=domains,
            fallback_group=fallback_group,
            clear_fallback=clear_fallback,
            open_case_limit=open_case_limit,
            clear_limit=clear_limit,
        )
        audit.append_event(
            session,
            kind="group.configured",
            actor=actor,
            ts=now,
            data={
                "name": group.name,
                "domains": group.domains,
                "fallback_group": group.fallback_group,
                "open_case_limit": group.open_case_limit,
            },
        )
        return _public(session, group)


def groups(engine: Engine, *, names: list[str] | None = None) -> list[GroupPublic]:
    """Groups with their routing, open cases and members; ``names`` restricts to those."""
    with read_session(engine) as session:
        return [_public(session, g) for g in list_groups(session=session, names=names)]


def visible(state: AppState, *, supervisor: Supervisor) -> list[GroupPublic]:
    """``GET /v1/groups``: every group for admins, a supervisor's own groups otherwise."""
    return groups(state.engine, names=visible_groups(supervisor))


def change_availability(
    state: AppState, *, supervisor: Supervisor, availability: Availability
) -> SupervisorMe:
    """The supervisor goes on call or away (audited); routing sees it on the next case."""
    from backend.services.keys import me

    assert supervisor.id is not None
    now = state.clock()
    with write_session(state.engine) as session:
        current = session.get(Supervisor, supervisor.id)
        if current is None:
            raise ProblemError(404, "Not found", "your supervisor record no longer exists")
        if current.availability == availability:  # nothing changes, nothing to audit
            supervisor.availability = availability
            return me(state, supervisor=supervisor)
        set_availability(session=session, supervisor_id=supervisor.id, availability=availability)
        audit.append_event(
            session,
            kind="supervisor.availability_changed",
            actor=f"supervisor:{supervisor.name}",
            ts=now,
            data={"supervisor_id": supervisor.id, "availability": availability},
        )
    supervisor.availability = availability  # the cached principal, for this process
    return me(state, supervisor=supervisor)
