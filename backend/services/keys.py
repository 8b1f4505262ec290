"""Supervisor identity and signing-key enrollment."""

from __future__ import annotations

from sqlmodel import Session

from backend.problems import ProblemError
from backend.state import AppState
from store import audit
from store.contracts import KeyPublic, SupervisorMe
from store.db import read_session, write_session
from store.principals import supervisor_keys
from store.signing import SignatureError, fingerprint, key_id, load_public_key, public_key_b64
from store.tables import Supervisor, SupervisorKey

__all__ = ["enroll_key", "me"]


def _key_public(key: SupervisorKey) -> KeyPublic:
    return KeyPublic(
        key_id=key.key_id,
        fingerprint=key.fingerprint,
        public_key=key.public_key,
        created_at=key.created_at,
    )


def _me(session: Session, supervisor: Supervisor) -> SupervisorMe:
    assert supervisor.id is not None
    # Availability from the database: the authenticated principal may be a cached copy
    # from before a change made through another backend process.
    stored = session.get(Supervisor, supervisor.id)
    return SupervisorMe(
        id=supervisor.id,
        name=supervisor.name,
        role=supervisor.role,
        groups=list(supervisor.groups),
        keys=[
            _key_public(k) for k in supervisor_keys(session=session, supervisor_id=supervisor.id)
        ],
        availability=(stored or supervisor).availability,  # type: ignore[arg-type]
    )


def me(state: AppState, *, supervisor: Supervisor) -> SupervisorMe:
    with read_session(state.engine) as session:
        return _me(session, supervisor)


def enroll_key(
    state: AppState, *, supervisor: Supervisor, public_key: str
) -> tuple[KeyPublic, bool]:
    """Pin a public key to the supervisor. Returns (key, created); re-enrolling is a no-op."""
    try:
        public = load_public_key(public_key)
    except SignatureError as exc:
        raise ProblemError(422, "Invalid public key", str(exc)) from exc
    kid = key_id(public)
    if kid == key_id(state.server_key.public_key()):
        raise ProblemError(
            409,
            "Key belongs to someone else",
            "this is the backend's own public key; enroll a key of your own (`hitl enroll`)",
        )
    now = state.clock()
    with write_session(state.engine) as session:
        existing = session.get(SupervisorKey, kid)
        if existing is not None:
            if existing.supervisor_id != supervisor.id:
                raise ProblemError(
                    409,
                    "Key belongs to someone else",
                    "this public key is enrolled for another supervisor",
                )
            return _key_public(existing), False
        assert supervisor.id is not None
        row = SupervisorKey(
            key_id=kid,
            supervisor_id=supervisor.id,
            public_key=public_key_b64(public),
            fingerprint=fingerprint(public),
            created_at=now,
        )
        session.add(row)
        audit.append_event(
            session,
            kind="supervisor.key_enrolled",
            actor=f"supervisor:{supervisor.name}",
            ts=now,
            data={
                "supervisor_id": supervisor.id,
                "supervisor": supervisor.name,
                "key_id": kid,
                "public_key": row.public_key,
                "fingerprint": row.fingerprint,
            },
        )
        return _key_public(row), True
