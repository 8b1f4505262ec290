"""Related cases (``GET /v1/cases/{id}/related``) on SQLite and PostgreSQL: the same agent,
the same trace, the same redacted value; only cases of the reader's groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, select

from backend.services.admin import add_agent
from backend.services.escalations import submit_escalation
from console.errors import NotFound
from store.contracts import EscalationCreate, RelatedCases
from store.db import make_engine, read_session
from store.migrate import alembic_config, upgrade
from store.samples import sample_escalation
from store.tables import Agent, CasePlaceholder
from tests.backend.test_lifecycle_migration import _row
from tests.conftest import BackendEnv
from tests.pgserver import create_database

EMAIL = "jane.doe@example.com"


def _escalation(
    n: int, *, domain_of: int = 0, trace: str | None = None, email: str | None = None
) -> EscalationCreate:
    """Sample ``domain_of`` (0 payments, 1 moderation) as escalation ``n``."""
    base = sample_escalation(domain_of)
    context = dict(base.context)
    if email is not None:
        context["contact"] = f"Customer wrote from {email}"
    return base.model_copy(
        update={
            "idempotency_key": f"rel-{n}",
            "trace_id": trace or f"trace-{n}",
            "context": context,
        }
    )


def _by_relation(related: RelatedCases) -> dict[str, tuple[str, list[int], bool]]:
    return {
        g.relation if g.relation != "placeholder" else f"placeholder:{g.value.split(':')[0]}": (
            g.value,
            [c.id for c in g.cases],
            g.more,
        )
        for g in related.groups
    }


async def test_related_lists_same_agent_trace_and_placeholder(backend_env: BackendEnv) -> None:
    """A supervisor sees, for a case, the agent's other cases, those of the same trace and
    those holding the same e-mail (as its placeholder, never the address), newest first."""
    first = backend_env.submit(_escalation(1, trace="t-shared", email=EMAIL)).id
    same_mail = backend_env.submit(_escalation(2, email=EMAIL.upper())).id  # normalized
    same_trace = backend_env.submit(_escalation(3, trace="t-shared")).id
    other_id, _ = add_agent(backend_env.state.engine, name="other-bot", domains=[])
    with read_session(backend_env.state.engine) as session:
        other = session.get(Agent, other_id)
    assert other is not None
    theirs, _ = submit_escalation(
        backend_env.state, agent=other, escalation=_escalation(4, email=EMAIL)
    )
    unrelated = backend_env.submit(_escalation(5)).id

    client = backend_env.client()
    related = await client.related(first)
    groups = _by_relation(related)
    assert groups["agent"] == ("refund-bot", [unrelated, same_trace, same_mail], False)
    assert groups["trace"] == ("t-shared", [same_trace], False)
    value, ids, _ = groups["placeholder:⟦email"]
    assert value.startswith("⟦email:") and ids == [theirs.id, same_mail]
    placeholder_group = next(g for g in related.groups if g.relation == "placeholder")
    assert placeholder_group.cases[0].agent == "other-bot"
    raw = (await client._http.get(f"/v1/cases/{first}/related")).text
    assert "jane" not in raw.lower()


async def test_related_is_limited_and_says_more(backend_env: BackendEnv) -> None:
    """With more related cases than asked for, the newest are listed and ``more`` is set."""
    ids = [backend_env.submit(_escalation(n)).id for n in range(7)]
    related = await backend_env.client().related(ids[0], limit=3)
    assert _by_relation(related)["agent"] == ("refund-bot", ids[:0:-1][:3], True)
    response = await backend_env.client()._http.get(f"/v1/cases/{ids[0]}/related?limit=0")
    assert response.status_code == 422


async def test_related_outside_groups_is_404_and_left_out(backend_env: BackendEnv) -> None:
    """A case outside the reader's groups is 404, and a related case outside them is not
    listed: a payments-only supervisor never learns of the moderation case sharing the
    e-mail."""
    payments = backend_env.submit(_escalation(1, email=EMAIL)).id
    moderation = backend_env.submit(_escalation(2, domain_of=1, email=EMAIL)).id
    _, pay_token = backend_env.add_supervisor("pat", ["payments"])
    _, mod_token = backend_env.add_supervisor("mo", ["moderation"])

    everyone = await backend_env.client().related(payments)
    assert _by_relation(everyone)["placeholder:⟦email"][1] == [moderation]
    pat = await backend_env.client(pay_token).related(payments)
    assert pat.groups == []  # the only related case is a moderation one
    with pytest.raises(NotFound):
        await backend_env.client(mod_token).related(payments)
    response = await backend_env.client(mod_token)._http.get(f"/v1/cases/{payments}/related")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def _before_related() -> str:
    scripts = ScriptDirectory.from_config(alembic_config())
    [mine] = [r for r in scripts.walk_revisions() if r.revision.endswith("_related_cases")]
    assert isinstance(mine.down_revision, str)
    return mine.down_revision


def test_migration_indexes_the_placeholders_of_stored_cases(
    db_url: str, tmp_path: Path, request: Any
) -> None:
    """Upgrading a database whose cases already hold placeholders indexes them, so related
    cases find the old cases too; a downgrade and upgrade come back to the same rows."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if db_url.startswith("sqlite")
        else create_database(request.getfixturevalue("pg_base_url"))
    )
    upgrade(url, _before_related())
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=["agents", "cases"])
    agents, cases = meta.tables["agents"], meta.tables["cases"]
    mark = "⟦email:0123456789ab⟧"
    with engine.begin() as conn:
        agent_id = conn.execute(
            agents.insert().values(_row(agents, 1, domains=[]))
        ).inserted_primary_key[0]
        for n, context in enumerate(
            [{"who": f"mail from {mark}"}, {"who": "nobody"}, {"x": [mark, mark]}], start=1
        ):
            conn.execute(
                cases.insert().values(
                    _row(cases, n, agent_id=agent_id, context=context, reasoning=[])
                )
            )
    engine.dispose()

    def marks() -> list[tuple[int, str]]:
        engine = make_engine(url)
        try:
            with read_session(engine) as session:
                rows = session.exec(
                    select(CasePlaceholder.case_id, CasePlaceholder.placeholder).order_by(  # type: ignore[call-overload]
                        CasePlaceholder.case_id
                    )
                ).all()
                return [tuple(r) for r in rows]
        finally:
            engine.dispose()

    upgrade(url)
    assert marks() == [(1, mark), (3, mark)]
    command.downgrade(alembic_config(url), _before_related())
    upgrade(url)
    assert marks() == [(1, mark), (3, mark)]


