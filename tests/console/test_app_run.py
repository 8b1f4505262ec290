"""`hitl console` start-up: it signs in first and explains what is wrong when it cannot."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from console.app import run_console
from console.config import ConsoleSettings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_console_explains_an_unreachable_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No backend: the console does not start; it says which URL failed and exits 1."""
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = ConsoleSettings(
        url=url, token="hitl_sup_x", key_store="file", key_file=tmp_path / "absent.key"
    )
    assert run_console(settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("hitl: ")
    assert url in err
