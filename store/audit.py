"""The append-only, hash-chained audit log, its signed checkpoints, export and verification.

Each event's body is the RFC 8785 canonical JSON of
``{"v", "seq", "prev", "ts", "kind", "actor", "case_id", "data"}``; its hash is the
SHA-256 of those bytes and the next event names it as ``prev``. The body is stored
verbatim. :func:`append_event` must run inside the transaction of the change it records:
it locks the single ``audit_head`` row, so appenders serialize on every database.

The backend periodically signs a *checkpoint* (log size and head hash) with its own
Ed25519 key. An export (:func:`export_lines`) is JSON Lines:

1. ``{"type": "header", "format": "hitl-audit/1", "checkpoint_key": {...}}``
2. ``{"type": "event", "seq": n, "hash": "<hex>", "body": "<canonical JSON text>"}``, n = 1..N
3. ``{"type": "checkpoint", "envelope": <DSSE envelope>}`` covering exactly N events

A *scoped* export (``export_lines(..., elide=...)``, what a non-admin downloads) replaces
the events its reader may not see by ``{"type": "elided", "seq", "prev", "hash", "kind"}``
lines, taken from the stored body (not from the indexed columns), so the chain still
links; its checkpoint, signed as the export ends, adds ``"elided": {"count", "digest"}``,
the SHA-256 over the elided lines (canonical JSON, one per line). The verifier checks the
visible events in full, that elided lines link the chain, and that they are exactly the
ones the backend's key vouched for: an elided line cannot hide an edited visible event.

:func:`verify_export` checks all of it offline, including every decision's signature.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from store.canonical import canonical_json, parse_json, sha256_hex
from store.contracts import DecisionPayload, Envelope, utcnow
from store.db import AUDITED_CASES
from store.signing import (
    CHECKPOINT_PAYLOAD_TYPE,
    DECISION_PAYLOAD_TYPE,
    SignatureError,
    envelope_payload,
    key_id,
    load_public_key,
    public_key_b64,
    sign_envelope,
    verify_envelope,
)
from store.tables import AuditEvent, AuditHead, Case, Checkpoint

__all__ = [
    "EXPORT_FORMAT",
    "GENESIS_HASH",
    "AuditReport",
    "AuditVerifyError",
    "Elide",
    "EventRef",
    "append_event",
    "case_events",
    "export_lines",
    "sign_checkpoint",
    "verify_export",
]

EXPORT_FORMAT = "hitl-audit/1"
GENESIS_HASH = "0" * 64
LOG_ID = "hitl-audit"

KIND_KEY_ENROLLED = "supervisor.key_enrolled"
KIND_DECISION = "decision.recorded"
#: Events that carry a signed decision (``data.envelope``), and the kinds of decision each
#: may carry.
SIGNED_DECISION_KINDS: dict[str, frozenset[str]] = {
    KIND_DECISION: frozenset({"approve", "override", "reject"}),
    "decision.post_hoc": frozenset({"approve", "override", "reject"}),
    "case.info_requested": frozenset({"request_info"}),
    "case.reassigned": frozenset({"reassign"}),
    "case.severity_raised": frozenset({"raise_severity"}),
    "case.deferred": frozenset({"defer"}),
    # The system's decision (the SLA sweeper or backpressure), signed by the server key
    # the log enrolled for the system principal: verified like a supervisor's.
    "case.fallback_applied": frozenset({"fallback"}),
}
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


_heads: Table = AuditHead.__table__  # type: ignore[attr-defined]
_events: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# Core statements, built once: an append is three statements in the caller's transaction,
# without the ORM's unit of work (which cost more than the statements themselves).
_READ_HEAD = core_select(_heads.c.seq, _heads.c.hash).where(_heads.c.id == 1).with_for_update()
_INSERT_EVENT = insert(_events)
_MOVE_HEAD = (
    update(_heads)
    .where(_heads.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_HEAD_KEY = sa_inspect(AuditHead).identity_key_from_primary_key((1,))


def append_event(
    session: Session,
    *,
    kind: str,
    actor: str,
    data: dict[str, Any],
    case_id: int | None = None,
    ts: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (which commits or rolls back both).

    Returns the event as written (not attached to the session).
    """
    conn = session.connection()
    if case_id is not None:  # for store.db.on_commit listeners
        session.info.setdefault(AUDITED_CASES, set()).add(case_id)
    seq0, prev = conn.execute(_READ_HEAD).one()
    ts = ts or utcnow()
    seq = seq0 + 1
    body = canonical_json(
        {
            "v": 1,
            "seq": seq,
            "prev": prev,
            "ts": _iso(ts),
            "kind": kind,
            "actor": actor,
            "case_id": case_id,
            "data": data,
        }
    )
    digest = sha256_hex(body)
    event = AuditEvent(
        seq=seq,
        ts=ts,
        kind=kind,
        case_id=case_id,
        actor=actor,
        prev_hash=prev,
        hash=digest,
        body=body,
    )
    conn.execute(
        _INSERT_EVENT,
        {
            "seq": seq,
            "ts": ts,
            "kind": kind,
            "case_id": case_id,
            "actor": actor,
            "prev_hash": prev,
            "hash": digest,
            "body": body,
        },
    )
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest})
    loaded = session.identity_map.get(_HEAD_KEY)
    if loaded is not None:  # an AuditHead this session loaded earlier is now stale
        session.expire(loaded)
    return event


