"""The queue's filters and orders: mine, claimed, summary search, SLA and age orders, and
the rows a live console re-reads after the change feed named them."""

from __future__ import annotations

import pytest

from console.errors import InvalidRequest
from store.contracts import SEVERITY_RANK, QueueItem
from store.samples import sample_escalations


async def _walk(client, limit: int = 4, **params) -> list[QueueItem]:
    items: list[QueueItem] = []
    cursor = None
    while True:
        page = await client.queue(limit=limit, cursor=cursor, **params)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def _fill(backend_env, n: int = 14) -> list[int]:
    ids = []
    for escalation in sample_escalations(n):
        ids.append(backend_env.submit(escalation).id)
        backend_env.clock.advance(7)  # distinct ages
    return ids


async def test_queue_sort_sla_lists_least_time_left_first_across_pages(backend_env) -> None:
    """Sorted by SLA, the case closest to breaching comes first whatever its severity,
    and paging walks every case once in that order."""
    _fill(backend_env)
    client = backend_env.client()
    by_sla = await _walk(client, sort="sla")
    assert [i.id for i in by_sla] == [i.id for i in sorted(by_sla, key=lambda i: (i.due_at, i.id))]
    everything = await _walk(client, limit=100)
    assert sorted(i.id for i in by_sla) == sorted(i.id for i in everything)
    assert {i.severity for i in by_sla} != {by_sla[0].severity}, "several severities mixed"
    one = by_sla[0].severity
    only = await _walk(client, limit=2, sort="sla", severity=one)
    assert [i.id for i in only] == [i.id for i in by_sla if i.severity == one]


async def test_queue_sort_age_lists_oldest_first_across_pages(backend_env) -> None:
    """Sorted by age the oldest case comes first; paging walks every case once."""
    ids = _fill(backend_env)
    client = backend_env.client()
    assert [i.id for i in await _walk(client, sort="age")] == ids
    payments = [i.id for i in await _walk(client, sort="age", group="payments")]
    assert payments and payments == sorted(payments)


async def test_queue_cursor_of_another_order_is_a_clear_400(backend_env) -> None:
    """A cursor kept from one order and sent with another is refused, saying what to do."""
    _fill(backend_env, 6)
    client = backend_env.client()
    page = await client.queue(limit=2, sort="age")
    assert page.next_cursor is not None
    with pytest.raises(InvalidRequest) as err:
        await client.queue(limit=2, cursor=page.next_cursor, sort="sla")
    assert "sort=age" in err.value.detail and "first page" in err.value.detail


async def test_queue_filters_claimed_unclaimed_and_mine(backend_env) -> None:
    """Claimed shows the cases someone holds; unclaimed the rest; mine the ones I hold or
    that were suggested to me; an expired claim counts as unclaimed."""
    ids = _fill(backend_env, 8)
    alice = backend_env.client()
    _, bob_token = backend_env.add_supervisor("bob", groups=["payments", "moderation"])
    bob = backend_env.client(bob_token)
    bobs = [i.id for i in (await bob.queue(limit=100)).items if i.id != ids[0]][-1]
    await alice.claim(ids[0])
    await bob.claim(bobs)

    claimed = {i.id: i.claimed_by for i in (await alice.queue(claimed=True, limit=100)).items}
    assert claimed == {ids[0]: "alice", bobs: "bob"}
    unclaimed = {i.id for i in (await alice.queue(claimed=False, limit=100)).items}
    assert unclaimed == set(ids) - set(claimed)

    suggested = {i.id for i in (await bob.queue(limit=100)).items if i.suggested_assignee == "bob"}
    mine = {i.id for i in (await bob.queue(mine=True, limit=100)).items}
    assert mine == suggested | {bobs}

    backend_env.clock.advance(24 * 3600)  # every claim expired
    assert (await alice.queue(claimed=True, limit=100)).items == []


async def test_queue_search_finds_summaries_containing_the_text(backend_env) -> None:
    """`q` matches summaries case-insensitively; % and _ are plain characters."""
    _fill(backend_env, 10)
    client = backend_env.client()
    everything = (await client.queue(limit=100)).items
    word = everything[0].summary.split()[0]
    found = await _walk(client, limit=3, q=word.upper())
    assert [i.id for i in found] == [i.id for i in everything if word.lower() in i.summary.lower()]
    for plain in ("_", "0%", "1_"):
        containing = [i.id for i in everything if plain in i.summary]
        assert [i.id for i in (await client.queue(q=plain, limit=100)).items] == containing


async def test_queue_ids_returns_only_cases_still_queued_and_matching(backend_env) -> None:
    """Asked for the cases the change feed named, the queue returns those still open, in
    the reader's groups and matching the filters; a case of another group is not there."""
    ids = _fill(backend_env, 10)
    _, token = backend_env.add_supervisor("mod-only", groups=["moderation"])
    mod = backend_env.client(token)
    client = backend_env.client()
    items = (await client.queue(ids=ids)).items
    assert sorted(i.id for i in items) == ids
    moderation = {i.id for i in items if i.group == "moderation"}
    assert {i.id for i in (await mod.queue(ids=ids)).items} == moderation
    crit = {i.id for i in items if SEVERITY_RANK[i.severity] == 0}
    assert {i.id for i in (await client.queue(ids=ids, severity="critical")).items} == crit
    await client.claim(ids[1])
    assert [i.id for i in (await client.queue(ids=ids, claimed=True)).items] == [ids[1]]
    with pytest.raises(InvalidRequest):
        await client.queue(ids=list(range(1, 300)))


@pytest.mark.parametrize("sort", ["priority", "sla", "age"])
@pytest.mark.parametrize("groups", [None, 3])
def test_queue_orders_walk_an_index_without_sorting(tmp_path, sort: str, groups) -> None:
    """Every order, for an admin (all groups) or a member of several, is an index walk
    merged across groups (SQLite's plan): no table scan and no sort of the open cases, so
    a page costs the same at 10,000 or a million cases, even past a deep cursor."""
    from datetime import UTC, datetime

    from sqlalchemy import create_engine

    from store.cases import _queue_statement, _Shape
    from store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    engine = create_engine(url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    keyset = {"priority": "rank", "sla": "due", "age": "created"}[sort]
    shape = _Shape(
        groups=groups, domain=False, severity=False, keyset=keyset, deferred=False, sort=sort
    )
    statement = _queue_statement(shape)
    values = {"now": now, "now_claim": now, "a_due": now, "a_created": now, "a_id": 1}
    values |= {"a_rank": 0, "limit": 50, "g0": "a", "g1": "b", "g2": "c"}
    values |= {f"r{n}": n for n in range(4)}
    names = statement.compile(engine).params
    bound = statement.params(**{k: values.get(k, "open") for k in names})
    sql = str(bound.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    engine.dispose()
    assert all("TEMP B-TREE" not in step and not step.startswith("SCAN") for step in plan), plan
    assert any("USING INDEX ix_cases_queue" in step for step in plan), plan
