"""Audit export and per-case audit trails, scoped to what the reader may see.

Admins export the whole log. Anyone else gets a *scoped* export: the events of cases
outside their groups (a case's events follow its current group) and the events without a
case that are not :data:`SHARED_KINDS` are elided to lines that keep the chain linked
(sequence, previous hash, hash, kind), and the final checkpoint, signed by the backend's
key as the export ends, vouches for exactly those lines (``store.audit``). `hitl audit
verify` checks everything shown and says how many events were elided.
"""

from __future__ import annotations

from collections.abc import Iterator

from backend.services.cases import load_visible, visible_groups
from backend.state import AppState
from store import audit
from store.contracts import CaseAuditEvent
from store.db import read_session, write_session
from store.tables import Supervisor

__all__ = ["SHARED_KINDS", "case_audit", "checkpoint_key_info", "elide_for", "export_stream"]

#: Events without a case that every reader sees: the signers' public keys (without them
#: no decision verifies) and the policies in force. Any other event without a case
#: (principals created, and kinds added later) is elided for non-admins.
SHARED_KINDS = frozenset({"supervisor.key_enrolled", "policy.version_stored", "policy.activated"})


def elide_for(supervisor: Supervisor) -> audit.Elide | None:
    """What a supervisor's export elides; None (nothing) for admins."""
    groups = visible_groups(supervisor)
    if groups is None:
        return None
    allowed = frozenset(groups)

    def elide(event: audit.EventRef) -> bool:
        if event.case_id is None:
            return event.kind not in SHARED_KINDS
        return event.group not in allowed

    return elide


def export_stream(state: AppState, *, supervisor: Supervisor) -> Iterator[bytes]:
    with write_session(state.engine) as session:
        checkpoint = audit.sign_checkpoint(session, signer=state.server_key)
    with read_session(state.engine) as session:
        for line in audit.export_lines(
            session,
            checkpoint=checkpoint,
            checkpoint_key=state.server_key.public_key(),
            elide=elide_for(supervisor),
            signer=state.server_key,
        ):
            yield line.encode("utf-8") + b"\n"


def case_audit(state: AppState, *, supervisor: Supervisor, case_id: int) -> list[CaseAuditEvent]:
    """The audit events of one case, oldest first; 404 outside the supervisor's groups."""
    with read_session(state.engine) as session:
        load_visible(session, supervisor, case_id)
        events = audit.case_events(session, case_id=case_id)
    return [CaseAuditEvent.model_validate(e) for e in events]


def checkpoint_key_info(state: AppState) -> dict[str, str]:
    from store.signing import fingerprint, key_id, public_key_b64

    public = state.server_key.public_key()
    return {
        "algorithm": "ed25519",
        "keyid": key_id(public),
        "public_key": public_key_b64(public),
        "fingerprint": fingerprint(public),
    }
