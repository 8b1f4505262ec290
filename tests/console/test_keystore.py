"""The keystore against a real Secret Service (gnome-keyring), keyring's fail/null
backends, and encrypted key files on disk."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.compat.properties
import keyring.core
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console import keystore
from console.errors import KeyStoreError
from store.signing import fingerprint

if TYPE_CHECKING:
    from tests.keyring_service import SecretService

pytest_plugins = ["tests.keyring_service"]

URL = "http://hitl.example:8765"
OTHER_URL = "https://other.example"
PASSPHRASE = "correct horse battery staple"


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


@pytest.fixture
def forced_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test install a keyring backend; the process's previous one comes back after."""
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    yield


def _join_keyring_threads(limit: float = 10) -> None:
    """Wait for timed-out keyring threads so none outlives its test's environment."""
    deadline = time.monotonic() + limit
    for thread in threading.enumerate():
        if thread.name == "hitl-keyring":
            thread.join(max(0.0, deadline - time.monotonic()))


# -- a real Secret Service ---------------------------------------------------------------


@pytest.mark.keyring
def test_keyring_status_in_private_session_is_secret_service(
    use_secret_service: SecretService,
) -> None:
    """With gnome-keyring on the session bus, keyring resolves to SecretService and hitl
    reports it as a real OS keyring."""
    assert type(keyring.get_keyring()).__module__ == "keyring.backends.SecretService"
    status = keystore.keyring_status(timeout=5)
    assert status.usable
    assert status.backend == "keyring.backends.SecretService.Keyring"
    assert "real OS keyring" in status.reason


@pytest.mark.keyring
def test_token_round_trips_through_gnome_keyring_per_backend(
    use_secret_service: SecretService,
) -> None:
    """Tokens for two backends live side by side in gnome-keyring under service "hitl"."""
    keystore.save_token(URL, "tok-A", timeout=5)
    keystore.save_token(OTHER_URL + "/", "tok-B", timeout=5)

    assert keystore.load_token(URL, timeout=5) == "tok-A"
    assert keystore.load_token("HTTP://HITL.example:8765/", timeout=5) == "tok-A"
    assert keystore.load_token(OTHER_URL, timeout=5) == "tok-B"
    assert keystore.load_token("http://never-logged-in.example", timeout=5) is None
    stored = use_secret_service.items()
    assert stored[f"token:{URL}"] == "tok-A"
    assert stored[f"token:{OTHER_URL}"] == "tok-B"

    keystore.delete_token(OTHER_URL, timeout=5)
    assert keystore.load_token(OTHER_URL, timeout=5) is None


@pytest.mark.keyring
def test_signing_key_round_trips_through_gnome_keyring(
    use_secret_service: SecretService,
) -> None:
    """The private key comes back from the keyring byte for byte, and is gone once deleted."""
    key = Ed25519PrivateKey.generate()
    keystore.save_signing_key(URL, key, timeout=5)

    loaded = keystore.load_signing_key(URL, timeout=5)
    assert loaded is not None
    assert _raw(loaded) == _raw(key)
    assert keystore.load_signing_key(OTHER_URL, timeout=5) is None
    keystore.delete_signing_key(URL, timeout=5)
    assert keystore.load_signing_key(URL, timeout=5) is None


@pytest.mark.keyring
def test_locked_keyring_is_reported_promptly(use_fresh_secret_service: SecretService) -> None:
    """A locked collection with nobody to answer the unlock prompt gives a clear "locked"
    error, not a hang."""
    keystore.save_token(URL, "tok", timeout=5)
    use_fresh_secret_service.lock()

    started = time.monotonic()
    with pytest.raises(KeyStoreError, match="locked"):
        keystore.load_token(URL, timeout=5)
    assert time.monotonic() - started < 5


@pytest.mark.keyring
def test_stuck_keyring_times_out_instead_of_hanging(
    use_fresh_secret_service: SecretService,
) -> None:
    """When the Secret Service never answers (a prompt nobody sees, a stuck daemon), every
    keyring call gives up after the timeout with a message saying what to do."""
    keystore.save_token(URL, "tok", timeout=5)
    use_fresh_secret_service.freeze()
    try:
        for call in (
            lambda: keystore.load_token(URL, timeout=1),
            lambda: keystore.save_signing_key(URL, Ed25519PrivateKey.generate(), timeout=1),
        ):
            started = time.monotonic()
            with pytest.raises(keystore.KeyringTimeout, match=r"did not answer within 1 s"):
                call()
            assert time.monotonic() - started < 3  # the wait, not forever
    finally:
        use_fresh_secret_service.thaw()
        _join_keyring_threads()


