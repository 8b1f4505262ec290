"""Fixtures for the store tests: a migrated SQLite template and real audit logs built on it.

``build_log(plan)`` writes a plan (see ``store_log_builder``) into a fresh SQLite file copied
from a template migrated once per run; ``rich_log`` is one realistic log built once.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from store_log_builder import RICH_PLAN, BuiltLog, Step, seeded_key, write_plan

from store.migrate import upgrade


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; tests copy it instead of migrating."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    assert not path.with_name(path.name + "-wal").exists(), "template left a WAL behind"
    return path


@pytest.fixture(scope="session")
def fresh_db_url(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], str]:
    """Return a function that makes a new migrated SQLite file and gives its URL."""
    directory = tmp_path_factory.mktemp("dbs")
    counter = itertools.count()

    def make() -> str:
        path = directory / f"hitl-{next(counter)}.db"
        shutil.copyfile(template_db, path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture(scope="session")
def build_log(fresh_db_url: Callable[[], str]) -> Callable[..., BuiltLog]:
    def build(plan: Sequence[Step], checkpoint_label: str = "backend") -> BuiltLog:
        url = fresh_db_url()
        built = write_plan(url, plan, seeded_key(checkpoint_label))
        built.db_path = Path(url.removeprefix("sqlite:///"))
        return built

    return build


@pytest.fixture(scope="session")
def rich_log(build_log: Callable[..., BuiltLog]) -> BuiltLog:
    """One realistic log, built once; property tests mutate its exported lines."""
    return build_log(RICH_PLAN)
