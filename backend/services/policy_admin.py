"""The policy endpoints: read the stored versions (any supervisor role), push and activate
(admins). The rules are those of `hitl policy push|activate` (backend.services.policies);
here they meet HTTP: file:line problems become a 422, conflicts a 409."""

from __future__ import annotations

from backend.policies import PolicyError
from backend.problems import ProblemError
from backend.services.policies import (
    PolicyConflict,
    activate_policy,
    get_policy_version,
    list_policy_versions,
    push_policy,
)
from backend.state import AppState
from store.contracts import PolicyPushResult, PolicyVersionPublic
from store.tables import PolicyVersion, Supervisor

__all__ = ["activate", "list_versions", "push", "show_version"]


def _public(row: PolicyVersion, *, source: bool = False) -> PolicyVersionPublic:
    return PolicyVersionPublic(
        policy_id=row.policy_id,
        version=row.version,
        content_hash=row.content_hash,
        filename=row.filename,
        domains=list(row.domains),
        author=row.author,
        created_at=row.created_at,
        active=row.active,
        activated_at=row.activated_at,
        source=row.source if source else None,
    )


def list_versions(state: AppState, *, policy_id: str | None) -> list[PolicyVersionPublic]:
    return [_public(r) for r in list_policy_versions(state.engine, policy_id=policy_id)]


def show_version(state: AppState, *, policy_id: str, version: int) -> PolicyVersionPublic:
    row = get_policy_version(state.engine, policy_id=policy_id, version=version)
    if row is None:
        raise ProblemError(404, "Not found", f"policy {policy_id!r} has no version {version}")
    return _public(row, source=True)


def push(state: AppState, *, admin: Supervisor, source: str, filename: str) -> PolicyPushResult:
    try:
        result = push_policy(state.engine, source=source, filename=filename, author=admin.name)
    except PolicyError as exc:
        raise ProblemError(
            422,
            "Policy does not check",
            f"fix these and push again:\n{exc}",
            problems=[{"line": p.line, "message": p.message} for p in exc.problems],
        ) from None
    except PolicyConflict as exc:
        raise ProblemError(409, "Policy conflict", str(exc)) from None
    return PolicyPushResult(
        version=_public(result.version),
        created=result.created,
        activated=result.activated,
        previous_version=result.previous.version if result.previous else None,
    )


def activate(
    state: AppState, *, admin: Supervisor, policy_id: str, version: int
) -> PolicyPushResult:
    try:
        result = activate_policy(
            state.engine, policy_id=policy_id, version=version, author=admin.name
        )
    except LookupError as exc:
        raise ProblemError(404, "Not found", str(exc)) from None
    except PolicyConflict as exc:
        raise ProblemError(409, "Policy conflict", str(exc)) from None
    return PolicyPushResult(
        version=_public(result.version),
        created=False,
        activated=result.activated,
        previous_version=result.previous.version if result.previous else None,
    )