def sign_checkpoint(session: Session, *, signer: Ed25519PrivateKey) -> Checkpoint:
    """Sign the current head (size and hash) and store the checkpoint."""
    head = session.exec(select(AuditHead).where(AuditHead.id == 1)).one()
    created = utcnow()
    payload = canonical_json(
        {"log": LOG_ID, "size": head.seq, "head": head.hash, "ts": _iso(created)}
    )
    envelope = sign_envelope(payload, CHECKPOINT_PAYLOAD_TYPE, signer)
    checkpoint = Checkpoint(
        size=head.seq,
        head=head.hash,
        created_at=created,
        envelope=envelope.model_dump_json(),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


@dataclass(frozen=True)
class EventRef:
    """What decides whether an export shows an event: its kind and its case's group."""

    seq: int
    kind: str
    case_id: int | None
    #: The case's current group; None for events without a case (or a case not found).
    group: str | None


#: Whether an export elides an event (True) or shows it in full (False).
Elide = Callable[[EventRef], bool]


def _header(checkpoint_key: Ed25519PublicKey) -> str:
    return json.dumps(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "checkpoint_key": {
                "algorithm": "ed25519",
                "keyid": key_id(checkpoint_key),
                "public_key": public_key_b64(checkpoint_key),
            },
        }
    )


def export_lines(
    session: Session,
    *,
    checkpoint: Checkpoint,
    checkpoint_key: Ed25519PublicKey,
    elide: Elide | None = None,
    signer: Ed25519PrivateKey | None = None,
) -> Iterator[str]:
    """Yield the export, one JSON line each (no newline), up to ``checkpoint.size``.

    With ``elide``, the events it returns True for become ``elided`` lines and the export
    ends with a checkpoint that ``signer`` (the key behind ``checkpoint_key``) signs as it
    ends, vouching for exactly those lines.
    """
    yield _header(checkpoint_key)
    if elide is None:
        query = (
            select(AuditEvent.seq, AuditEvent.hash, AuditEvent.body)
            .where(col(AuditEvent.seq) <= checkpoint.size)
            .order_by(col(AuditEvent.seq))
            .execution_options(yield_per=2000)
        )
        for seq, digest, body in session.exec(query):
            yield json.dumps(
                {"type": "event", "seq": seq, "hash": digest, "body": bytes(body).decode("utf-8")}
            )
        yield json.dumps({"type": "checkpoint", "envelope": json.loads(checkpoint.envelope)})
        return
    if signer is None or key_id(signer.public_key()) != key_id(checkpoint_key):
        raise ValueError("a scoped export needs the checkpoint key's private half to sign it")
    cases: Table = Case.__table__  # type: ignore[attr-defined]
    e = _events.c
    scoped = (
        core_select(e.seq, e.hash, e.body, e.kind, e.case_id, cases.c.group_name)
        .select_from(_events.outerjoin(cases, cases.c.id == e.case_id))
        .where(e.seq <= checkpoint.size)
        .order_by(e.seq)
        .execution_options(yield_per=2000)
    )
    elided = hashlib.sha256()
    count = 0
    for seq, digest, body, kind, case_id, group in session.connection().execute(scoped):
        if not elide(EventRef(seq, kind, case_id, group)):
            yield json.dumps(
                {"type": "event", "seq": seq, "hash": digest, "body": bytes(body).decode("utf-8")}
            )
            continue
        line = _elided_line(seq, bytes(body))
        elided.update(canonical_json(line) + b"\n")
        count += 1
        yield json.dumps(line)
    payload = canonical_json(
        {
            "log": LOG_ID,
            "size": checkpoint.size,
            "head": checkpoint.head,
            "ts": _iso(checkpoint.created_at),
            "elided": {"count": count, "digest": elided.hexdigest()},
        }
    )
    envelope = sign_envelope(payload, CHECKPOINT_PAYLOAD_TYPE, signer)
    yield json.dumps({"type": "checkpoint", "envelope": envelope.model_dump(mode="json")})


