"""How ``hitl console`` starts: who am I and the first queue page; the key unlocked after.

Kept apart from :mod:`console.auth` (login, enroll, key files) so that starting the console
imports neither the keyring nor the key-file code: those load in the thread that unlocks
the key, once the queue is on screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.config import ConsoleSettings
from console.errors import BackendUnreachable
from console.local_store import LocalStoreError
from console.offline import LocalFiles, OfflineClient, OfflineStart, Snapshot
from store.contracts import QueuePage, SupervisorMe

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["Identity", "sign_in"]


@dataclass
class Identity:
    """What the console starts with (see :func:`sign_in`)."""

    client: OfflineClient
    me: SupervisorMe
    #: Unlocks the signing key (in a thread) when awaited; raises a ConsoleError saying
    #: what to run when it is missing, locked away or not enrolled. The console awaits it
    #: once the queue is on screen.
    key: Coroutine[Any, Any, Ed25519PrivateKey]
    #: The first page of the queue, fetched while signing in (or the kept copy).
    page: QueuePage
    #: Set when the backend could not be reached (the kept copy is shown) or for a bundle.
    offline: OfflineStart | None = None


def _token(settings: ConsoleSettings) -> str:
    from console.auth import require_token

    return require_token(settings)


def _unlock(settings: ConsoleSettings) -> Ed25519PrivateKey:
    from console.auth import _load_key

    return _load_key(settings)


async def sign_in(
    settings: ConsoleSettings, *, page_size: int = 50, bundle: Path | None = None
) -> Identity:
    """Check the token (who am I) and fetch the first queue page; the signing key is
    unlocked later (``Identity.key``): unlocking a key file (bcrypt) or asking the keyring
    can take longer than the rest of the start-up, and reading the queue does not need it.

    With the backend unreachable, the copy kept on this machine (who you are, the queue as
    last seen) is used instead and ``Identity.offline`` says why; with ``bundle``, the
    bundle's, and no backend is asked at all.

    Raises a :class:`~console.errors.ConsoleError` when the token is missing or rejected,
    or the backend cannot be reached and nothing is kept; key problems surface through
    ``Identity.key``.
    """
    if settings.key_store == "file" and settings.key_file and not settings.key_passphrase:
        from console.auth import with_passphrase

        settings = with_passphrase(settings)  # a prompt, while the terminal is still ours
    offline: OfflineStart | None = None
    if bundle is not None:
        from console.bundle import read_bundle_info

        info = await asyncio.to_thread(read_bundle_info, bundle)
        local = LocalFiles.for_bundle(bundle)
        client = OfflineClient(info.get("url") or settings.url, local=local, bundle=True)
    else:
        token = settings.token or await asyncio.to_thread(_token, settings)
        local = LocalFiles.for_backend(settings.url)
        client = OfflineClient(settings.url, token, local=local)
    try:
        if bundle is not None:
            snapshot = await _snapshot(client, f"{bundle} is not a bundle pulled by `hitl pull`")
            me, page = snapshot.me, snapshot.page
            offline = OfflineStart(f"reviewing the bundle {bundle}", bundle)
        else:
            try:
                me, page = await client.start(page_size=page_size)
            except BackendUnreachable as exc:
                snapshot = await _snapshot(
                    client, f"{exc} (and no copy of the queue is kept on this machine yet)"
                )
                me, page = snapshot.me, snapshot.page
                offline = OfflineStart(str(exc))
    except BaseException:
        await client.aclose()
        await asyncio.to_thread(local.close)
        raise

    async def enrolled() -> Ed25519PrivateKey:
        from console.auth import check_enrolled

        key = await asyncio.to_thread(_unlock, settings)
        check_enrolled(key.public_key(), me)
        return key

    return Identity(client, me, enrolled(), page, offline)


async def _snapshot(client: OfflineClient, otherwise: str) -> Snapshot:
    try:
        snapshot = await client.snapshot()
    except LocalStoreError as exc:
        raise BackendUnreachable(f"{otherwise}: {exc}") from exc
    if snapshot is None:
        raise BackendUnreachable(otherwise)
    return snapshot
