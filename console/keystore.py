"""Where the supervisor's secrets live: the OS keyring, or an encrypted key file.

Only a real OS keyring counts (Secret Service, KWallet, the macOS or Windows keychain).
When :mod:`keyring` resolves to its fail, null or empty-chainer backend, or to a
``keyrings.alt`` file backend, nothing is stored there: :func:`keyring_status` says why,
and the signing key can opt in to a passphrase-encrypted OpenSSH key file instead
(:func:`write_key_file`, :func:`read_key_file`): mode 0600, in a 0700 directory, encrypted
with ``BestAvailableEncryption`` (bcrypt KDF + AES-256). A token is never written to a file.

Every keyring call runs in a daemon thread and gives up after ``timeout`` seconds with a
:class:`KeyringTimeout`, so a locked keyring waiting on a prompt never hangs the console.

Entries use service ``"hitl"`` and usernames that carry the backend URL
(``token:https://hitl.example``, ``signing-key:https://hitl.example``) so several
backends can coexist.
"""

from __future__ import annotations

import base64
import contextlib
import os
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from console.errors import KeyStoreError

__all__ = [
    "DEMO_KEY_COMMENT",
    "MIN_PASSPHRASE",
    "SERVICE",
    "KeyFileInfo",
    "KeyringStatus",
    "KeyringTimeout",
    "NoRealKeyring",
    "default_key_file",
    "delete_signing_key",
    "delete_token",
    "key_file_info",
    "keyring_status",
    "load_signing_key",
    "load_token",
    "read_demo_key_file",
    "read_key_file",
    "save_signing_key",
    "save_token",
    "write_demo_key_file",
    "write_key_file",
]

T = TypeVar("T")

SERVICE = "hitl"
DEMO_KEY_COMMENT = "hitl DEMO key - not for production"
MIN_PASSPHRASE = 8
DEFAULT_TIMEOUT = 5.0
_KEY_PREFIX = "ed25519:"


class NoRealKeyring(KeyStoreError):
    """keyring resolved to a backend that is not an OS keyring; ``status`` says which."""

    def __init__(self, status: KeyringStatus) -> None:
        self.status = status
        super().__init__(
            f"no OS keyring available: {status.reason}. "
            "hitl stores secrets only in a real OS keyring, never in plain text."
        )


class KeyringTimeout(KeyStoreError):
    """The keyring did not answer in time: locked, waiting on a prompt, or stuck."""


# -- keyring backend --------------------------------------------------------------------


@dataclass(frozen=True)
class KeyringStatus:
    """Which keyring backend is in use and whether hitl will store secrets in it."""

    backend: str
    usable: bool
    reason: str


def _backend_name(kr: Any) -> str:
    cls = type(kr)
    return f"{cls.__module__}.{cls.__qualname__}"


def _not_real_reason(kr: Any) -> str | None:
    """Why ``kr`` is not a real OS keyring, or None when it is one."""
    from keyring.backends import chainer, fail, null

    module = type(kr).__module__
    if module.split(".")[0] == "keyrings":
        return f"{type(kr).__name__} from {module} keeps secrets in a file, not in an OS keyring"
    if isinstance(kr, fail.Keyring):
        return (
            "keyring found no backend (no Secret Service on D-Bus, no KWallet, "
            "no macOS or Windows keychain); typical of a headless SSH session"
        )
    if isinstance(kr, null.Keyring):
        return "keyring is switched off (null backend): it stores nothing"
    if isinstance(kr, chainer.ChainerBackend):
        chained = list(kr.backends)
        if not chained:
            return "keyring's chainer has no backend to chain (no OS keyring found)"
        first_reason = _not_real_reason(chained[0])
        if first_reason is not None:
            return f"keyring's chainer writes to {_backend_name(chained[0])}: {first_reason}"
    return None


def _real_backend(kr: Any) -> Any:
    """The backend secrets are written to: a chainer's first (highest priority) backend."""
    from keyring.backends import chainer

    if isinstance(kr, chainer.ChainerBackend):
        return next(iter(kr.backends))
    return kr


def _status_of(kr: Any) -> KeyringStatus:
    reason = _not_real_reason(kr)
    if reason is None:
        real = _real_backend(kr)
        label = getattr(real, "name", type(real).__name__)
        return KeyringStatus(_backend_name(kr), True, f"{label}: a real OS keyring")
    return KeyringStatus(_backend_name(kr), False, reason)


def _resolve() -> Any:
    import keyring

    return keyring.get_keyring()


