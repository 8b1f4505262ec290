"""The audit chain: valid logs always verify; any edit, deletion, insertion, reordering,
truncation, forged decision or swapped checkpoint key is caught by ``verify_export``.

Logs are written through the real code path on a real SQLite file (see ``conftest.py``);
the mutations work on the exported text, which is what an auditor receives.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from store_log_builder import BuiltLog, Step, seeded_key

from store.audit import (
    EXPORT_FORMAT,
    GENESIS_HASH,
    AuditVerifyError,
    export_lines,
    verify_export,
)
from store.canonical import MAX_SAFE_INTEGER, canonical_json, json_digest, parse_json, sha256_hex
from store.contracts import DecisionPayload
from store.db import make_engine, read_session
from store.signing import (
    CHECKPOINT_PAYLOAD_TYPE,
    DECISION_PAYLOAD_TYPE,
    key_id,
    public_key_b64,
    sign_envelope,
)
from store.tables import AuditEvent, Checkpoint

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def rejects(lines: list[str], **kwargs: Any) -> AuditVerifyError:
    """verify_export must fail with AuditVerifyError (never another exception, never pass)."""
    with pytest.raises(AuditVerifyError) as info:
        verify_export(lines, **kwargs)
    assert 0 <= info.value.line <= len(lines) + 1
    return info.value


def events_of(lines: list[str]) -> list[dict[str, Any]]:
    """The parsed bodies of the event lines."""
    return [parse_json(json.loads(line)["body"]) for line in lines[1:-1]]


def reseal(events: list[dict[str, Any]], signer_label: str = "backend") -> list[str]:
    """Re-chain ``events`` and sign a checkpoint: what the holder of a checkpoint key can do.

    Written from the format described in ``store/audit.py``, independently of its code.
    """
    key = seeded_key(signer_label)
    public = key.public_key()
    lines = [
        json.dumps(
            {
                "type": "header",
                "format": EXPORT_FORMAT,
                "checkpoint_key": {
                    "algorithm": "ed25519",
                    "keyid": key_id(public),
                    "public_key": public_key_b64(public),
                },
            }
        )
    ]
    head = GENESIS_HASH
    for seq, event in enumerate(events, start=1):
        body = canonical_json({**event, "seq": seq, "prev": head})
        head = sha256_hex(body)
        lines.append(json.dumps({"type": "event", "seq": seq, "hash": head, "body": body.decode()}))
    payload = canonical_json(
        {"log": "hitl-audit", "size": len(events), "head": head, "ts": "2026-03-02T10:00:00Z"}
    )
    envelope = sign_envelope(payload, CHECKPOINT_PAYLOAD_TYPE, key)
    lines.append(json.dumps({"type": "checkpoint", "envelope": envelope.model_dump(mode="json")}))
    return lines


# -- valid logs -------------------------------------------------------------------------

safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | finite_floats | unicode_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(unicode_text, children, max_size=3)
    ),
    max_leaves=8,
)
extra_context = st.dictionaries(st.sampled_from(["x", "note", "n", "é", "😀"]), json_values)


@st.composite
def plans(draw: st.DrawFn) -> list[Step]:
    """A plausible history: keys are enrolled before use, decisions are on shown content."""
    plan: list[Step] = []
    enrolled: set[int] = set()
    open_cases: list[int] = []
    next_case = 1
    for _ in range(draw(st.integers(0, 10))):
        choices = ["enroll", "case", "checkpoint"]
        if open_cases:
            choices += ["claim", "update"]
            if enrolled:
                choices.append("decide")
        op = draw(st.sampled_from(choices))
        if op == "enroll":
            sid = draw(st.integers(1, 3))
            enrolled.add(sid)
            plan.append(("enroll", sid))
        elif op == "case":
            plan.append(("case", next_case, draw(extra_context)))
            open_cases.append(next_case)
            next_case += 1
        elif op == "update":
            plan.append(("update", draw(st.sampled_from(open_cases)), draw(extra_context)))
        elif op == "claim":
            plan.append(("claim", draw(st.sampled_from(open_cases)), draw(st.integers(1, 3))))
        elif op == "decide":
            case_id = draw(st.sampled_from(open_cases))
            sid = draw(st.sampled_from(sorted(enrolled)))
            action = draw(st.sampled_from(["approve", "override", "reject"]))
            plan.append(("decide", case_id, sid, action))
            open_cases.remove(case_id)
        else:
            plan.append(("checkpoint",))
    return plan


@settings(PROPERTY, max_examples=100)
@given(plan=plans())
def test_verify_export_accepts_every_valid_log(
    build_log: Callable[..., BuiltLog], plan: list[Step]
) -> None:
    """Any log the store writes, of any length and shape, verifies, and the counts add up."""
    built = build_log(plan)
    report = verify_export(built.lines)
    written = [step for step in plan if step[0] != "checkpoint"]
    assert report.events == len(written) == len(built.lines) - 2
    assert report.decisions == sum(step[0] == "decide" for step in plan)
    assert report.keys == sum(step[0] == "enroll" for step in plan)
    assert report.checkpoint_keyid == key_id(built.checkpoint_key.public_key())
    assert verify_export(built.lines, trusted_checkpoint_key=report.checkpoint_keyid) == report


def test_verify_export_accepts_an_empty_log(build_log: Callable[..., BuiltLog]) -> None:
    """A fresh install exports a header and a checkpoint over zero events, and that verifies."""
    built = build_log([])
    assert len(built.lines) == 2
    report = verify_export(built.lines)
    assert (report.events, report.head) == (0, GENESIS_HASH)


def test_verify_export_accepts_the_rich_log(rich_log: BuiltLog) -> None:
    """Key rotation, edited content, every decision action and odd JSON all verify."""
    report = verify_export(rich_log.lines)
    assert report.events == 16
    assert report.decisions == 4
    assert report.keys == 4
    assert report.kinds["case.updated"] == 1


def test_export_lines_up_to_an_older_checkpoint_verify(rich_log: BuiltLog) -> None:
    """An export cut at an earlier checkpoint covers exactly the events that checkpoint signed."""
    assert rich_log.db_path is not None
    engine = make_engine(f"sqlite:///{rich_log.db_path}")
    try:
        with read_session(engine) as session:
            first = session.exec(select(Checkpoint).order_by(col(Checkpoint.id))).first()
            assert first is not None
            lines = list(
                export_lines(
                    session,
                    checkpoint=first,
                    checkpoint_key=rich_log.checkpoint_key.public_key(),
                )
            )
            rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
    finally:
        engine.dispose()
    report = verify_export(lines)
    assert report.events == first.size == 7
    assert report.head == first.head
    # The stored rows carry the same chain the export shows.
    prev = GENESIS_HASH
    for row in rows:
        assert row.prev_hash == prev
        assert sha256_hex(bytes(row.body)) == row.hash
        prev = row.hash


def test_reseal_helper_reproduces_a_verifying_export(rich_log: BuiltLog) -> None:
    """The test's own re-sealing (used below to model a forger) matches the export format."""
    resealed = reseal(events_of(rich_log.lines))
    assert resealed[1:-1] == rich_log.lines[1:-1]
    assert verify_export(resealed).head == verify_export(rich_log.lines).head