# -- no real keyring -------------------------------------------------------------------


class _PlaintextKeyring(keyring.backend.KeyringBackend):
    """Stands in for keyrings.alt's PlaintextKeyring (not installed here). Never viable, so
    keyring's own discovery in this process never picks it."""

    @keyring.compat.properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test double")

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("hitl must not write to a plaintext keyring")

    def delete_password(self, service: str, username: str) -> None:
        return None


_PlaintextKeyring.__module__ = "keyrings.alt.file"


class _EmptyChainer(keyring.backends.chainer.ChainerBackend):
    """A chainer that found nothing to chain (priority -1: keyring never picks it itself)."""

    backends = ()  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("backend", "says"),
    [
        (keyring.backends.fail.Keyring(), "no backend"),
        (keyring.backends.null.Keyring(), "switched off"),
        (_PlaintextKeyring(), "in a file, not in an OS keyring"),
        (_EmptyChainer(), "no backend to chain"),
    ],
    ids=["fail", "null", "keyrings.alt", "empty-chainer"],
)
def test_keyring_status_flags_backends_that_are_not_an_os_keyring(
    forced_backend: None, backend: keyring.backend.KeyringBackend, says: str
) -> None:
    """keyring's fail, null, plaintext and empty-chainer backends are reported as not usable,
    with the reason."""
    keyring.set_keyring(backend)
    status = keystore.keyring_status(timeout=5)
    assert not status.usable
    assert says in status.reason


def test_save_refuses_without_a_real_keyring(forced_backend: None) -> None:
    """With no OS keyring, hitl stores neither token nor key anywhere and says why; loading
    finds nothing."""
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(keystore.NoRealKeyring, match=r"no OS keyring available.*never in plain"):
        keystore.save_token(URL, "tok", timeout=5)
    with pytest.raises(keystore.NoRealKeyring):
        keystore.save_signing_key(URL, Ed25519PrivateKey.generate(), timeout=5)
    assert keystore.load_token(URL, timeout=5) is None
    assert keystore.load_signing_key(URL, timeout=5) is None


def test_keyring_backend_from_env_fail_is_not_real(
    forced_backend: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring (a headless box) is reported
    as no OS keyring."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    status = keystore.keyring_status(timeout=5)
    assert status.backend == "keyring.backends.fail.Keyring"
    assert not status.usable


# -- encrypted key files -----------------------------------------------------------------


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def test_key_file_is_encrypted_openssh_0600_in_0700_dir(key_dir: Path) -> None:
    """`write_key_file` creates a bcrypt-KDF, AES-encrypted OpenSSH key, mode 0600 in a new
    0700 directory, and reads back the same key."""
    key = Ed25519PrivateKey.generate()
    path = key_dir / "alice.key"
    keystore.write_key_file(path, key, PASSPHRASE)

    assert oct(key_dir.stat().st_mode & 0o777) == "0o700"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    text = path.read_text()
    assert text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    blob = base64.b64decode("".join(text.strip().splitlines()[1:-1]))
    assert b"aes256-ctr" in blob[:64] and b"bcrypt" in blob[:64]
    assert base64.b64encode(_raw(key)).decode() not in text
    assert _raw(keystore.read_key_file(path, PASSPHRASE)) == _raw(key)
    info = keystore.key_file_info(path)
    assert info.encrypted and not info.is_demo
    assert fingerprint(info.public_key) == fingerprint(key.public_key())


def test_key_file_wrong_passphrase_is_refused(key_dir: Path) -> None:
    """A wrong passphrase is refused with "wrong passphrase", naming the file."""
    path = key_dir / "alice.key"
    keystore.write_key_file(path, Ed25519PrivateKey.generate(), PASSPHRASE)
    with pytest.raises(KeyStoreError, match=f"wrong passphrase for key file {path}"):
        keystore.read_key_file(path, "not the passphrase")


def test_key_file_readable_by_others_is_refused(key_dir: Path) -> None:
    """A key file with mode 0644 is refused, with the chmod that fixes it."""
    path = key_dir / "alice.key"
    keystore.write_key_file(path, Ed25519PrivateKey.generate(), PASSPHRASE)
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match=r"other users can read it \(mode 0644\).*chmod 600"):
        keystore.read_key_file(path, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="mode 0644"):
        keystore.key_file_info(path)


