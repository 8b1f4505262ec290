"""`hitl demo`: a real backend process, seeded over HTTP, torn down when the console quits."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import httpx
import pytest

import console.demo as demo
from console.auth import load_identity
from console.config import ConsoleSettings, config_path
from console.keystore import DEMO_KEY_COMMENT


@pytest.mark.e2e
def test_demo_runs_the_console_on_a_seeded_backend_and_stops_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The console gets demo settings for a live backend holding the samples, signed in with
    an enrolled demo key; the user's config and keyring are untouched; quitting stops it."""
    monkeypatch.setenv("HITL_CONFIG", str(tmp_path / "user-config.toml"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    # The suite pins the fail backend everywhere; unset it here to see the demo set and
    # restore it itself.
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    seen: dict[str, object] = {}

    def fake_console(settings: ConsoleSettings) -> int:
        seen["settings"] = settings
        seen["config"] = config_path()
        seen["keyring"] = os.environ.get("PYTHON_KEYRING_BACKEND")
        assert settings.key_file is not None
        seen["key_mode"] = stat.S_IMODE(settings.key_file.stat().st_mode)
        seen["key_text"] = settings.key_file.read_text()

        async def look() -> None:
            client, me, _ = await load_identity(settings)
            async with client:
                seen["me"] = me
                seen["queue"] = await client.queue(limit=200)

        asyncio.run(look())
        return 0

    monkeypatch.setattr(demo, "run_console", fake_console)
    assert demo.run_demo(cases=7) == 0

    settings = seen["settings"]
    assert isinstance(settings, ConsoleSettings)
    assert settings.demo and settings.key_store == "file"
    assert settings.url.startswith("http://127.0.0.1:")
    config = seen["config"]
    assert isinstance(config, Path) and config.name == "config.toml"
    assert config.parent != tmp_path and not config.exists()  # the temp dir is gone
    assert not (tmp_path / "user-config.toml").exists()
    assert seen["keyring"] == demo.NO_KEYRING
    assert os.environ.get("PYTHON_KEYRING_BACKEND") != demo.NO_KEYRING
    assert seen["key_mode"] == 0o600
    assert "OPENSSH PRIVATE KEY" in str(seen["key_text"])
    me = seen["me"]
    assert me.name == "demo-supervisor"  # type: ignore[attr-defined]
    assert set(me.groups) == {"payments", "moderation", "data-pipeline"}  # type: ignore[attr-defined]
    assert len(seen["queue"].items) == 7  # type: ignore[attr-defined]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{settings.url}/healthz", timeout=1)
    assert DEMO_KEY_COMMENT == "hitl DEMO key - not for production"


def test_demo_reports_a_backend_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """If the backend fails, the demo says why on stderr and exits 1."""

    def broken(*args: str, env: dict[str, str]) -> str:
        raise demo.DemoError("`backend db upgrade` failed:\nno disk")

    monkeypatch.setattr(demo, "_backend_cmd", broken)
    assert demo.run_demo(cases=1) == 1
    assert "hitl demo failed: `backend db upgrade` failed" in capsys.readouterr().err
