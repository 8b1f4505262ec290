"""Real audit logs for the store tests, written through the store's own code path.

:func:`write_plan` writes a plan of steps through the real code path (``store.migrate``,
``store.db.write_session``, ``store.audit.append_event``, ``sign_checkpoint``,
``export_lines``) into a fresh SQLite file and returns the exported JSONL lines with the
keys that signed them. A plan is a list of tuples:

- ``("enroll", supervisor_id)``: a new Ed25519 key, recorded as ``supervisor.key_enrolled``
- ``("case", case_id, extra_context)``: ``case.created`` with ``content`` and its digest
- ``("update", case_id, extra_context)``: ``case.updated``, new content and digest
- ``("claim", case_id, supervisor_id)``: ``case.claimed``
- ``("decide", case_id, supervisor_id, action)``: ``decision.recorded`` with a DSSE envelope
  signed by the supervisor's newest key over the case's current content digest
- ``("checkpoint",)``: a checkpoint signed mid-log (the export still ends with a fresh one)

Each step is its own ``write_session`` transaction, as in the backend.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from store.audit import append_event, export_lines, sign_checkpoint
from store.canonical import json_digest
from store.contracts import ActionSpec, CaseContent, DecisionPayload, PolicyRef
from store.db import make_engine, read_session, write_session
from store.samples import sample_escalation
from store.signing import (
    DECISION_PAYLOAD_TYPE,
    fingerprint,
    key_id,
    public_key_b64,
    sign_envelope,
)

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
Step = tuple[Any, ...]


def seeded_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key (the seed is SHA-256 of ``label``)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def case_content(case_id: int, extra_context: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a supervisor is shown about a case, built as the backend builds it."""
    esc = sample_escalation(case_id)
    content = CaseContent(
        id=case_id,
        agent="refund-bot",
        domain=esc.domain,
        group=esc.domain,
        summary=esc.summary,
        severity="high",
        due_at=T0 + timedelta(hours=1),
        created_at=T0,
        proposed_action=esc.proposed_action,
        fallback_action=esc.fallback_action or ActionSpec(name="hold"),
        context={**esc.context, **(extra_context or {})},
        reasoning=esc.reasoning,
        evidence=esc.evidence,
        alternatives=esc.alternatives,
        confidence=esc.confidence,
        model=esc.model,
        trace_id=esc.trace_id,
        risk_flags=esc.risk_flags,
        amount=esc.amount,
        policy=PolicyRef(id="refunds", version="3", hash="sha256:" + "ab" * 32, rule="r1"),
    )
    return content.model_dump(mode="json")


@dataclass
class BuiltLog:
    lines: list[str]
    checkpoint_key: Ed25519PrivateKey
    #: supervisor id -> its keys, oldest first
    supervisor_keys: dict[int, list[Ed25519PrivateKey]] = field(default_factory=dict)
    #: case id -> its current content
    contents: dict[int, dict[str, Any]] = field(default_factory=dict)
    db_path: Path | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def __repr__(self) -> str:
        return f"<BuiltLog: {len(self.lines)} lines in {self.db_path}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Keep Hypothesis' failure reports short (it pretty-prints every argument)."""
        printer.text(repr(self))


def _decision_data(
    case_id: int, content: dict[str, Any], supervisor_id: int, key: Ed25519PrivateKey, action: str
) -> dict[str, Any]:
    payload = DecisionPayload(
        case_id=case_id,
        content_digest=json_digest(content),
        action=action,  # type: ignore[arg-type]
        alternative_index=0 if action == "override" else None,
        rationale="looks wrong to me" if action == "reject" else "",
        supervisor_id=supervisor_id,
        key_id=key_id(key.public_key()),
        signed_at=T0 + timedelta(minutes=5),
    )
    envelope = sign_envelope(payload.to_bytes(), DECISION_PAYLOAD_TYPE, key)
    return {
        "decision_id": payload.decision_id,
        "action": payload.action,
        "supervisor_id": supervisor_id,
        "key_id": payload.key_id,
        "envelope": envelope.model_dump(mode="json"),
    }


def write_plan(url: str, plan: Sequence[Step], checkpoint_key: Ed25519PrivateKey) -> BuiltLog:
    built = BuiltLog(lines=[], checkpoint_key=checkpoint_key)
    engine = make_engine(url)
    counter = itertools.count()
    try:
        for step in plan:
            op = step[0]
            with write_session(engine) as session:
                if op == "enroll":
                    sid = step[1]
                    keys = built.supervisor_keys.setdefault(sid, [])
                    key = seeded_key(f"supervisor-{sid}-{len(keys)}-{next(counter)}")
                    keys.append(key)
                    public = key.public_key()
                    append_event(
                        session,
                        kind="supervisor.key_enrolled",
                        actor=f"supervisor:s{sid}",
                        data={
                            "supervisor_id": sid,
                            "supervisor": f"s{sid}",
                            "key_id": key_id(public),
                            "public_key": public_key_b64(public),
                            "fingerprint": fingerprint(public),
                        },
                    )
                elif op in ("case", "update"):
                    case_id, extra = step[1], step[2]
                    content = case_content(case_id, extra)
                    built.contents[case_id] = content
                    append_event(
                        session,
                        kind="case.created" if op == "case" else "case.updated",
                        actor="agent:refund-bot",
                        case_id=case_id,
                        data={"content": content, "content_digest": json_digest(content)},
                    )
                elif op == "claim":
                    append_event(
                        session,
                        kind="case.claimed",
                        actor=f"supervisor:s{step[2]}",
                        case_id=step[1],
                        data={"supervisor_id": step[2], "token": next(counter)},
                    )
                elif op == "decide":
                    case_id, sid, action = step[1], step[2], step[3]
                    key = built.supervisor_keys[sid][-1]
                    append_event(
                        session,
                        kind="decision.recorded",
                        actor=f"supervisor:s{sid}",
                        case_id=case_id,
                        data=_decision_data(case_id, built.contents[case_id], sid, key, action),
                    )
                elif op == "checkpoint":
                    sign_checkpoint(session, signer=checkpoint_key)
                else:
                    raise ValueError(f"unknown plan step {step!r}")
        with write_session(engine) as session:
            checkpoint = sign_checkpoint(session, signer=checkpoint_key)
        with read_session(engine) as session:
            built.lines = list(
                export_lines(
                    session, checkpoint=checkpoint, checkpoint_key=checkpoint_key.public_key()
                )
            )
    finally:
        engine.dispose()
    return built


#: A log with every shape the verifier knows: key rotation, updated content, all three
#: decision actions, other event kinds, a mid-log checkpoint, unusual JSON in the content.
RICH_PLAN: list[Step] = [
    ("enroll", 1),
    ("enroll", 2),
    ("case", 1, {}),
    ("case", 2, {"note": 'Grüße, 東京 😀 \u2028 "quoted" \\ back\\slash', "ratio": 1e-7}),
    ("claim", 1, 1),
    ("decide", 1, 1, "approve"),
    ("case", 3, {"big": 1e20, "tiny": 5e-324, "neg": -0.0, "max_int": 9007199254740991}),
    ("checkpoint",),
    ("enroll", 3),
    ("claim", 3, 2),
    ("decide", 3, 2, "override"),
    ("case", 4, {"nested": {"a": [1, 2.5, {"b": None, "c": True}]}}),
    ("update", 4, {"edited": "after the agent's correction"}),
    ("enroll", 3),
    ("decide", 4, 3, "reject"),
    ("case", 5, {}),
    ("decide", 2, 2, "approve"),
]
