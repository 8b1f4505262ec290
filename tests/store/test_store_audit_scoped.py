"""Scoped audit exports: events a reader may not see are elided, and the export still
verifies, but an elided line can never be used to hide tampering with a visible one.

Scoped exports are cut from the same real logs as the full ones (``rich_log``, written
through the store's code path on a real SQLite file); the attacks work on the exported
text, or on the database rows, as an attacker holding either would.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from store_log_builder import BuiltLog

from store.audit import AuditVerifyError, EventRef, export_lines, verify_export
from store.canonical import canonical_json, parse_json, sha256_hex
from store.db import make_engine, read_session
from store.tables import Checkpoint

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Which cases a reader may not see; rich_log's case 2 is decided by its last event.
SCOPES = {"cases 2 and 4": {2, 4}, "cases 1, 3, 5": {1, 3, 5}, "every case": {1, 2, 3, 4, 5}}


def scoped(built: BuiltLog, hidden: Collection[int], *, db_path: Any = None) -> list[str]:
    """The export a reader who may not see ``hidden`` gets, cut at the log's last checkpoint."""
    path = db_path or built.db_path
    engine = make_engine(f"sqlite:///{path}")
    try:
        with read_session(engine) as session:
            checkpoint = session.exec(
                select(Checkpoint).order_by(col(Checkpoint.id).desc())
            ).first()
            assert checkpoint is not None

            def elide(event: EventRef) -> bool:
                return event.case_id in hidden

            return list(
                export_lines(
                    session,
                    checkpoint=checkpoint,
                    checkpoint_key=built.checkpoint_key.public_key(),
                    elide=elide,
                    signer=built.checkpoint_key,
                )
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=sorted(SCOPES))
def scoped_log(request: pytest.FixtureRequest, rich_log: BuiltLog) -> list[str]:
    return scoped(rich_log, SCOPES[request.param])


def trusted(built: BuiltLog) -> str:
    from store.signing import key_id

    return key_id(built.checkpoint_key.public_key())


def rejects(lines: list[str], built: BuiltLog) -> AuditVerifyError:
    """Verification with the backend's key pinned must fail (an attacker lacks that key)."""
    with pytest.raises(AuditVerifyError) as info:
        verify_export(lines, trusted_checkpoint_key=trusted(built))
    return info.value


def kinds(lines: list[str]) -> list[str]:
    return [json.loads(x)["type"] for x in lines]


# -- what a reader gets -----------------------------------------------------------------


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_scoped_export_verifies_and_counts_the_elided(rich_log: BuiltLog, scope: str) -> None:
    """A scoped export verifies with the backend's key pinned; the report counts every
    event, says how many were elided, and checks every decision still shown."""
    hidden = SCOPES[scope]
    lines = scoped(rich_log, hidden)
    full = verify_export(rich_log.lines)
    report = verify_export(lines, trusted_checkpoint_key=trusted(rich_log))
    events = [parse_json(json.loads(x)["body"]) for x in rich_log.lines[1:-1]]
    hidden_events = [e for e in events if e["case_id"] in hidden]
    assert report.events == full.events
    assert report.head == full.head
    assert report.elided == len(hidden_events) > 0
    assert report.decisions == sum(
        e["kind"] == "decision.recorded" and e["case_id"] not in hidden for e in events
    )
    assert sum(report.elided_kinds.values()) == report.elided


def test_scoped_export_keeps_the_chain_of_the_full_one(rich_log: BuiltLog) -> None:
    """Elided lines carry the same sequence and hashes as the full export, and nothing of
    the event but its kind: no actor, time, case or data."""
    lines = scoped(rich_log, {2, 4})
    assert len(lines) == len(rich_log.lines)
    for mine, theirs in zip(lines[1:-1], rich_log.lines[1:-1], strict=True):
        a, b = json.loads(mine), json.loads(theirs)
        if a["type"] == "event":
            assert a == b
            continue
        body = parse_json(b["body"])
        assert a == {
            "type": "elided",
            "seq": b["seq"],
            "prev": body["prev"],
            "hash": b["hash"],
            "kind": body["kind"],
        }
        assert body["case_id"] in (2, 4)


def test_scoped_export_needs_the_signing_key(rich_log: BuiltLog) -> None:
    """A scoped export is signed as it ends: without the checkpoint key's private half
    there is no scoped export."""
    engine = make_engine(f"sqlite:///{rich_log.db_path}")
    try:
        with read_session(engine) as session:
            checkpoint = session.exec(select(Checkpoint)).first()
            assert checkpoint is not None
            with pytest.raises(ValueError, match="private half"):
                list(
                    export_lines(
                        session,
                        checkpoint=checkpoint,
                        checkpoint_key=rich_log.checkpoint_key.public_key(),
                        elide=lambda e: True,
                    )
                )
    finally:
        engine.dispose()


# -- tampering ---------------------------------------------------------------------------


def _leaves(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*prefix, i))]
    return [prefix]


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20)


@PROPERTY
@given(data=st.data())
def test_scoped_export_detects_an_edited_field(
    rich_log: BuiltLog, scoped_log: list[str], data: st.DataObject
) -> None:
    """Changing any value on any line of a scoped export, elided lines included, is caught."""
    lines = list(scoped_log)
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    obj = json.loads(lines[i])
    path = data.draw(st.sampled_from(_leaves(obj)), label="path")
    new = data.draw(scalars, label="new value")
    old: Any = obj
    for part in path:
        old = old[part]
    assume(not (type(new) is type(old) and new == old))
    _set(obj, path, new)
    lines[i] = json.dumps(obj)
    rejects(lines, rich_log)


