"""The console's local files: cache, durable outbox, sync and air-gapped bundles.

Against a real backend (in-process ASGI on a real SQLite file) and real files on disk.
"""

from __future__ import annotations

import base64
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.bundle import pull_bundle, push_bundle
from console.client import HitlClient
from console.decisions import build_decision, sign_decision
from console.local_store import Cache, LocalStoreError, Outbox
from console.offline import LocalFiles, OfflineClient, SavedDecision
from console.sync import sync_outbox
from store.contracts import CasePublic, DecisionPayload, Envelope
from store.samples import sample_escalations
from store.signing import public_key_b64

ROOT = Path(__file__).resolve().parents[2]


async def _supervisor(backend_env) -> tuple[HitlClient, int, Ed25519PrivateKey]:
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    return client, (await client.me()).id, key


def _signed(backend_env, case: CasePublic, me: int, key, action: str = "approve", **kw):
    payload = build_decision(
        case, action=action, supervisor_id=me, key=key, signed_at=backend_env.clock(), **kw
    )
    return payload, sign_decision(payload, key)


def _queue(outbox: Outbox, payload: DecisionPayload, envelope: Envelope) -> int:
    return outbox.add(
        case_id=payload.case_id,
        decision_id=payload.decision_id,
        action=payload.action,
        envelope=envelope,
    )


