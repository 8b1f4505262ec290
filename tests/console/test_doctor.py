"""`hitl doctor` run as a supervisor would, against a real backend and a real gnome-keyring
(or no keyring at all)."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console import keystore
from store.signing import fingerprint, key_id, public_key_b64

if TYPE_CHECKING:
    from tests.conftest import LiveBackend
    from tests.keyring_service import SecretService

pytest_plugins = ["tests.keyring_service"]
pytestmark = [pytest.mark.e2e, pytest.mark.keyring]

PASSPHRASE = "correct horse battery staple"
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@dataclass(frozen=True)
class Target:
    url: str
    name: str
    token: str


@pytest.fixture(scope="module")
def shared_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBackend]:
    """One real uvicorn backend for the module; each test gets a supervisor of its own."""
    from tests.conftest import start_live_backend, stop_live_backend

    live = start_live_backend(tmp_path_factory.mktemp("live"))
    yield live
    stop_live_backend(live)


@pytest.fixture
def backend(shared_backend: LiveBackend) -> Target:
    from backend.services.admin import add_supervisor
    from store.db import make_engine

    name = f"sup-{uuid.uuid4().hex[:8]}"
    engine = make_engine(shared_backend.db_url)
    try:
        _, token = add_supervisor(engine, name=name, role="supervisor", groups=["payments"])
    finally:
        engine.dispose()
    return Target(shared_backend.url, name, token)


def _hitl(*args: str, **kwargs: object):  # type: ignore[no-untyped-def]
    from tests.keyring_service import run_hitl

    return run_hitl(*args, **kwargs)  # type: ignore[arg-type]


def _env(tmp_path: Path, service: SecretService | None, **extra: str) -> dict[str, str]:
    from tests.keyring_service import hitl_env

    return hitl_env(tmp_path / "home", service, **extra)


def _lines(output: str) -> dict[str, tuple[str, str]]:
    """subject -> (level, detail) for each OK/WARN/FAIL line."""
    found: dict[str, tuple[str, str]] = {}
    for line in output.splitlines():
        m = re.match(
            r"^(OK|WARN|FAIL)\s+(config|backend|keyring|token|signing key|outbox)\s+(.*)$", line
        )
        if m:
            found[m.group(2)] = (m.group(1), m.group(3))
    return found


def _file_key_env(tmp_path: Path, backend: Target) -> tuple[dict[str, str], Path]:
    """A no-keyring box with the token in HITL_TOKEN and an enrolled encrypted key file."""
    path = tmp_path / "keys" / "sup.key"
    key = Ed25519PrivateKey.generate()
    keystore.write_key_file(path, key, PASSPHRASE)
    httpx.post(
        f"{backend.url}/v1/me/keys",
        headers={"Authorization": f"Bearer {backend.token}"},
        json={"public_key": public_key_b64(key.public_key())},
        timeout=5,
    ).raise_for_status()
    env = _env(
        tmp_path,
        None,
        **NO_KEYRING,
        HITL_URL=backend.url,
        HITL_TOKEN=backend.token,
        HITL_KEY_STORE="file",
        HITL_KEY_FILE=str(path),
    )
    return env, path


def test_doctor_all_ok_after_login_and_enroll(
    backend: Target, secret_service: SecretService, tmp_path: Path
) -> None:
    """After `hitl login` and `hitl enroll` on a desktop keyring, every line is OK: the
    config path, the backend, SecretService as a real keyring, the token and whose it is,
    and the enrolled key's fingerprint; exit 0."""
    env = _env(tmp_path, secret_service, HITL_URL=backend.url)
    assert _hitl("login", "--token", backend.token, env=env).returncode == 0
    enroll = _hitl("enroll", env=env)
    assert enroll.returncode == 0, enroll.stdout
    fp = re.search(r"fingerprint (SHA256:\S+)", enroll.stdout)
    assert fp is not None

    result = _hitl("doctor", env=env)

    assert result.returncode == 0, result.stdout
    lines = _lines(result.stdout)
    assert lines["config"] == (
        "OK",
        f"{env['HITL_CONFIG']} (absent: defaults and HITL_* variables apply)",
    )
    assert lines["backend"][0] == "OK" and f"{backend.url} answers /healthz" in lines["backend"][1]
    assert lines["keyring"][0] == "OK"
    assert lines["keyring"][1].startswith("keyring.backends.SecretService.Keyring")
    assert lines["token"] == (
        "OK",
        f"valid: {backend.name} (supervisor, groups payments), from the OS keyring",
    )
    assert lines["signing key"][0] == "OK"
    assert f"enrolled: {fp.group(1)}" in lines["signing key"][1]
    assert "All good." in result.stdout