# -- tampering with the exported text ---------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every leaf of a parsed JSON value."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))]
    return [prefix]


def _dict_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every object (dict) inside a parsed JSON value, the root included."""
    if isinstance(value, dict):
        return [prefix] + [p for k, v in value.items() for p in _dict_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _dict_paths(v, (*prefix, i))]
    return []


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    _get(value, path[:-1])[path[-1]] = new


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


scalars = st.none() | st.booleans() | safe_ints | finite_floats | st.text(max_size=20)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_an_edited_field(rich_log: BuiltLog, data: st.DataObject) -> None:
    """Changing any value on any line (type, seq, hash, body, key, signature) is caught."""
    lines = list(rich_log.lines)
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    obj = json.loads(lines[i])
    path = data.draw(st.sampled_from(_paths(obj)), label="path")
    new = data.draw(scalars, label="new value")
    assume(not _same(new, _get(obj, path)))
    _set(obj, path, new)
    lines[i] = json.dumps(obj)
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_an_edited_event_body(
    rich_log: BuiltLog, data: st.DataObject
) -> None:
    """Rewriting what an event says, even in canonical form and with its hash redone, is caught."""
    lines = list(rich_log.lines)
    i = data.draw(st.integers(1, len(lines) - 2), label="event line")
    line = json.loads(lines[i])
    event = json.loads(line["body"])
    path = data.draw(st.sampled_from(_paths(event)), label="path")
    _set(event, path, data.draw(scalars, label="new value"))
    try:
        body = canonical_json(event).decode()
    except ValueError:
        assume(False)
    assume(body != line["body"])
    line["body"] = body
    if data.draw(st.booleans(), label="recompute hash"):
        line["hash"] = sha256_hex(body.encode())
    lines[i] = json.dumps(line)
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_an_added_or_removed_member(
    rich_log: BuiltLog, data: st.DataObject
) -> None:
    """A line that gains an unsigned member, or loses one, does not verify."""
    lines = list(rich_log.lines)
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    obj = json.loads(lines[i])
    target = _get(obj, data.draw(st.sampled_from(_dict_paths(obj)), label="object"))
    if target and data.draw(st.booleans(), label="remove"):
        del target[data.draw(st.sampled_from(sorted(target)), label="member")]
    else:
        name = data.draw(st.text(min_size=1, max_size=8), label="new member")
        assume(name not in target)
        target[name] = data.draw(scalars, label="value")
    lines[i] = json.dumps(obj)
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_a_deleted_line(rich_log: BuiltLog, data: st.DataObject) -> None:
    """Dropping any line (header, any event, the checkpoint) is caught."""
    lines = list(rich_log.lines)
    del lines[data.draw(st.integers(0, len(lines) - 1))]
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_a_duplicated_line(rich_log: BuiltLog, data: st.DataObject) -> None:
    """Replaying any line at any position is caught."""
    lines = list(rich_log.lines)
    copied = lines[data.draw(st.integers(0, len(lines) - 1), label="copied")]
    lines.insert(data.draw(st.integers(0, len(lines)), label="at"), copied)
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_a_forged_inserted_event(
    rich_log: BuiltLog, data: st.DataObject
) -> None:
    """A well-formed event chained onto its predecessor, inserted anywhere, is caught."""
    lines = list(rich_log.lines)
    at = data.draw(st.integers(1, len(lines) - 1), label="insert before line")
    prev_seq, prev_hash = 0, GENESIS_HASH
    if at > 1:
        before = json.loads(lines[at - 1])
        prev_seq, prev_hash = before["seq"], before["hash"]
    body = canonical_json(
        {
            "v": 1,
            "seq": prev_seq + 1,
            "prev": prev_hash,
            "ts": "2026-03-02T09:30:00Z",
            "kind": data.draw(st.sampled_from(["case.claimed", "note", "case.created"])),
            "actor": "mallory",
            "case_id": data.draw(st.none() | st.integers(1, 5)),
            "data": data.draw(extra_context, label="data"),
        }
    )
    forged = {"type": "event", "seq": prev_seq + 1, "hash": sha256_hex(body), "body": body.decode()}
    lines.insert(at, json.dumps(forged))
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_reordered_lines(rich_log: BuiltLog, data: st.DataObject) -> None:
    """Swapping any two lines, or moving one elsewhere, is caught."""
    lines = list(rich_log.lines)
    i = data.draw(st.integers(0, len(lines) - 1), label="i")
    j = data.draw(st.integers(0, len(lines) - 1).filter(lambda j: j != i), label="j")
    if data.draw(st.booleans(), label="swap"):
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(j, lines.pop(i))
    rejects(lines)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_truncation_anywhere(rich_log: BuiltLog, data: st.DataObject) -> None:
    """Cutting the file at any character, mid-line or between lines, is caught."""
    text = "\n".join(rich_log.lines)
    cut = data.draw(st.integers(0, len(text) - 1))
    rejects(text[:cut].splitlines())


def test_verify_export_reports_where_and_why(rich_log: BuiltLog) -> None:
    """The error names the line an auditor should look at, and says what is wrong there."""
    lines = list(rich_log.lines)
    event = json.loads(lines[4])
    assert '"kind":"case.created"' in event["body"]
    event["body"] = event["body"].replace('"kind":"case.created"', '"kind":"case.deleted"')
    lines[4] = json.dumps(event)
    err = rejects(lines)
    assert err.line == 5
    assert "does not hash" in str(err)
    assert rejects(rich_log.lines[:-1]).line == 0
    assert rejects([]).line == 0
    assert rejects([*rich_log.lines, ""]).line == len(rich_log.lines) + 1


# -- decisions: even the checkpoint key's holder cannot forge one -----------------------


def _decision_events(events: list[dict[str, Any]]) -> list[int]:
    return [i for i, e in enumerate(events) if e["kind"] == "decision.recorded"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _tamper_envelope(
    rich_log: BuiltLog, event: dict[str, Any], how: str, data: st.DataObject
) -> None:
    envelope = event["data"]["envelope"]
    payload = json.loads(base64.b64decode(envelope["payload"]))
    sid = payload["supervisor_id"]
    if how == "flip signature bit":
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        bit = data.draw(st.integers(0, len(sig) * 8 - 1), label="bit")
        sig[bit // 8] ^= 1 << (bit % 8)
        envelope["signatures"][0]["sig"] = _b64(bytes(sig))
    elif how == "edit payload":
        field = data.draw(
            st.sampled_from(["action", "rationale", "case_id", "content_digest", "signed_at"])
        )
        payload[field] = {
            "action": "reject" if payload["action"] != "reject" else "approve",
            "rationale": "approved by the CEO",
            "case_id": payload["case_id"] + 1,
            "content_digest": json_digest({"other": "content"}),
            "signed_at": "2027-01-01T00:00:00Z",
        }[field]
        envelope["payload"] = _b64(json.dumps(payload).encode())
    elif how == "payload type":
        envelope["payloadType"] = CHECKPOINT_PAYLOAD_TYPE
    elif how == "signature keyid":
        envelope["signatures"][0]["keyid"] = "0" * 32
    elif how == "other supervisor signs in the victim's name":
        thief = next(k for s, ks in rich_log.supervisor_keys.items() if s != sid for k in ks)
        signed = sign_envelope(base64.b64decode(envelope["payload"]), DECISION_PAYLOAD_TYPE, thief)
        event["data"]["envelope"] = signed.model_dump(mode="json")
    elif how == "unenrolled key":
        stranger = seeded_key("stranger")
        payload["key_id"] = key_id(stranger.public_key())
        body = DecisionPayload.model_validate(payload).to_bytes()
        signed = sign_envelope(body, DECISION_PAYLOAD_TYPE, stranger)
        event["data"]["envelope"] = signed.model_dump(mode="json")
    elif how == "valid signature over content never shown":
        payload["content_digest"] = json_digest({"a": "different case text"})
        key = next(
            k for k in rich_log.supervisor_keys[sid] if key_id(k.public_key()) == payload["key_id"]
        )
        body = DecisionPayload.model_validate(payload).to_bytes()
        event["data"]["envelope"] = sign_envelope(body, DECISION_PAYLOAD_TYPE, key).model_dump(
            mode="json"
        )
    elif how == "unsigned copy disagrees":
        field = data.draw(st.sampled_from(["action", "supervisor_id", "decision_id", "key_id"]))
        event["data"][field] = {
            "action": "reject" if event["data"]["action"] != "reject" else "approve",
            "supervisor_id": sid + 1,
            "decision_id": "d-forged",
            "key_id": "f" * 32,
        }[field]
    else:  # pragma: no cover
        raise AssertionError(how)


TAMPERINGS = [
    "flip signature bit",
    "edit payload",
    "payload type",
    "signature keyid",
    "other supervisor signs in the victim's name",
    "unenrolled key",
    "valid signature over content never shown",
    "unsigned copy disagrees",
]


@PROPERTY
@given(data=st.data(), how=st.sampled_from(TAMPERINGS))
def test_verify_export_detects_a_tampered_decision_even_when_resealed(
    rich_log: BuiltLog, data: st.DataObject, how: str
) -> None:
    """A decision's signature binds who decided what about which content: rewriting it and
    re-signing the whole log with the backend's own checkpoint key still fails, at that line."""
    events = events_of(rich_log.lines)
    i = data.draw(st.sampled_from(_decision_events(events)), label="decision")
    event = copy.deepcopy(events[i])
    _tamper_envelope(rich_log, event, how, data)
    events[i] = event
    err = rejects(reseal(events))
    assert err.line == i + 2, str(err)