def test_outbox_file_is_private_and_loose_permissions_are_refused(tmp_path: Path) -> None:
    """The outbox is created 0600 in a 0700 directory; a copy others can read is refused
    with the chmod to run."""
    path = tmp_path / "hitl" / "outbox.db"
    Outbox(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    with pytest.raises(LocalStoreError, match="chmod 600"):
        Outbox(path)
    path.chmod(0o600)
    link = tmp_path / "hitl" / "link.db"
    link.symlink_to(path)
    with pytest.raises(LocalStoreError, match="not a regular file"):
        Outbox(link)


_WRITER = """
import sys
from pathlib import Path
from console.local_store import Outbox
from store.contracts import Envelope, EnvelopeSignature

outbox = Outbox(Path(sys.argv[1]))
n = 0
while True:
    n += 1
    env = Envelope(payloadType="t", payload="cGF5bG9hZA==", signatures=[
        EnvelopeSignature(keyid="k", sig=f"sig-{n}")])
    seq = outbox.add(case_id=n, decision_id=f"d-{n}", action="approve", envelope=env)
    print(f"saved {seq} d-{n}", flush=True)
"""


def test_outbox_loses_no_saved_decision_when_killed(tmp_path: Path) -> None:
    """A console killed with SIGKILL while saving decisions loses none it reported as
    saved: every one is in the file, whole, in order."""
    path = tmp_path / "outbox.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    saved: list[str] = []
    for line in proc.stdout:
        saved.append(line.split()[2])
        if len(saved) == 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    entries = Outbox(path).entries()
    ids = [e.decision_id for e in entries]
    assert ids[: len(saved)] == saved
    assert all(e.envelope.signatures[0].sig == f"sig-{e.case_id}" for e in entries)
    assert not path.with_name(path.name + "-journal").exists() or os.path.getsize(path) > 0


async def test_cache_round_trips_what_the_console_saw(backend_env, tmp_path: Path) -> None:
    """What the console last saw comes back from the cache exactly."""
    for esc in sample_escalations(5):
        backend_env.submit(esc)
    client = backend_env.client()
    page = await client.queue(limit=10)
    cache = Cache(tmp_path / "cache.db")
    cache.save_queue(page.items)
    case = await client.case(page.items[0].id)
    cache.save_case(case)
    cache.save_me(await client.me())
    cache.close()
    again = Cache(tmp_path / "cache.db")
    snapshot = again.load_queue()
    assert snapshot is not None and snapshot[0] == page.items
    loaded = again.load_case(case.id)
    assert loaded is not None and loaded[0] == case
    assert again.load_me() == await client.me()
    assert again.load_case(999_999) is None


async def test_sync_sends_in_order_and_reports_each_conflict(backend_env, tmp_path: Path) -> None:
    """Offline decisions are sent in the order made: the good one is recorded, one on a
    case decided elsewhere meanwhile is a conflict that says so, a forged one is refused;
    none is dropped."""
    for esc in sample_escalations(3):
        backend_env.submit(esc)
    client, me, key = await _supervisor(backend_env)
    items = (await client.queue(limit=3)).items
    cases = [await client.case(i.id) for i in items]
    outbox = Outbox(tmp_path / "outbox.db")
    good = _signed(backend_env, cases[0], me, key)
    late = _signed(backend_env, cases[1], me, key)
    forged_payload, _ = _signed(backend_env, cases[2], me, key)
    forged = sign_decision(forged_payload, Ed25519PrivateKey.generate())
    _queue(outbox, *good)
    _queue(outbox, *late)
    _queue(outbox, forged_payload, forged)
    # Someone else decides case 1 while we are offline.
    _, bob_token = backend_env.add_supervisor("bob", groups=[cases[1].group])
    bob, bob_me, bob_key = await _supervisor_with(backend_env, bob_token)
    await bob.decide(cases[1].id, _signed(backend_env, cases[1], bob_me, bob_key)[1])

    report = await sync_outbox(outbox, client)
    assert [e.case_id for e in report.sent] == [cases[0].id]
    assert [e.case_id for e, _ in report.conflicts] == [cases[1].id]
    assert "bob" in report.conflicts[0][1]
    assert [e.case_id for e, _ in report.rejected] == [cases[2].id]
    assert report.complete
    assert outbox.counts() == {"pending": 0, "sent": 1, "conflict": 1, "rejected": 1}
    assert (await client.case(cases[0].id)).status == "decided"
    assert outbox.last_sync() is not None


async def _supervisor_with(backend_env, token: str):
    client = backend_env.client(token)
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    return client, (await client.me()).id, key


async def test_sync_keeps_decisions_pending_while_the_backend_is_unreachable(
    backend_env, tmp_path: Path
) -> None:
    """With no route to the backend nothing is lost: the decision stays pending, and is
    recorded once the backend answers again."""
    backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _supervisor(backend_env)
    case = await client.case((await client.queue(limit=1)).items[0].id)
    outbox = Outbox(tmp_path / "outbox.db")
    _queue(outbox, *_signed(backend_env, case, me, key))
    async with HitlClient("http://127.0.0.1:9", backend_env.supervisor_token) as offline:
        report = await sync_outbox(outbox, offline)
    assert report.unreachable and report.remaining == 1 and not report.complete
    assert outbox.counts()["pending"] == 1
    report = await sync_outbox(outbox, client)
    assert len(report.sent) == 1 and outbox.counts()["pending"] == 0


async def test_sync_counts_a_decision_whose_answer_was_lost_as_sent(
    backend_env, tmp_path: Path
) -> None:
    """If the backend recorded a decision but the console died before hearing so, the
    resend is recognised as the same decision, not reported as a conflict."""
    backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _supervisor(backend_env)
    case = await client.case((await client.queue(limit=1)).items[0].id)
    payload, envelope = _signed(backend_env, case, me, key)
    await client.decide(case.id, envelope)  # got through; the answer "was lost"
    outbox = Outbox(tmp_path / "outbox.db")
    _queue(outbox, payload, envelope)
    report = await sync_outbox(outbox, client)
    assert len(report.sent) == 1 and not report.conflicts


async def test_bundle_pull_review_push_round_trip(backend_env, tmp_path: Path) -> None:
    """`pull` writes one private file with the group's cases; decisions signed into it with
    no backend are recorded by `push`, and a second push sends nothing again."""
    for esc in sample_escalations(12):
        backend_env.submit(esc)
    client, me, key = await _supervisor(backend_env)
    bundle = tmp_path / "bundles" / "review.hitl"
    bundle.parent.mkdir()
    count = await pull_bundle(client, bundle, group="payments", limit=100)
    expected = [i.id for i in (await client.queue(group="payments", limit=100)).items]
    assert count == len(expected) > 0
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert os.listdir(bundle.parent) == ["review.hitl"]  # one self-contained file

    cache = Cache(bundle)  # the air-gapped side: only the file
    snapshot = cache.load_queue()
    assert snapshot is not None and [i.id for i in snapshot[0]] == expected
    outbox = Outbox(bundle)
    for case_id in expected[:2]:
        loaded = cache.load_case(case_id)
        assert loaded is not None
        _queue(outbox, *_signed(backend_env, loaded[0], me, key))
    cache.close()
    outbox.close()

    report = await push_bundle(client, bundle)
    assert [e.case_id for e in report.sent] == expected[:2]
    assert all([(await client.case(i)).status == "decided" for i in expected[:2]])
    again = await push_bundle(client, bundle)
    assert again.sent == [] and again.complete


async def test_bundle_pull_refuses_to_overwrite(backend_env, tmp_path: Path) -> None:
    """Pulling into an existing file is refused, so a reviewed bundle is never clobbered."""
    bundle = tmp_path / "review.hitl"
    bundle.write_text("reviewed")
    with pytest.raises(LocalStoreError, match="already exists"):
        await pull_bundle(backend_env.client(), bundle, group=None, limit=10)
    assert bundle.read_text() == "reviewed"


async def test_sync_counts_a_resent_deferral_as_sent(backend_env, tmp_path: Path) -> None:
    """A deferral (a decision that does not settle the case) that got through before its
    answer was lost is reported as sent on the resend, from the backend's ``recorded``."""
    backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _supervisor(backend_env)
    case = await client.case((await client.queue(limit=1)).items[0].id)
    payload, envelope = _signed(
        backend_env, case, me, key, action="defer", defer_minutes=5, rationale="after lunch"
    )
    await client.decide(case.id, envelope)
    outbox = Outbox(tmp_path / "outbox.db")
    _queue(outbox, payload, envelope)
    report = await sync_outbox(outbox, client)
    assert [(e.case_id, state, text) for e, state, text in report.outcomes] == [
        (case.id, "sent", "recorded")
    ]
    assert outbox.counts()["sent"] == 1


async def test_cache_outbox_and_bundle_are_private_and_hold_no_raw_pii(
    backend_env, tmp_path: Path
) -> None:
    """Everything the console writes to disk about a case full of personal data (the cache
    of what it showed, a decision saved offline, a pulled bundle) is mode 0600 and holds
    only the backend's placeholders, none of the originals."""
    from tests.backend.test_pii_at_rest import PII, _forms, _full_of_pii
    from tests.console.conftest import FlakyTransport

    backend_env.submit(_full_of_pii())
    enroller, me, key = await _supervisor(backend_env)
    import httpx

    flaky = FlakyTransport(httpx.ASGITransport(app=backend_env.app))
    local = LocalFiles(tmp_path / "cache" / "cache.db", tmp_path / "data" / "outbox.db")
    client = OfflineClient(
        "http://hitl.test", backend_env.supervisor_token, local=local, transport=flaky
    )
    client.clock = backend_env.clock
    client.remember_me(await enroller.me())
    item = (await client.queue(limit=5)).items[0]
    await client.claim(item.id)
    case = await client.case(item.id)
    flaky.fail = lambda request: True  # the backend goes away
    claim = await client.claim(case.id)  # the one kept
    payload = build_decision(
        case,
        action="approve",
        supervisor_id=me,
        key=key,
        claim_token=claim.token,
        signed_at=backend_env.clock(),
    )
    saved = await client.decide(case.id, sign_decision(payload, key))
    assert isinstance(saved, SavedDecision)
    await client.aclose()
    local.close()
    bundle = tmp_path / "bundle.hitl"
    await pull_bundle(backend_env.client(), bundle, group=None, limit=10)

    # What each file must hold (so the search below looks at the right bytes): the
    # redacted summary, and the saved decision (its envelope, payload decoded too).
    shown = case.summary.encode()
    files = {local.cache_path: shown, local.outbox_path: payload.decision_id.encode()}
    files[bundle] = shown
    for path, marker in files.items():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        data = path.read_bytes()
        assert marker in data, path
        if path == local.outbox_path:
            data += base64.b64decode(saved.envelope.payload)
        for name, value in PII.items():
            if name == "name":
                continue  # redacted only when the backend's settings name the field
            for form in _forms(value):
                assert form.encode() not in data, f"{name} ({form!r}) found in {path}"
