"""`hitl login`, `hitl enroll`, `hitl audit export` and `load_identity`, run as a supervisor
would: the real `hitl` command against a real uvicorn backend, secrets in a real
gnome-keyring (or, with no keyring, an encrypted key file)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console import keystore
from console.auth import load_identity
from console.client import HitlClient
from console.config import ConsoleSettings
from console.errors import AuthError, KeyStoreError
from store.contracts import SupervisorMe
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
    """A backend URL and a supervisor of the test's own on it."""

    url: str
    name: str
    token: str


@pytest.fixture(scope="module")
def shared_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBackend]:
    """One real uvicorn backend for the module; each test gets a supervisor of its own.

    Keyring entries are per backend URL, so tests sharing this backend and
    ``secret_service`` also share its token and signing-key entries: assert on values.
    """
    from tests.conftest import start_live_backend, stop_live_backend

    live = start_live_backend(tmp_path_factory.mktemp("live"))
    yield live
    stop_live_backend(live)


def _new_supervisor(live: LiveBackend) -> Target:
    from backend.services.admin import add_supervisor
    from store.db import make_engine

    name = f"sup-{uuid.uuid4().hex[:8]}"
    engine = make_engine(live.db_url)
    try:
        _, token = add_supervisor(engine, name=name, role="supervisor", groups=["payments"])
    finally:
        engine.dispose()
    return Target(live.url, name, token)


@pytest.fixture
def backend(shared_backend: LiveBackend) -> Target:
    return _new_supervisor(shared_backend)


def _hitl(*args: str, **kwargs: object):  # type: ignore[no-untyped-def]
    from tests.keyring_service import run_hitl

    return run_hitl(*args, **kwargs)  # type: ignore[arg-type]


def _env(tmp_path: Path, service: SecretService | None, **extra: str) -> dict[str, str]:
    from tests.keyring_service import hitl_env

    return hitl_env(tmp_path / "home", service, **extra)


def _me(backend: Target) -> SupervisorMe:
    response = httpx.get(
        f"{backend.url}/v1/me",
        headers={"Authorization": f"Bearer {backend.token}"},
        timeout=5,
    )
    response.raise_for_status()
    return SupervisorMe.model_validate(response.json())


def _settings(backend: Target, **kwargs: object) -> ConsoleSettings:
    return ConsoleSettings(url=backend.url, keyring_timeout=5, **kwargs)  # type: ignore[arg-type]


def _enroll_in_file(path: Path, backend: Target) -> None:
    """Set-up shortcut (what `hitl enroll --key-file` does, tested above, minus the CLI)."""
    key = Ed25519PrivateKey.generate()
    keystore.write_key_file(path, key, PASSPHRASE)
    response = httpx.post(
        f"{backend.url}/v1/me/keys",
        headers={"Authorization": f"Bearer {backend.token}"},
        json={"public_key": public_key_b64(key.public_key())},
        timeout=5,
    )
    response.raise_for_status()


# -- hitl login --------------------------------------------------------------------------


def test_login_stores_checked_token_in_gnome_keyring(
    backend: Target, secret_service: SecretService, tmp_path: Path
) -> None:
    """`hitl login` says who you are and keeps the token in the OS keyring, under the
    backend's URL; no config file is written."""
    env = _env(tmp_path, secret_service)
    result = _hitl("login", "--url", backend.url, "--token", backend.token, env=env)

    assert result.returncode == 0, result.stdout
    assert f"Logged in to {backend.url} as {backend.name} (supervisor)" in result.stdout
    assert "hitl enroll" in result.stdout
    assert secret_service.items()[f"token:{backend.url}"] == backend.token
    assert not Path(env["HITL_CONFIG"]).exists()


def test_login_reads_token_from_stdin_when_not_given(
    backend: Target, secret_service: SecretService, tmp_path: Path
) -> None:
    """Without --token, `hitl login` reads the token from the prompt (here: a pipe), so it
    never shows up in the process list or shell history."""
    result = _hitl(
        "login",
        "--url",
        backend.url,
        env=_env(tmp_path, secret_service),
        stdin=backend.token + "\n",
    )
    assert result.returncode == 0, result.stdout
    assert secret_service.items()[f"token:{backend.url}"] == backend.token


