"""Fields a policy names in ``[redaction]``: checked with file and line, and redacted at
ingest in the policy's domains (on top of HITL_REDACT_FIELDS) before anything is stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli import app
from backend.policies import check_policy, compile_policy, example_policies
from backend.services.policies import push_policy
from backend.services.redaction import placeholder
from store.canonical import canonical_json
from store.migrate import upgrade
from store.samples import sample_escalation
from tests.conftest import BackendEnv

NAME = "Wilhelmina Araújo-Nakashima"
ADDRESS = "Rue des Tanneurs 14, 1000 Bruxelles"

POLICY = """\
id = "refunds"
domains = ["payments"]

[redaction]
fields = ["context.customer.name", "context.customer.address", "evidence.source"]

[[rules]]
name = "default"
description = "Every refund is reviewed"
when = "true"
outcome = "escalate"
severity = "low"
"""


def _problems(text: str) -> list[str]:
    return [str(p) for p in check_policy(text, source="p.toml")]


def test_policy_redaction_bad_fields_are_file_line_errors() -> None:
    """A path that cannot name an escalation field, an unknown key, a field named twice
    and a value that is not a list are each reported at their line."""
    text = POLICY.replace(
        '["context.customer.name", "context.customer.address", "evidence.source"]',
        '["context.customer.name", "domain", "context..x", "customer.name", '
        '"context.customer.name"]\nhide = true',
    )
    problems = _problems(text)
    assert problems[0].startswith(
        "p.toml:5: redaction: redaction field path 'domain' must start with one of "
    )
    assert "p.toml:5: redaction: redaction field path 'context..x' has an empty segment" in (
        problems
    )
    assert any(
        p.startswith("p.toml:5: redaction: redaction field path 'customer.name'") for p in problems
    )
    assert "p.toml:5: redaction: fields lists 'context.customer.name' twice" in problems
    assert "p.toml:6: redaction: unknown key 'hide' (expected fields)" in problems
    assert len(problems) == 5
    not_a_list = _problems(
        POLICY.replace(
            '["context.customer.name", "context.customer.address", "evidence.source"]',
            '"context.customer.name"',
        )
    )
    assert not_a_list == [
        'p.toml:5: redaction: fields must be a list of dotted paths, e.g. ["context.name"]'
    ]


def test_policy_check_cli_reports_a_bad_redaction_field(tmp_path: Path) -> None:
    """`hitl policy check` prints FILE:LINE for a bad redaction path and exits 1."""
    path = tmp_path / "refunds.toml"
    path.write_text(POLICY.replace('"evidence.source"', '"trace_id"'))
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:5: redaction: redaction field path 'trace_id'")


def test_policy_redaction_fields_compile_into_the_policy() -> None:
    """A good [redaction] table checks clean and the compiled policy carries its fields;
    the payments example names the customer's name and addresses."""
    assert _problems(POLICY) == []
    policy = compile_policy(POLICY)
    assert policy.redact_fields == (
        "context.customer.name",
        "context.customer.address",
        "evidence.source",
    )
    payments = next(p for p in example_policies() if p.stem == "payments")
    assert "context.customer_name" in compile_policy(payments.read_text()).redact_fields


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the proof reads the database file."""
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    upgrade(url)
    return url


def _stored_bytes(db_url: str) -> bytes:
    path = Path(db_url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_policy_redaction_fields_never_reach_the_database(
    backend_env: BackendEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a pushed policy naming context.customer.name (and no HITL_REDACT_FIELDS), an
    agent's payments escalation is stored with a typed placeholder carrying the keyed
    hash: the name is in neither the SQLite file nor its WAL. A moderation escalation,
    which the policy does not govern, keeps the same field as sent."""
    assert backend_env.state.settings.redact_fields == []
    push_policy(backend_env.state.engine, source=POLICY, filename="refunds.toml", author="t")
    agent = backend_env.client(backend_env.agent_token)
    base = sample_escalation(0)
    payments = base.model_copy(
        update={
            "idempotency_key": "pii-policy-1",
            "context": {**base.context, "customer": {"name": NAME, "address": ADDRESS}},
        }
    )
    status = await agent.submit_escalation(payments)
    other = sample_escalation(1)
    assert other.domain == "moderation"
    moderation = other.model_copy(
        update={"idempotency_key": "pii-policy-2", "context": {"customer": {"name": "Pat"}}}
    )
    kept = await agent.submit_escalation(moderation)

    case = await backend_env.client().case(status.id)
    key = backend_env.state.redaction_key
    expected = placeholder("field", canonical_json(NAME).decode(), key)
    assert re.fullmatch(r"⟦field:[0-9a-f]{12}⟧", expected)
    assert case.context["customer"] == {
        "name": expected,
        "address": placeholder("field", canonical_json(ADDRESS).decode(), key),
    }
    sources = [e.source for e in case.evidence]
    assert sources and all(s is not None and s.startswith("⟦field:") for s in sources)
    assert (await backend_env.client().case(kept.id)).context["customer"]["name"] == "Pat"

    stored = _stored_bytes(backend_env.db_url)
    assert expected.encode() in stored
    for value in (NAME, ADDRESS):
        for form in {value, value.lower(), value.replace(" ", "")}:
            assert form.encode() not in stored, form
            assert form.encode("utf-16-le") not in stored, form