def test_key_dir_open_to_others_is_refused(key_dir: Path) -> None:
    """A key in a 0755 directory is refused for reading and writing, with the chmod that
    fixes it."""
    path = key_dir / "alice.key"
    keystore.write_key_file(path, Ed25519PrivateKey.generate(), PASSPHRASE)
    key_dir.chmod(0o755)
    with pytest.raises(KeyStoreError, match=r"other users can open it \(mode 0755\).*chmod 700"):
        keystore.read_key_file(path, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="mode 0755"):
        keystore.write_key_file(key_dir / "new.key", Ed25519PrivateKey.generate(), PASSPHRASE)
    assert not (key_dir / "new.key").exists()


def test_key_file_symlink_is_refused(key_dir: Path) -> None:
    """A key path that is a symbolic link is refused."""
    path = key_dir / "alice.key"
    keystore.write_key_file(path, Ed25519PrivateKey.generate(), PASSPHRASE)
    (key_dir / "link.key").symlink_to(path)
    with pytest.raises(KeyStoreError, match="symbolic link"):
        keystore.read_key_file(key_dir / "link.key", PASSPHRASE)


def test_key_file_is_never_overwritten(key_dir: Path) -> None:
    """Writing over an existing key file is refused and the old key survives."""
    path = key_dir / "alice.key"
    first = Ed25519PrivateKey.generate()
    keystore.write_key_file(path, first, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="already exists"):
        keystore.write_key_file(path, Ed25519PrivateKey.generate(), PASSPHRASE)
    assert _raw(keystore.read_key_file(path, PASSPHRASE)) == _raw(first)
    assert sorted(p.name for p in key_dir.iterdir()) == ["alice.key"]


def test_key_file_short_passphrase_is_refused(key_dir: Path) -> None:
    """A passphrase shorter than 8 characters is refused before anything is written."""
    with pytest.raises(KeyStoreError, match="at least 8 characters"):
        keystore.write_key_file(key_dir / "alice.key", Ed25519PrivateKey.generate(), "short")
    assert not (key_dir / "alice.key").exists()


def test_unencrypted_key_file_is_refused(key_dir: Path) -> None:
    """An unencrypted (non-demo) OpenSSH key is refused even with tight permissions."""
    key_dir.mkdir(mode=0o700)
    path = key_dir / "plain.key"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(KeyStoreError, match="not encrypted"):
        keystore.read_key_file(path, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="not marked as hitl's demo key"):
        keystore.read_demo_key_file(path)


def test_demo_key_file_is_marked_and_loads(key_dir: Path) -> None:
    """`hitl demo`'s key is an unencrypted OpenSSH key whose comment says it is a demo key;
    it reads back only as a demo key."""
    key = Ed25519PrivateKey.generate()
    path = key_dir / "demo.key"
    keystore.write_demo_key_file(path, key)

    assert oct(path.stat().st_mode & 0o777) == "0o600"
    info = keystore.key_file_info(path)
    assert info.is_demo and info.comment == keystore.DEMO_KEY_COMMENT
    assert _raw(keystore.read_demo_key_file(path)) == _raw(key)
    # the standard loader agrees with our hand-written OpenSSH encoding
    loaded = serialization.load_ssh_private_key(path.read_bytes(), None)
    assert isinstance(loaded, Ed25519PrivateKey) and _raw(loaded) == _raw(key)
    with pytest.raises(KeyStoreError, match="not encrypted"):
        keystore.read_key_file(path, PASSPHRASE)


def test_garbage_key_file_is_refused(key_dir: Path) -> None:
    """A file that is not an OpenSSH key says so."""
    key_dir.mkdir(mode=0o700)
    path = key_dir / "junk.key"
    path.write_text("hello\n")
    os.chmod(path, 0o600)
    with pytest.raises(KeyStoreError, match="not a readable OpenSSH Ed25519 private key"):
        keystore.key_file_info(path)