def test_login_rejected_token_is_not_stored(
    backend: Target, secret_service: SecretService, tmp_path: Path
) -> None:
    """A token the backend rejects is reported as such and never reaches the keyring."""
    result = _hitl(
        "login",
        "--url",
        backend.url,
        "--token",
        "not-a-token",
        env=_env(tmp_path, secret_service),
    )
    assert result.returncode == 1
    assert f"the backend at {backend.url} rejected this token" in result.stdout
    assert secret_service.items().get(f"token:{backend.url}") != "not-a-token"


def test_login_without_os_keyring_refuses_to_store_token(
    backend: Target, secret_service: SecretService, tmp_path: Path
) -> None:
    """With keyring's fail backend (a headless box), `hitl login` checks the token, says it
    was NOT stored and why, points at HITL_TOKEN or the config file, and writes nothing."""
    env = _env(tmp_path, secret_service, **NO_KEYRING)
    result = _hitl("login", "--url", backend.url, "--token", backend.token, env=env)

    assert result.returncode == 1
    out = result.stdout
    assert f"The token is valid ({backend.name}, supervisor) but it was NOT stored" in out
    assert "no OS keyring (keyring found no backend" in out
    assert "HITL_TOKEN" in out and env["HITL_CONFIG"] in out and "own risk" in out
    assert secret_service.items().get(f"token:{backend.url}") != backend.token
    assert not Path(env["HITL_CONFIG"]).exists()
    assert backend.token not in "".join(
        p.read_text(errors="replace") for p in (tmp_path / "home").rglob("*") if p.is_file()
    )


def test_login_on_stuck_keyring_times_out(
    backend: Target, fresh_secret_service: SecretService, tmp_path: Path
) -> None:
    """When the keyring never answers (an unlock prompt nobody sees), `hitl login` gives up
    after HITL_KEYRING_TIMEOUT with a message that says what to do, instead of hanging."""
    env = _env(tmp_path, fresh_secret_service, HITL_KEYRING_TIMEOUT="1")
    fresh_secret_service.freeze()
    try:
        started = time.monotonic()
        result = _hitl(
            "login",
            "--url",
            backend.url,
            "--token",
            backend.token,
            env=env,
            timeout=30,
        )
        elapsed = time.monotonic() - started
    finally:
        fresh_secret_service.thaw()
    assert result.returncode == 1
    assert "the OS keyring did not answer within 1 s" in result.stdout
    assert "unlock" in result.stdout.lower()
    assert elapsed < 15


def test_enroll_on_locked_keyring_says_so(
    backend: Target, fresh_secret_service: SecretService, tmp_path: Path
) -> None:
    """A locked keyring nobody can unlock makes `hitl enroll` fail fast with "locked", and
    the backend pins nothing."""
    env = _env(tmp_path, fresh_secret_service, HITL_TOKEN=backend.token)
    fresh_secret_service.lock()
    result = _hitl("enroll", "--url", backend.url, env=env)
    assert result.returncode == 1
    assert "the OS keyring is locked" in result.stdout
    assert _me(backend).keys == []


# -- hitl enroll with the keyring -----------------------------------------------------------


