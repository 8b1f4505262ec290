"""How ``hitl console`` starts: who am I and the first queue page; the key unlocked after.

Kept apart from :mod:`console.auth` (login, enroll, key files) so that starting the console
imports neither the keyring nor the key-file code: those load in the thread that unlocks
the key, once the queue is on screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.client import HitlClient
from console.config import ConsoleSettings
from store.contracts import QueuePage, SupervisorMe

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["Identity", "sign_in"]


@dataclass
class Identity:
    """What the console starts with (see :func:`sign_in`)."""

    client: HitlClient
    me: SupervisorMe
    #: Unlocks the signing key (in a thread) when awaited; raises a ConsoleError saying
    #: what to run when it is missing, locked away or not enrolled. The console awaits it
    #: once the queue is on screen.
    key: Coroutine[Any, Any, Ed25519PrivateKey]
    #: The first page of the queue, fetched while signing in.
    page: QueuePage


def _token(settings: ConsoleSettings) -> str:
    from console.auth import require_token

    return require_token(settings)


def _unlock(settings: ConsoleSettings) -> Ed25519PrivateKey:
    from console.auth import _load_key

    return _load_key(settings)


async def sign_in(settings: ConsoleSettings, *, page_size: int = 50) -> Identity:
    """Check the token (who am I) and fetch the first queue page; the signing key is
    unlocked later (``Identity.key``): unlocking a key file (bcrypt) or asking the keyring
    can take longer than the rest of the start-up, and reading the queue does not need it.

    Raises a :class:`~console.errors.ConsoleError` when the token is missing or rejected
    or the backend cannot be reached; key problems surface through ``Identity.key``.
    """
    token = settings.token or await asyncio.to_thread(_token, settings)
    if settings.key_store == "file" and settings.key_file and not settings.key_passphrase:
        from console.auth import with_passphrase

        settings = with_passphrase(settings)  # a prompt, while the terminal is still ours
    client = HitlClient(settings.url, token)
    try:
        me, page = await client.start(page_size=page_size)
    except BaseException:
        await client.aclose()
        raise

    async def enrolled() -> Ed25519PrivateKey:
        from console.auth import check_enrolled

        key = await asyncio.to_thread(_unlock, settings)
        check_enrolled(key.public_key(), me)
        return key

    return Identity(client, me, enrolled(), page)