def test_doctor_without_backend_keyring_or_token_says_what_to_do(tmp_path: Path) -> None:
    """On a headless box with nothing set up and no backend: FAIL for the backend, WARN
    that the keyring is not a real one, FAIL for the missing token and key, each with
    the command to run; exit 1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = _hitl("doctor", "--url", url, env=_env(tmp_path, None, **NO_KEYRING))

    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert lines["backend"][0] == "FAIL" and url in lines["backend"][1]
    assert lines["keyring"][0] == "WARN"
    assert "keyring.backends.fail.Keyring is not a real OS keyring" in lines["keyring"][1]
    assert lines["token"] == (
        "FAIL",
        f"none for {url}: run `hitl login --url {url}` (or set HITL_TOKEN)",
    )
    assert lines["signing key"][0] == "FAIL"
    assert "hitl enroll --key-file" in lines["signing key"][1]
    assert "problem(s)" in result.stdout


def test_doctor_with_file_key_on_headless_box_is_ok_with_warning(
    backend: Target, tmp_path: Path
) -> None:
    """HITL_TOKEN plus an enrolled encrypted key file works without a keyring: the keyring
    line only WARNs, the key is reported enrolled (read without its passphrase); exit 0."""
    env, path = _file_key_env(tmp_path, backend)
    result = _hitl("doctor", env=env)

    assert result.returncode == 0, result.stdout
    lines = _lines(result.stdout)
    assert lines["keyring"][0] == "WARN"
    assert lines["token"][0] == "OK" and lines["token"][1].endswith("from HITL_TOKEN")
    public = keystore.key_file_info(path).public_key
    assert lines["signing key"] == (
        "OK",
        f"enrolled: {fingerprint(public)} (key {key_id(public)}) in the encrypted key file {path}",
    )
    assert "All good. (1 warning(s) above.)" in result.stdout


def test_doctor_flags_swapped_key_file(backend: Target, tmp_path: Path) -> None:
    """A key file replaced by another key FAILs: its fingerprint is not the enrolled one."""
    env, path = _file_key_env(tmp_path, backend)
    path.unlink()
    intruder = Ed25519PrivateKey.generate()
    keystore.write_key_file(path, intruder, PASSPHRASE)

    result = _hitl("doctor", env=env)

    assert result.returncode == 1
    level, detail = _lines(result.stdout)["signing key"]
    assert level == "FAIL"
    assert f"this key is not enrolled (fingerprint {fingerprint(intruder.public_key())})" in detail


def test_doctor_flags_key_file_others_can_read(backend: Target, tmp_path: Path) -> None:
    """A key file with mode 0644 FAILs with the chmod that fixes it."""
    env, path = _file_key_env(tmp_path, backend)
    path.chmod(0o644)
    result = _hitl("doctor", env=env)
    assert result.returncode == 1
    level, detail = _lines(result.stdout)["signing key"]
    assert level == "FAIL" and "mode 0644" in detail and f"chmod 600 {path}" in detail


def test_doctor_flags_rejected_token_and_readable_config(backend: Target, tmp_path: Path) -> None:
    """A token in a world-readable config file WARNs about the file; a token the backend
    rejects FAILs and says to log in again."""
    env = _env(tmp_path, None, **NO_KEYRING)
    config = Path(env["HITL_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'url = "{backend.url}"\ntoken = "stale"\n')
    config.chmod(0o644)

    result = _hitl("doctor", env=env)

    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert lines["config"][0] == "WARN" and "holds a token" in lines["config"][1]
    assert lines["token"][0] == "FAIL"
    assert f"the backend rejects the token from the config file {config}" in lines["token"][1]
    assert "run `hitl login` again" in lines["token"][1]


def test_doctor_on_stuck_keyring_fails_fast(
    backend: Target, fresh_secret_service: SecretService, tmp_path: Path
) -> None:
    """A keyring that never answers shows up as a FAIL with the timeout, not a hang."""
    env = _env(tmp_path, fresh_secret_service, HITL_URL=backend.url, HITL_KEYRING_TIMEOUT="1")
    fresh_secret_service.freeze()
    try:
        result = _hitl("doctor", env=env, timeout=30)
    finally:
        fresh_secret_service.thaw()
    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert lines["token"][0] == "FAIL" and "did not answer within 1 s" in lines["token"][1]


def test_doctor_reports_outbox_size_and_last_sync(backend: Target, tmp_path: Path) -> None:
    """With decisions saved offline, doctor says how many wait, how many met a conflict,
    and when the console last synced; with none it says the outbox is absent."""
    from console.local_store import Outbox, default_outbox_path
    from store.contracts import Envelope, EnvelopeSignature

    env, _ = _file_key_env(tmp_path, backend)
    first = _lines(_hitl("doctor", env=env).stdout)
    assert first["outbox"][0] == "OK" and "absent" in first["outbox"][1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", env["HOME"])  # where the `hitl` subprocess looks
        mp.delenv("XDG_DATA_HOME", raising=False)
        path = default_outbox_path(backend.url)
    outbox = Outbox(path)
    sig = [EnvelopeSignature(keyid="k", sig="s")]
    for n in range(3):
        outbox.add(
            case_id=n + 1,
            decision_id=f"d{n}",
            action="approve",
            envelope=Envelope(payloadType="t", payload="", signatures=sig),
        )
    outbox.settle(1, "conflict", {"title": "Already decided"})
    outbox.mark_synced()
    outbox.close()

    result = _hitl("doctor", env=env)
    level, detail = _lines(result.stdout)["outbox"]
    assert level == "WARN"
    assert f"{path}: 2 waiting, 0 sent, 1 in conflict" in detail
    assert "last sync 20" in detail