def _elided_line(seq: int, body: bytes) -> dict[str, Any]:
    """An event reduced to what links the chain. Hash, prev and kind come from the signed
    body itself, so a row whose indexed columns were edited cannot make a broken chain
    look whole."""
    event = parse_json(body.decode("utf-8"))
    return {
        "type": "elided",
        "seq": seq,
        "prev": event["prev"],
        "hash": sha256_hex(body),
        "kind": event["kind"],
    }


def case_events(session: Session, *, case_id: int) -> list[dict[str, Any]]:
    """A case's audit events in order, each its parsed body with its hash."""
    rows = session.exec(
        select(AuditEvent.hash, AuditEvent.body)
        .where(AuditEvent.case_id == case_id)
        .order_by(col(AuditEvent.seq))
    )
    return [{**parse_json(bytes(body).decode("utf-8")), "hash": digest} for digest, body in rows]


class AuditVerifyError(Exception):
    """The export does not verify; ``line`` is 1-based (0 when the whole file is at fault)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


@dataclass
class AuditReport:
    #: Every event the checkpoint covers, shown or elided.
    events: int = 0
    decisions: int = 0
    keys: int = 0
    head: str = GENESIS_HASH
    checkpoint_keyid: str = ""
    #: Events shown in full, by kind.
    kinds: dict[str, int] = field(default_factory=dict)
    #: Events elided from a scoped export (outside the reader's groups), and their kinds.
    elided: int = 0
    elided_kinds: dict[str, int] = field(default_factory=dict)


def _field(obj: dict[str, Any], name: str, kind: type, line: int) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise AuditVerifyError(line, f"field {name!r} is missing or not a {kind.__name__}")
    return value


def _members(obj: dict[str, Any], expected: frozenset[str], line: int, what: str) -> None:
    """An export line holds exactly the members its format names: nothing unsigned rides along."""
    extra = sorted(obj.keys() - expected)
    missing = sorted(expected - obj.keys())
    if extra:
        raise AuditVerifyError(line, f"{what}: unexpected {', '.join(extra)}")
    if missing:
        raise AuditVerifyError(line, f"{what}: missing {', '.join(missing)}")


_HEADER_MEMBERS = frozenset({"type", "format", "checkpoint_key"})
_KEY_MEMBERS = frozenset({"algorithm", "keyid", "public_key"})
_EVENT_MEMBERS = frozenset({"type", "seq", "hash", "body"})
_CHECKPOINT_MEMBERS = frozenset({"type", "envelope"})
_ELIDED_MEMBERS = frozenset({"type", "seq", "prev", "hash", "kind"})
_CHECKPOINT_PAYLOAD = frozenset({"log", "size", "head", "ts"})
_ELISION_MEMBERS = frozenset({"count", "digest"})


def verify_export(
    lines: Iterable[str], *, trusted_checkpoint_key: str | None = None
) -> AuditReport:
    """Verify an export: the hash chain, the final signed checkpoint and every decision.

    ``trusted_checkpoint_key`` (key id or base64 public key) pins the backend's key;
    without it the key in the header is used, which proves integrity but not origin.
    Raises :class:`AuditVerifyError` at the first fault.
    """
    report = AuditReport()
    state = _ChainState()
    checkpoint_key: Ed25519PublicKey | None = None
    seen_checkpoint = False
    n = 0
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            raise AuditVerifyError(n, "blank line")
        if seen_checkpoint:
            raise AuditVerifyError(n, "content after the final checkpoint")
        try:
            obj = parse_json(raw)
        except json.JSONDecodeError as exc:
            raise AuditVerifyError(n, f"not JSON: {exc.msg}") from exc
        except (ValueError, RecursionError) as exc:
            raise AuditVerifyError(n, f"not I-JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise AuditVerifyError(n, "a line must be a JSON object")
        kind = obj.get("type")
        if n == 1:
            checkpoint_key = _verify_header(obj, n, trusted_checkpoint_key)
            report.checkpoint_keyid = key_id(checkpoint_key)
            continue
        if kind == "event":
            _verify_event(obj, n, report, state)
        elif kind == "elided":
            _verify_elided(obj, n, report, state)
        elif kind == "checkpoint":
            assert checkpoint_key is not None
            _verify_checkpoint(obj, n, report, state, checkpoint_key)
            seen_checkpoint = True
        else:
            raise AuditVerifyError(n, f"unknown line type {kind!r}")
    if n == 0:
        raise AuditVerifyError(0, "the export is empty")
    if not seen_checkpoint:
        raise AuditVerifyError(0, "the export does not end with a signed checkpoint (truncated?)")
    return report


@dataclass
class _ChainState:
    """What the verifier has learned from the events so far."""

    #: key id -> (supervisor id, public key), from ``supervisor.key_enrolled`` events
    signer_keys: dict[str, tuple[int, Ed25519PublicKey]] = field(default_factory=dict)
    #: case id -> digest of the case's latest content, as the log carried it
    case_digests: dict[int, str] = field(default_factory=dict)
    decision_ids: set[str] = field(default_factory=set)
    #: SHA-256 over the elided lines so far (canonical JSON, newline-terminated)
    elided: Any = field(default_factory=hashlib.sha256)
    #: nonces of the signed decisions seen (payloads from before nonces have none)
    nonces: set[str] = field(default_factory=set)


def _verify_header(obj: dict[str, Any], n: int, trusted: str | None) -> Ed25519PublicKey:
    if obj.get("type") != "header" or obj.get("format") != EXPORT_FORMAT:
        raise AuditVerifyError(n, f"the first line must be a {EXPORT_FORMAT} header")
    ck = obj.get("checkpoint_key")
    if not isinstance(ck, dict):
        raise AuditVerifyError(n, "header names no checkpoint_key")
    _members(obj, _HEADER_MEMBERS, n, "header")
    _members(ck, _KEY_MEMBERS, n, "checkpoint key")
    if ck.get("algorithm") != "ed25519":
        raise AuditVerifyError(n, "checkpoint key: algorithm must be ed25519")
    try:
        public = load_public_key(_field(ck, "public_key", str, n))
    except SignatureError as exc:
        raise AuditVerifyError(n, f"checkpoint key: {exc}") from exc
    if ck.get("keyid") != key_id(public):
        raise AuditVerifyError(n, "checkpoint key: keyid does not match the public key")
    if trusted and trusted not in (key_id(public), public_key_b64(public)):
        raise AuditVerifyError(n, "checkpoint key is not the trusted one")
    return public


def _canonical_or_none(value: Any) -> bytes | None:
    try:
        return canonical_json(value)
    except (ValueError, RecursionError):
        return None


def _verify_event(obj: dict[str, Any], n: int, report: AuditReport, state: _ChainState) -> None:
    _members(obj, _EVENT_MEMBERS, n, "event line")
    seq = _field(obj, "seq", int, n)
    if seq != report.events + 1:
        raise AuditVerifyError(n, f"sequence {seq} follows {report.events}: missing or reordered")
    body_text = _field(obj, "body", str, n)
    try:
        body = body_text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AuditVerifyError(n, f"event {seq}: body is not valid Unicode") from exc
    if sha256_hex(body) != obj.get("hash"):
        raise AuditVerifyError(n, f"event {seq}: body does not hash to the stated hash")
    try:
        event = parse_json(body_text)
    except (ValueError, RecursionError) as exc:
        raise AuditVerifyError(n, f"event {seq}: body is not JSON") from exc
    if not isinstance(event, dict) or _canonical_or_none(event) != body:
        raise AuditVerifyError(n, f"event {seq}: body is not RFC 8785 canonical JSON")
    if event.get("seq") != seq:
        raise AuditVerifyError(n, f"event {seq}: body names sequence {event.get('seq')}")
    if event.get("prev") != report.head:
        raise AuditVerifyError(n, f"event {seq}: previous hash does not match event {seq - 1}")
    ev_kind = event.get("kind")
    data = event.get("data")
    if not isinstance(ev_kind, str) or not isinstance(data, dict):
        raise AuditVerifyError(n, f"event {seq}: kind or data missing")
    case_id = event.get("case_id")
    if ev_kind in SIGNED_DECISION_KINDS:
        # Checked against the content shown before this event: a decision that changes
        # the case (a question, another group) carries the content it leads to.
        _verify_decision(data, case_id, seq, n, state, SIGNED_DECISION_KINDS[ev_kind])
        report.decisions += 1
    if "content" in data and isinstance(case_id, int):
        # Only content the log actually carries counts as shown; a bare digest proves nothing.
        content_bytes = _canonical_or_none(data["content"])
        if content_bytes is None or "sha256:" + sha256_hex(content_bytes) != data.get(
            "content_digest"
        ):
            raise AuditVerifyError(n, f"event {seq}: case content does not match its digest")
        state.case_digests[case_id] = data["content_digest"]
    if ev_kind == KIND_KEY_ENROLLED:
        _verify_key_enrolled(data, seq, n, state)
        report.keys += 1
    report.kinds[ev_kind] = report.kinds.get(ev_kind, 0) + 1
    report.events = seq
    report.head = obj["hash"]


def _verify_elided(obj: dict[str, Any], n: int, report: AuditReport, state: _ChainState) -> None:
    """An event the reader may not see: it must link the chain; the checkpoint vouches for it."""
    _members(obj, _ELIDED_MEMBERS, n, "elided line")
    seq = _field(obj, "seq", int, n)
    if seq != report.events + 1:
        raise AuditVerifyError(n, f"sequence {seq} follows {report.events}: missing or reordered")
    prev, digest = _field(obj, "prev", str, n), _field(obj, "hash", str, n)
    kind = _field(obj, "kind", str, n)
    if not _HEX64.fullmatch(digest) or not _HEX64.fullmatch(prev):
        raise AuditVerifyError(n, f"elided event {seq}: prev and hash must be 64 hex digits")
    if prev != report.head:
        raise AuditVerifyError(
            n, f"elided event {seq}: previous hash does not match event {seq - 1}"
        )
    line = _canonical_or_none(obj)
    if line is None:
        raise AuditVerifyError(n, f"elided event {seq}: not I-JSON")
    state.elided.update(line + b"\n")
    report.elided += 1
    report.elided_kinds[kind] = report.elided_kinds.get(kind, 0) + 1
    report.events = seq
    report.head = digest


def _verify_key_enrolled(data: dict[str, Any], seq: int, n: int, state: _ChainState) -> None:
    try:
        public = load_public_key(_field(data, "public_key", str, n))
    except SignatureError as exc:
        raise AuditVerifyError(n, f"event {seq}: {exc}") from exc
    kid = key_id(public)
    if kid != data.get("key_id"):
        raise AuditVerifyError(n, f"event {seq}: key id does not match the public key")
    supervisor_id = _field(data, "supervisor_id", int, n)
    known = state.signer_keys.get(kid)
    if known is not None and known[0] != supervisor_id:
        raise AuditVerifyError(
            n, f"event {seq}: key {kid} is already enrolled for supervisor {known[0]}"
        )
    state.signer_keys[kid] = (supervisor_id, public)


def _verify_decision(
    data: dict[str, Any],
    case_id: Any,
    seq: int,
    n: int,
    state: _ChainState,
    actions: frozenset[str] = SIGNED_DECISION_KINDS[KIND_DECISION],
) -> None:
    try:
        envelope = Envelope.model_validate(data.get("envelope"))
    except ValidationError as exc:
        raise AuditVerifyError(n, f"event {seq}: decision envelope is malformed") from exc
    try:
        claimed = DecisionPayload.model_validate_json(envelope_payload(envelope))
    except SignatureError as exc:
        raise AuditVerifyError(n, f"event {seq}: decision signature: {exc}") from exc
    except ValidationError as exc:
        raise AuditVerifyError(n, f"event {seq}: decision payload is malformed") from exc
    owner = state.signer_keys.get(claimed.key_id)
    if owner is None:
        raise AuditVerifyError(n, f"event {seq}: key {claimed.key_id} was never enrolled")
    if owner[0] != claimed.supervisor_id:
        raise AuditVerifyError(
            n, f"event {seq}: key {claimed.key_id} is not supervisor {claimed.supervisor_id}'s"
        )
    # The signature must be by the key the payload names: any other enrolled key
    # verifying it would let one supervisor sign in another's name.
    signers = sorted({sig.keyid for sig in envelope.signatures})
    if claimed.key_id not in signers:
        raise AuditVerifyError(
            n,
            f"event {seq}: signed by {', '.join(signers)}, "
            f"not by the key the decision names ({claimed.key_id})",
        )
    try:
        payload_bytes = verify_envelope(
            envelope, {claimed.key_id: owner[1]}, payload_type=DECISION_PAYLOAD_TYPE
        )
    except SignatureError as exc:
        raise AuditVerifyError(n, f"event {seq}: decision signature: {exc}") from exc
    payload = DecisionPayload.model_validate_json(payload_bytes)
    if payload.action not in actions:
        raise AuditVerifyError(
            n, f"event {seq}: a {payload.action} decision cannot be recorded as this event"
        )
    if payload.case_id != case_id:
        raise AuditVerifyError(n, f"event {seq}: decision is for case {payload.case_id}")
    if state.case_digests.get(payload.case_id) != payload.content_digest:
        raise AuditVerifyError(
            n, f"event {seq}: decision signs content the log never showed as the case's latest"
        )
    if payload.decision_id in state.decision_ids:
        raise AuditVerifyError(n, f"event {seq}: decision {payload.decision_id} is replayed")
    state.decision_ids.add(payload.decision_id)
    if "nonce" in payload.model_fields_set:
        if payload.nonce in state.nonces:
            raise AuditVerifyError(n, f"event {seq}: nonce {payload.nonce} is replayed")
        state.nonces.add(payload.nonce)
    for name in ("decision_id", "action", "supervisor_id", "key_id"):
        if name in data and data[name] != getattr(payload, name):
            raise AuditVerifyError(n, f"event {seq}: {name} differs from the signed decision")


def _verify_checkpoint(
    obj: dict[str, Any],
    n: int,
    report: AuditReport,
    state: _ChainState,
    checkpoint_key: Ed25519PublicKey,
) -> None:
    _members(obj, _CHECKPOINT_MEMBERS, n, "checkpoint line")
    try:
        envelope = Envelope.model_validate(obj.get("envelope"))
        payload = verify_envelope(
            envelope,
            {key_id(checkpoint_key): checkpoint_key},
            payload_type=CHECKPOINT_PAYLOAD_TYPE,
        )
    except (ValidationError, SignatureError) as exc:
        raise AuditVerifyError(n, f"checkpoint: {exc}") from exc
    try:
        body = parse_json(payload)
    except (ValueError, RecursionError) as exc:
        raise AuditVerifyError(n, "checkpoint: signed payload is not JSON") from exc
    if not isinstance(body, dict) or body.get("log") != LOG_ID:
        raise AuditVerifyError(n, f"checkpoint: signed payload is not a {LOG_ID} checkpoint")
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size != report.events:
        raise AuditVerifyError(
            n, f"checkpoint covers {size} events, the export has {report.events}"
        )
    if body.get("head") != report.head:
        raise AuditVerifyError(n, "checkpoint head does not match the last event's hash")
    elision = body.get("elided")
    _members(
        body,
        _CHECKPOINT_PAYLOAD | ({"elided"} if elision is not None else set()),
        n,
        "checkpoint payload",
    )
    if elision is None:
        if report.elided:
            raise AuditVerifyError(
                n, f"the export elides {report.elided} events its checkpoint does not vouch for"
            )
        return
    if not isinstance(elision, dict):
        raise AuditVerifyError(n, "checkpoint: elided must be an object")
    _members(elision, _ELISION_MEMBERS, n, "checkpoint elided")
    if elision.get("count") != report.elided or elision.get("digest") != state.elided.hexdigest():
        raise AuditVerifyError(
            n,
            f"checkpoint vouches for {elision.get('count')} elided events, not the "
            f"{report.elided} elided lines of this export (elided or edited after signing?)",
        )