@PROPERTY
@given(data=st.data())
def test_verify_export_detects_a_replayed_decision(rich_log: BuiltLog, data: st.DataObject) -> None:
    """Copying a signed decision into another event (same case or another) is caught."""
    events = events_of(rich_log.lines)
    source = events[data.draw(st.sampled_from(_decision_events(events)), label="decision")]
    at = data.draw(st.integers(_decision_events(events)[-1] + 1, len(events)), label="at")
    replay = copy.deepcopy(source)
    if data.draw(st.booleans(), label="other case"):
        replay["case_id"] = 5
    events.insert(at, replay)
    err = rejects(reseal(events))
    assert err.line == at + 2, str(err)


def test_verify_export_detects_a_reused_nonce(rich_log: BuiltLog) -> None:
    """A decision re-signed by its own supervisor under a new decision id but the nonce of an
    earlier one is a replay the verifier reports, naming the nonce."""
    events = events_of(rich_log.lines)
    at = _decision_events(events)[0]
    copy_of = copy.deepcopy(events[at])
    payload = json.loads(base64.b64decode(copy_of["data"]["envelope"]["payload"]))
    payload["decision_id"] = "d-fresh-id"
    key = next(
        k
        for k in rich_log.supervisor_keys[payload["supervisor_id"]]
        if key_id(k.public_key()) == payload["key_id"]
    )
    body = DecisionPayload.model_validate(payload).to_bytes()
    copy_of["data"]["envelope"] = sign_envelope(body, DECISION_PAYLOAD_TYPE, key).model_dump(
        mode="json"
    )
    copy_of["data"]["decision_id"] = "d-fresh-id"
    events.insert(at + 1, copy_of)
    err = rejects(reseal(events))
    assert err.line == at + 3
    assert "nonce" in str(err)