def _rechain(lines: list[str], start: int, head: str, keep_elided_hash: bool) -> None:
    """Repair the chain after line ``start - 1`` changed: what a forger without the
    backend's key can do. Visible events get their ``prev`` rewritten and rehashed; an
    elided line gets the new ``prev`` and keeps its hash (relinking to the untouched rest
    of the chain) or passes the new head on."""
    for j in range(start, len(lines) - 1):
        obj = json.loads(lines[j])
        if obj["type"] == "elided":
            obj["prev"] = head
            if keep_elided_hash:
                lines[j] = json.dumps(obj)
                return
            obj["hash"] = sha256_hex(f"forged {head}".encode())
        else:
            event = parse_json(obj["body"])
            event["prev"] = head
            obj["body"] = canonical_json(event).decode()
            obj["hash"] = sha256_hex(obj["body"].encode())
        head = obj["hash"]
        lines[j] = json.dumps(obj)


@PROPERTY
@given(data=st.data())
def test_scoped_export_elided_lines_cannot_hide_an_edited_visible_event(
    rich_log: BuiltLog, scoped_log: list[str], data: st.DataObject
) -> None:
    """Edit a visible event in canonical form with its hash redone, then repair the chain
    through the elided lines after it (relinking to the original hashes, or carrying the
    new head on to the end): still caught."""
    lines = list(scoped_log)
    visible = [i for i, t in enumerate(kinds(lines)) if t == "event"]
    assume(visible)
    i = data.draw(st.sampled_from(visible), label="edited line")
    line = json.loads(lines[i])
    event = parse_json(line["body"])
    path = data.draw(st.sampled_from(_leaves(event["data"]) or [()]), label="path")
    if path:
        _set(event["data"], path, data.draw(scalars, label="new value"))
    else:
        event["actor"] = "mallory"
    body = canonical_json(event).decode()
    assume(body != line["body"])
    line["body"], line["hash"] = body, sha256_hex(body.encode())
    lines[i] = json.dumps(line)
    _rechain(lines, i + 1, line["hash"], data.draw(st.booleans(), label="keep elided hash"))
    rejects(lines, rich_log)


@PROPERTY
@given(data=st.data())
def test_scoped_export_detects_a_visible_event_turned_elided(
    rich_log: BuiltLog, scoped_log: list[str], data: st.DataObject
) -> None:
    """Hiding a visible event (a decision, say) behind an elided line of its own, with
    the right sequence and hashes, is caught: the checkpoint vouches for which are elided."""
    lines = list(scoped_log)
    visible = [i for i, t in enumerate(kinds(lines)) if t == "event"]
    assume(visible)
    i = data.draw(st.sampled_from(visible), label="hidden line")
    line = json.loads(lines[i])
    event = parse_json(line["body"])
    lines[i] = json.dumps(
        {
            "type": "elided",
            "seq": line["seq"],
            "prev": event["prev"],
            "hash": line["hash"],
            "kind": event["kind"],
        }
    )
    rejects(lines, rich_log)


@PROPERTY
@given(data=st.data())
def test_scoped_export_detects_a_deleted_duplicated_or_moved_line(
    rich_log: BuiltLog, scoped_log: list[str], data: st.DataObject
) -> None:
    """Dropping, replaying or moving any line of a scoped export is caught."""
    lines = list(scoped_log)
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    how = data.draw(st.sampled_from(["delete", "duplicate", "move"]), label="how")
    if how == "delete":
        del lines[i]
    elif how == "duplicate":
        lines.insert(data.draw(st.integers(0, len(lines)), label="at"), lines[i])
    else:
        j = data.draw(st.integers(0, len(lines) - 1).filter(lambda j: j != i), label="to")
        lines.insert(j, lines.pop(i))
    rejects(lines, rich_log)


def test_scoped_export_with_the_full_exports_checkpoint_fails(
    rich_log: BuiltLog, scoped_log: list[str]
) -> None:
    """Elided lines under a checkpoint that vouches for none (the full export's, signed
    by the same key over the same head) do not verify."""
    lines = [*scoped_log[:-1], rich_log.lines[-1]]
    assert json.loads(scoped_log[-1]) != json.loads(rich_log.lines[-1])
    err = rejects(lines, rich_log)
    assert "does not vouch" in str(err)


def test_scoped_export_elided_lines_come_from_the_signed_bodies(
    rich_log: BuiltLog, tmp_path: Any
) -> None:
    """Someone with write access to the database edits a visible event (body and hash
    column) and the indexed prev/hash columns of the hidden event after it, so the rows
    link. The scoped export takes an elided line's prev from the stored body, so the
    break shows: the edited export does not verify."""
    db = tmp_path / "tampered.db"
    src = sqlite3.connect(rich_log.db_path)
    src.backup(dst := sqlite3.connect(db))
    src.close()
    rows = dst.execute("SELECT seq, case_id, body FROM audit_events ORDER BY seq").fetchall()
    # A visible event (case 3's decision) directly followed by a hidden one (case 4).
    i = next(
        n
        for n in range(len(rows) - 1)
        if rows[n][1] == 3 and rows[n + 1][1] == 4 and b"decision" in rows[n][2]
    )
    event = parse_json(rows[i][2].decode())
    event["actor"] = "supervisor:mallory"  # nothing else in the log cross-checks the actor
    body = canonical_json(event)
    digest = sha256_hex(body)
    dst.execute(
        "UPDATE audit_events SET body = ?, hash = ? WHERE seq = ?", (body, digest, rows[i][0])
    )
    dst.execute("UPDATE audit_events SET prev_hash = ? WHERE seq = ?", (digest, rows[i + 1][0]))
    dst.commit()
    dst.close()
    lines = scoped(rich_log, {2, 4}, db_path=db)
    err = rejects(lines, rich_log)
    assert "elided event" in str(err) and "previous hash does not match" in str(err)
