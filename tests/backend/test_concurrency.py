"""Many writers at once: one decision per case wins, and the audit chain stays gap-free."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.problems import ProblemError
from backend.services import cases as case_svc
from backend.services.keys import enroll_key
from console.decisions import build_decision, sign_decision
from store.audit import verify_export
from store.db import read_session
from store.samples import sample_escalations
from store.signing import public_key_b64
from store.tables import Supervisor


def _supervisor(env, name: str) -> tuple[Supervisor, Ed25519PrivateKey]:
    sid, _ = env.add_supervisor(name, groups=["payments", "moderation", "data-pipeline"])
    with read_session(env.state.engine) as session:
        sup = session.get(Supervisor, sid)
    assert sup is not None
    key = Ed25519PrivateKey.generate()
    enroll_key(env.state, supervisor=sup, public_key=public_key_b64(key.public_key()))
    return sup, key


def test_concurrent_decisions_on_one_case_only_one_wins(backend_env) -> None:
    """Eight supervisors deciding the same case at once: exactly one decision is recorded,
    the others get a 409 that says it was already decided."""
    status = backend_env.submit(sample_escalations(1)[0])
    people = [_supervisor(backend_env, f"s{i}") for i in range(8)]
    case = case_svc.get_case(backend_env.state, supervisor=people[0][0], case_id=status.id)

    def attempt(who: tuple[Supervisor, Ed25519PrivateKey]) -> str:
        sup, key = who
        assert sup.id is not None
        payload = build_decision(
            case, action="approve", supervisor_id=sup.id, key=key, signed_at=backend_env.clock()
        )
        try:
            case_svc.decide(
                backend_env.state,
                supervisor=sup,
                case_id=status.id,
                envelope=sign_decision(payload, key),
            )
            return "won"
        except ProblemError as exc:
            assert exc.status == 409, exc.detail
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, people))
    assert results.count("won") == 1
    assert results.count("conflict") == 7


def test_concurrent_ingest_keeps_audit_chain_gap_free(backend_env) -> None:
    """Forty escalations submitted from eight threads: all stored, and the exported audit
    log still verifies (no duplicated or skipped sequence numbers)."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(backend_env.submit, sample_escalations(40)))
    from backend.services.audit_export import export_stream

    lines = [b.decode().rstrip("\n") for b in export_stream(backend_env.state)]
    report = verify_export(lines)
    assert report.kinds["case.created"] == 40
