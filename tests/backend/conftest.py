"""Backend tests run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.migrate import upgrade
from tests.pgserver import create_database, pg_bin_dir, running_postgres


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    if pg_bin_dir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries are missing (run make sysdeps as root)")
        pytest.skip("PostgreSQL server binaries are missing: run `make sysdeps` as root")
    with running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hitl.db'}"
    else:
        url = create_database(request.getfixturevalue("pg_base_url"))
    upgrade(url)
    return url