async def test_enroll_keeps_key_in_gnome_keyring_and_backend_pins_it(
    backend: Target,
    use_secret_service: SecretService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `hitl login` and `hitl enroll`, the private key is in gnome-keyring, the backend
    pinned its fingerprint, a second `enroll` is a no-op, and the console loads that
    identity."""
    env = _env(tmp_path, use_secret_service)
    login = _hitl("login", "--url", backend.url, "--token", backend.token, env=env)
    assert login.returncode == 0, login.stdout

    result = _hitl("enroll", "--url", backend.url, env=env)

    assert result.returncode == 0, result.stdout
    secret = use_secret_service.items()[f"signing-key:{backend.url}"]
    assert secret.startswith("ed25519:")
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret.removeprefix("ed25519:")))
    fp = fingerprint(key.public_key())
    assert f"Enrolled signing key {key_id(key.public_key())} for {backend.name}" in result.stdout
    assert fp in result.stdout and "kept in the OS keyring" in result.stdout
    assert [(k.key_id, k.fingerprint) for k in _me(backend).keys] == [
        (key_id(key.public_key()), fp)
    ]

    again = _hitl("enroll", "--url", backend.url, env=env)
    assert again.returncode == 0, again.stdout
    assert f"Already enrolled: key {key_id(key.public_key())}, fingerprint {fp}" in again.stdout
    assert len(_me(backend).keys) == 1

    monkeypatch.setenv("HITL_CONFIG", env["HITL_CONFIG"])
    client, me, loaded = await load_identity(_settings(backend))
    async with client:
        assert me.name == backend.name
        assert fingerprint(loaded.public_key()) == fp


async def test_enroll_of_a_key_pinned_for_someone_else_keeps_it(
    shared_backend: LiveBackend, use_secret_service: SecretService, tmp_path: Path
) -> None:
    """When the keyring's key is already pinned to another supervisor, `hitl enroll` shows
    the backend's refusal and leaves that key in the keyring untouched."""
    first, second = _new_supervisor(shared_backend), _new_supervisor(shared_backend)
    url = shared_backend.url.replace("127.0.0.1", "localhost")  # an entry of its own
    env = _env(tmp_path, use_secret_service, HITL_TOKEN=first.token)
    assert _hitl("enroll", "--url", url, env=env).returncode == 0
    before = use_secret_service.items()[f"signing-key:{url}"]

    env["HITL_TOKEN"] = second.token
    result = _hitl("enroll", "--url", url, env=env)

    assert result.returncode == 1
    assert "enroll failed: Key belongs to someone else" in result.stdout
    assert use_secret_service.items()[f"signing-key:{url}"] == before


def test_enroll_without_os_keyring_offers_encrypted_key_file(
    backend: Target, tmp_path: Path
) -> None:
    """With no OS keyring, `hitl enroll` says so, offers the opt-in encrypted key file with
    the exact command, and creates and enrolls nothing."""
    env = _env(tmp_path, None, **NO_KEYRING, HITL_TOKEN=backend.token)
    result = _hitl("enroll", "--url", backend.url, env=env)

    assert result.returncode == 1
    assert "No OS keyring: keyring found no backend" in result.stdout
    assert "passphrase-encrypted key file" in result.stdout
    assert f"hitl enroll --url {backend.url} --key-file " in result.stdout
    assert _me(backend).keys == []
    assert not (tmp_path / "home" / ".local").exists()


def test_enroll_needs_login_first(backend: Target, tmp_path: Path) -> None:
    """`hitl enroll` before `hitl login` tells you to log in."""
    result = _hitl("enroll", "--url", backend.url, env=_env(tmp_path, None, **NO_KEYRING))
    assert result.returncode == 1
    assert f"not logged in to {backend.url}: run `hitl login" in result.stdout


# -- hitl enroll --key-file (no keyring) ------------------------------------------------------


async def test_enroll_key_file_is_encrypted_private_and_pinned(
    backend: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hitl enroll --key-file` on a box with no keyring asks for a passphrase, writes an
    encrypted OpenSSH key (0600 in a new 0700 directory), enrolls it, says how to point
    the console at it, and the console then loads it."""
    path = tmp_path / "keys" / "alice.key"
    env = _env(tmp_path, None, **NO_KEYRING, HITL_TOKEN=backend.token)
    result = _hitl(
        "enroll",
        "--url",
        backend.url,
        "--key-file",
        str(path),
        env=env,
        stdin=PASSPHRASE + "\n",
    )

    assert result.returncode == 0, result.stdout
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    info = keystore.key_file_info(path)
    assert info.encrypted
    fp = fingerprint(info.public_key)
    assert [k.fingerprint for k in _me(backend).keys] == [fp]
    assert f"kept in the encrypted key file {path}" in result.stdout
    assert f'key_store = "file" and key_file = "{path}"' in result.stdout

    monkeypatch.setenv("HITL_CONFIG", env["HITL_CONFIG"])
    settings = _settings(
        backend,
        token=backend.token,
        key_store="file",
        key_file=path,
        key_passphrase=PASSPHRASE,
    )
    client, me, key = await load_identity(settings)
    async with client:
        assert fingerprint(key.public_key()) == fp and me.name == backend.name


async def test_load_identity_refuses_swapped_key_file(
    backend: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key file replaced by another valid key (same passphrase, right permissions) is
    refused: its fingerprint is not the one the backend pinned. `hitl enroll` refuses to
    adopt it too."""
    path = tmp_path / "keys" / "alice.key"
    _enroll_in_file(path, backend)
    pinned = _me(backend).keys[0].fingerprint
    intruder = Ed25519PrivateKey.generate()
    path.unlink()
    keystore.write_key_file(path, intruder, PASSPHRASE)

    monkeypatch.setenv("HITL_CONFIG", str(tmp_path / "absent.toml"))
    settings = _settings(
        backend,
        token=backend.token,
        key_store="file",
        key_file=path,
        key_passphrase=PASSPHRASE,
    )
    with pytest.raises(KeyStoreError) as refused:
        await load_identity(settings)
    message = str(refused.value)
    assert message.startswith(
        f"this key is not enrolled (fingerprint {fingerprint(intruder.public_key())}); "
        "run hitl enroll"
    )
    assert pinned in message

    again = _hitl(
        "enroll",
        "--url",
        backend.url,
        "--key-file",
        str(path),
        env=_env(
            tmp_path,
            None,
            **NO_KEYRING,
            HITL_TOKEN=backend.token,
            HITL_KEY_PASSPHRASE=PASSPHRASE,
        ),
    )
    assert again.returncode == 1
    assert "holds a key that is not enrolled" in again.stdout
    assert [k.fingerprint for k in _me(backend).keys] == [pinned]


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("wrong-passphrase", "wrong passphrase for key file"),
        ("file-0644", "other users can read it (mode 0644)"),
        ("dir-0755", "other users can open it (mode 0755)"),
    ],
)
async def test_load_identity_refuses_unsafe_or_locked_key_file(
    backend: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
    says: str,
) -> None:
    """The console will not load an enrolled key file with a wrong passphrase, a file others
    can read, or a directory others can open; each refusal says which and how to fix it."""
    path = tmp_path / "keys" / "alice.key"
    _enroll_in_file(path, backend)
    passphrase = PASSPHRASE
    if damage == "wrong-passphrase":
        passphrase = "not the passphrase"
    elif damage == "file-0644":
        path.chmod(0o644)
    else:
        path.parent.chmod(0o755)

    monkeypatch.setenv("HITL_CONFIG", str(tmp_path / "absent.toml"))
    settings = _settings(
        backend,
        token=backend.token,
        key_store="file",
        key_file=path,
        key_passphrase=passphrase,
    )
    with pytest.raises(KeyStoreError, match=says.replace("(", r"\(").replace(")", r"\)")):
        await load_identity(settings)


# -- the demo key -------------------------------------------------------------------------


async def test_demo_key_file_loads_only_in_demo_mode(
    backend: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hitl demo`'s unencrypted, marked key loads when settings.demo is set, and is refused
    (as a DEMO key) otherwise."""
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "demo" / "demo.key"
    keystore.write_demo_key_file(path, key)
    async with HitlClient(backend.url, backend.token) as http:
        await http.enroll_key(public_key_b64(key.public_key()))

    monkeypatch.setenv("HITL_CONFIG", str(tmp_path / "absent.toml"))
    common = {"token": backend.token, "key_store": "file", "key_file": path}
    client, _, loaded = await load_identity(_settings(backend, demo=True, **common))
    async with client:
        assert key_id(loaded.public_key()) == key_id(key.public_key())
    with pytest.raises(KeyStoreError, match="unencrypted DEMO key: only `hitl demo` may use it"):
        await load_identity(_settings(backend, demo=False, **common))


async def test_load_identity_with_rejected_token_says_so(
    backend: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale token surfaces as an authentication error from the backend."""
    monkeypatch.setenv("HITL_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(AuthError):
        await load_identity(_settings(backend, token="stale"))


# -- hitl audit export -------------------------------------------------------------------


def test_audit_export_writes_a_log_that_verifies(backend: Target, tmp_path: Path) -> None:
    """`hitl audit export --out` writes the JSONL export, says how many lines, and
    `hitl audit verify` accepts the file."""
    _enroll_in_file(tmp_path / "keys" / "alice.key", backend)
    out = tmp_path / "audit.jsonl"
    env = _env(tmp_path, None, **NO_KEYRING, HITL_TOKEN=backend.token)

    result = _hitl("audit", "export", "--url", backend.url, "--out", str(out), env=env)

    assert result.returncode == 0, result.stdout
    lines = out.read_text().splitlines()
    assert len(lines) >= 2
    assert f"Exported {len(lines)} lines to {out}" in result.stdout
    verify = _hitl("audit", "verify", str(out), env=env)
    assert verify.returncode == 0, verify.stdout
    assert "OK" in verify.stdout


def test_audit_export_with_bad_token_leaves_no_file(backend: Target, tmp_path: Path) -> None:
    """A rejected export fails with the backend's reason and leaves no partial file."""
    out = tmp_path / "audit.jsonl"
    env = _env(tmp_path, None, **NO_KEYRING, HITL_TOKEN="stale")
    result = _hitl("audit", "export", "--url", backend.url, "--out", str(out), env=env)
    assert result.returncode == 1
    assert "export failed" in result.stdout
    assert list(tmp_path.glob("*audit.jsonl*")) == []