def test_verify_export_detects_a_decision_on_superseded_content(rich_log: BuiltLog) -> None:
    """A decision validly signed over a case's earlier content, after the case changed, fails:
    the supervisor must have decided on what the log shows as the case's latest content."""
    events = events_of(rich_log.lines)
    created = next(e for e in events if e["kind"] == "case.created" and e["case_id"] == 4)
    at = next(
        i for i, e in enumerate(events) if e["kind"] == "decision.recorded" and e["case_id"] == 4
    )
    decision = events[at]
    payload = json.loads(base64.b64decode(decision["data"]["envelope"]["payload"]))
    payload["content_digest"] = created["data"]["content_digest"]
    key = rich_log.supervisor_keys[payload["supervisor_id"]][-1]
    body = DecisionPayload.model_validate(payload).to_bytes()
    decision["data"]["envelope"] = sign_envelope(body, DECISION_PAYLOAD_TYPE, key).model_dump(
        mode="json"
    )
    err = rejects(reseal(events))
    assert err.line == at + 2
    assert "latest" in str(err)


# -- the checkpoint key ------------------------------------------------------------------


def test_verify_export_detects_a_swapped_checkpoint_key(rich_log: BuiltLog) -> None:
    """Putting another key in the header makes the final checkpoint fail to verify."""
    other = seeded_key("mallory").public_key()
    lines = list(rich_log.lines)
    header = json.loads(lines[0])
    header["checkpoint_key"] = {
        "algorithm": "ed25519",
        "keyid": key_id(other),
        "public_key": public_key_b64(other),
    }
    lines[0] = json.dumps(header)
    err = rejects(lines)
    assert err.line == len(lines)
    assert "checkpoint" in str(err)