def keyring_status(*, timeout: float = DEFAULT_TIMEOUT) -> KeyringStatus:
    """Resolve keyring's backend (in a worker thread: resolution talks to D-Bus)."""
    return _status_of(_in_thread(_resolve, timeout=timeout, doing="looking for the OS keyring"))


def _usable_backend(timeout: float) -> Any:
    kr = _in_thread(_resolve, timeout=timeout, doing="looking for the OS keyring")
    status = _status_of(kr)
    if not status.usable:
        raise NoRealKeyring(status)
    return _real_backend(kr)


def _in_thread(fn: Callable[[], T], *, timeout: float, doing: str) -> T:
    """Run a keyring call in a daemon thread; give up after ``timeout`` seconds.

    A daemon thread, not an executor: executor threads are joined at interpreter exit,
    so a call stuck on a prompt would hang the process on the way out.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="hitl-keyring", daemon=True).start()
    if not done.wait(timeout):
        raise KeyringTimeout(
            f"the OS keyring did not answer within {timeout:g} s while {doing}: it is "
            "probably locked and waiting for an unlock prompt, or its daemon is stuck. "
            "Unlock it (log in to the desktop session; on a headless box start "
            "`gnome-keyring-daemon --unlock`) and try again. HITL_KEYRING_TIMEOUT sets the wait."
        )
    if failure:
        error = _translate(failure[0], doing)
        if error is failure[0]:
            raise error
        raise error from failure[0]
    return outcome[0]


def _translate(exc: BaseException, doing: str) -> BaseException:
    if isinstance(exc, KeyStoreError | KeyboardInterrupt | SystemExit):
        return exc
    from keyring.errors import KeyringLocked, NoKeyringError

    if isinstance(exc, KeyringLocked):
        return KeyStoreError(
            f"the OS keyring is locked and was not unlocked while {doing}: unlock it "
            "(log in to the desktop session, or `gnome-keyring-daemon --unlock` on a "
            "headless box) and try again"
        )
    if isinstance(exc, NoKeyringError):
        return KeyStoreError(f"no OS keyring available while {doing}: {exc}")
    return KeyStoreError(f"the OS keyring failed while {doing}: {type(exc).__name__}: {exc}")


def _normalize_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    )


def _token_user(url: str) -> str:
    return f"token:{_normalize_url(url)}"


def _key_user(url: str) -> str:
    return f"signing-key:{_normalize_url(url)}"


# -- token ------------------------------------------------------------------------------


def save_token(url: str, token: str, *, timeout: float) -> None:
    """Keep the supervisor token for ``url`` in the OS keyring.

    Raises :class:`NoRealKeyring` when there is none: the token is then not stored at all.
    """
    backend = _usable_backend(timeout)
    _in_thread(
        lambda: backend.set_password(SERVICE, _token_user(url), token),
        timeout=timeout,
        doing="storing the token",
    )


def load_token(url: str, *, timeout: float) -> str | None:
    """The token stored for ``url``, or None (also when there is no real OS keyring)."""
    try:
        backend = _usable_backend(timeout)
    except NoRealKeyring:
        return None
    value: str | None = _in_thread(
        lambda: backend.get_password(SERVICE, _token_user(url)),
        timeout=timeout,
        doing="reading the token",
    )
    return value or None


def delete_token(url: str, *, timeout: float) -> None:
    backend = _usable_backend(timeout)
    _delete(backend, _token_user(url), timeout=timeout, doing="deleting the token")


def _delete(backend: Any, user: str, *, timeout: float, doing: str) -> None:
    from keyring.errors import PasswordDeleteError

    def call() -> None:
        with contextlib.suppress(PasswordDeleteError):
            backend.delete_password(SERVICE, user)

    _in_thread(call, timeout=timeout, doing=doing)


# -- signing key in the keyring ---------------------------------------------------------


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def save_signing_key(url: str, key: Ed25519PrivateKey, *, timeout: float) -> None:
    """Keep the private signing key for ``url`` in the OS keyring (raises NoRealKeyring)."""
    backend = _usable_backend(timeout)
    secret = _KEY_PREFIX + base64.b64encode(_seed(key)).decode()
    _in_thread(
        lambda: backend.set_password(SERVICE, _key_user(url), secret),
        timeout=timeout,
        doing="storing the signing key",
    )


def load_signing_key(url: str, *, timeout: float) -> Ed25519PrivateKey | None:
    """The signing key stored for ``url``, or None (also when there is no real OS keyring)."""
    try:
        backend = _usable_backend(timeout)
    except NoRealKeyring:
        return None
    secret: str | None = _in_thread(
        lambda: backend.get_password(SERVICE, _key_user(url)),
        timeout=timeout,
        doing="reading the signing key",
    )
    if not secret:
        return None
    try:
        if not secret.startswith(_KEY_PREFIX):
            raise ValueError("no ed25519: prefix")
        seed = base64.b64decode(secret.removeprefix(_KEY_PREFIX), validate=True)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as exc:
        raise KeyStoreError(
            f"the keyring entry {SERVICE}/{_key_user(url)} is not an hitl signing key; "
            "delete it and run `hitl enroll` again"
        ) from exc


def delete_signing_key(url: str, *, timeout: float) -> None:
    backend = _usable_backend(timeout)
    _delete(backend, _key_user(url), timeout=timeout, doing="deleting the signing key")


# -- key files --------------------------------------------------------------------------


def default_key_file(url: str) -> Path:
    """Where ``hitl enroll --key-file`` suggests keeping the encrypted key for ``url``."""
    host = urlsplit(_normalize_url(url)).netloc.replace(":", "_") or "default"
    return Path(platformdirs.user_data_dir("hitl")) / "keys" / f"{host}.key"


def _mode(st: os.stat_result) -> str:
    return oct(stat.S_IMODE(st.st_mode))[2:].zfill(4)


def _check_private_dir(directory: Path) -> None:
    try:
        st = directory.stat()
    except FileNotFoundError as exc:
        raise KeyStoreError(f"directory {directory} does not exist") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise KeyStoreError(f"{directory} is not a directory")
    if st.st_uid != os.getuid():
        raise KeyStoreError(f"refusing {directory}: it belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o077:
        raise KeyStoreError(
            f"refusing to use {directory}: other users can open it (mode {_mode(st)}); "
            f"a key directory must be 0700: run `chmod 700 {directory}`"
        )


def _read_private_file(path: Path) -> bytes:
    """Read ``path`` after checking it and its directory are private to this user."""
    _check_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise KeyStoreError(f"key file {path} does not exist; run `hitl enroll`") from exc
    except OSError as exc:
        if path.is_symlink():
            raise KeyStoreError(f"refusing {path}: it is a symbolic link") from exc
        raise KeyStoreError(f"cannot open key file {path}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyStoreError(f"refusing {path}: not a regular file")
        if st.st_uid != os.getuid():
            raise KeyStoreError(f"refusing {path}: it belongs to another user (uid {st.st_uid})")
        if st.st_mode & 0o077:
            raise KeyStoreError(
                f"refusing key file {path}: other users can read it (mode {_mode(st)}); "
                f"it must be 0600: run `chmod 600 {path}` (and consider the key leaked "
                "if others could read it: enroll a new one)"
            )
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            return fh.read(64 * 1024)
    finally:
        if fd != -1:
            os.close(fd)


def _write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` (never overwrite) with mode 0600 in a 0700 directory."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)
    _check_private_dir(directory)
    if path.exists() or path.is_symlink():
        raise KeyStoreError(f"{path} already exists; hitl never overwrites a key file")
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # atomic, and fails if path appeared meanwhile
    except FileExistsError as exc:
        raise KeyStoreError(f"{path} already exists; hitl never overwrites a key file") from exc
    finally:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)


def write_key_file(path: Path, key: Ed25519PrivateKey, passphrase: str) -> None:
    """Write ``key`` as a passphrase-encrypted OpenSSH private key (0600, dir 0700)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyStoreError(f"the key file passphrase needs at least {MIN_PASSPHRASE} characters")
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    _write_private_file(path, data)