# The plan is checked on SQLite only: PostgreSQL's depends on its table statistics.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_related_reads_bounded_index_ranges(backend_env: BackendEnv) -> None:
    """Related cases stay fast at any number of cases: every relation is read through an
    index (SQLite's plan: no table scan, no sort), at most a window of candidates each."""
    from sqlalchemy import event

    from store.related import related_groups
    from store.tables import Case

    case_id = backend_env.submit(_escalation(1, trace="t", email=EMAIL)).id
    backend_env.submit(_escalation(2, trace="t", email=EMAIL))
    engine = backend_env.state.engine
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "LIMIT" in statement:
            statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with read_session(engine) as session:
            case = session.get(Case, case_id)
            assert case is not None
            groups = related_groups(session, case=case, groups=["payments", "ops"], limit=5)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [g.relation for g in groups] == ["trace", "placeholder", "agent"]
    raw = engine.raw_connection()
    try:
        plans = [
            " / ".join(row[-1] for row in raw.cursor().execute(f"EXPLAIN QUERY PLAN {s}", p))
            for s, p in statements
        ]
    finally:
        raw.close()
    assert all("SCAN" not in plan and "TEMP B-TREE" not in plan for plan in plans), plans
    relations = [plan for plan, (s, _) in zip(plans, statements, strict=True) if "IN (SELECT" in s]
    for plan, index in zip(
        relations,
        ["ix_cases_trace_id", "ix_case_placeholders_value", "ix_cases_agent_recent"],
        strict=True,
    ):
        assert f"COVERING INDEX {index}" in plan, plan
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