def test_verify_export_detects_a_header_keyid_that_is_not_the_key(rich_log: BuiltLog) -> None:
    """The header's key id must be the key's own: a reader comparing ids is not misled."""
    lines = list(rich_log.lines)
    header = json.loads(lines[0])
    header["checkpoint_key"]["keyid"] = key_id(seeded_key("mallory").public_key())
    lines[0] = json.dumps(header)
    assert rejects(lines).line == 1


def test_verify_export_with_a_pinned_key_rejects_a_log_resealed_by_another_key(
    rich_log: BuiltLog,
) -> None:
    """Whoever rewrites and re-signs a log with their own key passes an unpinned check (integrity
    only) but fails once the auditor pins the backend's key (by key id or public key)."""
    events = events_of(rich_log.lines)
    events[2]["data"]["content"]["summary"] = "nothing to see here"
    events[2]["data"]["content_digest"] = json_digest(events[2]["data"]["content"])
    forged = reseal(events[:3], signer_label="mallory")
    assert verify_export(forged).events == 3
    real = rich_log.checkpoint_key.public_key()
    for pin in (key_id(real), public_key_b64(real)):
        err = rejects(forged, trusted_checkpoint_key=pin)
        assert err.line == 1
        assert verify_export(rich_log.lines, trusted_checkpoint_key=pin).events == 16