def read_key_file(path: Path, passphrase: str) -> Ed25519PrivateKey:
    """Read a passphrase-encrypted OpenSSH Ed25519 key, refusing loose permissions."""
    data = _read_private_file(path)
    info = _parse_openssh(data, path)
    if not info.encrypted:
        raise KeyStoreError(
            f"refusing {path}: the key is not encrypted; hitl reads only passphrase-"
            "encrypted key files (an unencrypted key is accepted only as `hitl demo`'s key)"
        )
    try:
        key = serialization.load_ssh_private_key(data, passphrase.encode())
    except ValueError as exc:
        raise KeyStoreError(f"wrong passphrase for key file {path}") from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc}") from exc
    return _ed25519(key, info, path)


def write_demo_key_file(path: Path, key: Ed25519PrivateKey) -> None:
    """Write an UNENCRYPTED OpenSSH key marked with :data:`DEMO_KEY_COMMENT` (for `hitl demo`)."""
    _write_private_file(path, _openssh_unencrypted(key, DEMO_KEY_COMMENT))


def read_demo_key_file(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted key only if its comment marks it as hitl's demo key.

    The caller decides whether demo keys are acceptable (only when ``settings.demo``).
    """
    data = _read_private_file(path)
    info = _parse_openssh(data, path)
    if info.encrypted:
        raise KeyStoreError(f"{path} is encrypted: it is not a demo key")
    if info.comment != DEMO_KEY_COMMENT:
        raise KeyStoreError(
            f"refusing {path}: it is an unencrypted key that is not marked as hitl's demo "
            "key; keep real keys in the OS keyring or an encrypted key file"
        )
    return _ed25519(serialization.load_ssh_private_key(data, None), info, path)


@dataclass(frozen=True)
class KeyFileInfo:
    """What an OpenSSH private key file says about itself without its passphrase."""

    public_key: Ed25519PublicKey
    encrypted: bool
    comment: str | None  # only readable when not encrypted

    @property
    def is_demo(self) -> bool:
        return not self.encrypted and self.comment == DEMO_KEY_COMMENT


def key_file_info(path: Path) -> KeyFileInfo:
    """Check permissions and read the public half, cipher and comment of a key file."""
    return _parse_openssh(_read_private_file(path), path)


def _ed25519(key: object, info: KeyFileInfo, path: Path) -> Ed25519PrivateKey:
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} does not hold an Ed25519 key")
    if _raw_public(key.public_key()) != _raw_public(info.public_key):
        raise KeyStoreError(f"{path} is inconsistent: its public and private halves differ")
    return key


# -- OpenSSH key format (PROTOCOL.key) ---------------------------------------------------

_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_END = b"-----END OPENSSH PRIVATE KEY-----"
_MAGIC = b"openssh-key-v1\0"


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise ValueError("truncated")
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> bytes:
        size = self.uint32()
        if self.pos + size > len(self.data):
            raise ValueError("truncated")
        value = self.data[self.pos : self.pos + size]
        self.pos += size
        return value


def _openssh_unencrypted(key: Ed25519PrivateKey, comment: str) -> bytes:
    pub = _raw_public(key.public_key())
    public_blob = _ssh_string(b"ssh-ed25519") + _ssh_string(pub)
    check = os.urandom(4)
    private = (
        check
        + check
        + _ssh_string(b"ssh-ed25519")
        + _ssh_string(pub)
        + _ssh_string(_seed(key) + pub)
        + _ssh_string(comment.encode())
    )
    private += bytes(range(1, (-len(private)) % 8 + 1))
    blob = (
        _MAGIC
        + _ssh_string(b"none")
        + _ssh_string(b"none")
        + _ssh_string(b"")
        + struct.pack(">I", 1)
        + _ssh_string(public_blob)
        + _ssh_string(private)
    )
    b64 = base64.b64encode(blob)
    lines = [b64[i : i + 70] for i in range(0, len(b64), 70)]
    return b"\n".join([_BEGIN, *lines, _END]) + b"\n"


def _parse_openssh(data: bytes, path: Path) -> KeyFileInfo:
    try:
        text = data.strip()
        if not (text.startswith(_BEGIN) and text.endswith(_END)):
            raise ValueError("not an OpenSSH private key")
        blob = base64.b64decode(b"".join(text[len(_BEGIN) : -len(_END)].split()), validate=True)
        if not blob.startswith(_MAGIC):
            raise ValueError("not an openssh-key-v1 key")
        r = _Reader(blob[len(_MAGIC) :])
        cipher = r.string()
        r.string()  # kdf name
        r.string()  # kdf options
        if r.uint32() != 1:
            raise ValueError("holds more than one key")
        pub = _Reader(r.string())
        if pub.string() != b"ssh-ed25519":
            raise ValueError("not an Ed25519 key")
        public_key = Ed25519PublicKey.from_public_bytes(pub.string())
        private = _Reader(r.string())
        comment: str | None = None
        if cipher == b"none":
            if private.uint32() != private.uint32():
                raise ValueError("corrupt private section")
            private.string()  # key type
            private.string()  # public key
            private.string()  # private key
            comment = private.string().decode("utf-8", errors="replace")
    except ValueError as exc:
        raise KeyStoreError(
            f"{path} is not a readable OpenSSH Ed25519 private key ({exc})"
        ) from exc
    return KeyFileInfo(public_key=public_key, encrypted=cipher != b"none", comment=comment)