# -- JSON edge cases the verifier must survive -------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '{"type": "event", "seq": 1, "seq": 1, "hash": "x", "body": "{}"}',
        '{"type": "event", "seq": NaN, "hash": "x", "body": "{}"}',
        '{"type": "event", "seq": 1e999, "hash": "x", "body": "{}"}',
        '{"type": "event", "seq": true, "hash": "x", "body": "{}"}',
        '{"type": "event", "seq": 1, "hash": "x", "body": "\\ud800"}',
        "[" * 100_000,
    ],
)
def test_verify_export_rejects_malformed_lines_without_crashing(
    rich_log: BuiltLog, line: str
) -> None:
    """Garbage in an export is a verification failure with a line number, not a traceback."""
    lines = [rich_log.lines[0], line, rich_log.lines[-1]]
    assert rejects(lines).line == 2


def test_verify_export_rejects_a_body_that_is_not_canonical(rich_log: BuiltLog) -> None:
    """A body with the right hash but not in RFC 8785 form (e.g. re-pretty-printed) fails."""
    event = json.loads(rich_log.lines[1])
    body = json.dumps(json.loads(event["body"]), indent=1)
    forged = {"type": "event", "seq": 1, "hash": sha256_hex(body.encode()), "body": body}
    err = rejects([rich_log.lines[0], json.dumps(forged), rich_log.lines[-1]])
    assert "canonical" in str(err)


def test_verify_export_rejects_a_checkpoint_payload_that_is_not_json() -> None:
    """A checkpoint whose signed payload is not a checkpoint fails cleanly."""
    lines = reseal([])
    key = seeded_key("backend")
    for payload in (b"\xff not json", b"[1]", b'{"log":"hitl-audit","size":true,"head":""}'):
        envelope = sign_envelope(payload, CHECKPOINT_PAYLOAD_TYPE, key)
        lines[-1] = json.dumps({"type": "checkpoint", "envelope": envelope.model_dump()})
        assert rejects(lines).line == 2
