"""The console's offline-aware client: what it reads is kept, what it decides is never lost.

:class:`OfflineClient` is the :class:`~console.client.HitlClient` the console runs with. It
talks to the backend as its parent does and, on the side, keeps on this machine
(:class:`LocalFiles`, one thread of its own, so the event loop never waits on a disk):

- every queue page and every case it fetched, and the claims it took (the cache);
- when the backend cannot be reached, :meth:`OfflineClient.claim` answers with a claim
  you held when the case was last seen, and :meth:`OfflineClient.decide` writes the signed
  decision durably to the outbox (committed with ``synchronous=FULL``) and returns a
  :class:`SavedDecision`: the console then says "saved", not "recorded";
- :meth:`OfflineClient.sync` sends the outbox in order once the backend answers again
  (:func:`console.sync.sync_outbox`).

With ``bundle=True`` there is no backend at all (``hitl console --bundle FILE``): reads come
from the bundle and decisions go to the bundle's outbox, for ``hitl push FILE``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from console.client import HitlClient
from console.errors import ApiError, BackendUnreachable
from console.local_store import (
    Cache,
    Outbox,
    default_cache_path,
    default_outbox_path,
)
from console.sync import SyncReport, sync_outbox
from store.contracts import (
    CasePublic,
    ClaimPublic,
    DecisionPayload,
    DecisionPublic,
    Envelope,
    QueuePage,
    SupervisorMe,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "KeptClaim",
    "LocalFiles",
    "NotDecidableOffline",
    "OfflineClient",
    "OfflineStart",
    "SavedDecision",
    "Snapshot",
]

T = TypeVar("T")


class NotDecidableOffline(BackendUnreachable):
    """The backend is away and this case cannot be decided from what is kept here."""


class KeptClaim(ClaimPublic):
    """A claim as kept on this machine, returned while the backend is away."""


class SavedDecision(DecisionPublic):
    """A decision signed and saved in the outbox, not yet recorded by the backend."""

    outbox_seq: int


@dataclass(frozen=True)
class OfflineStart:
    """The console starts with no backend: why, and (``hitl console --bundle``) the bundle."""

    reason: str
    bundle: Path | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the console last saw: who you are, the queue, and when it was taken."""

    me: SupervisorMe
    page: QueuePage
    taken_at: datetime


class LocalFiles:
    """The cache and the outbox, opened and used only in one thread of their own.

    Saves are queued to that thread (:meth:`later`) and never awaited by the caller; reads
    and the outbox's writes are awaited (:meth:`call`). One thread keeps them in order: a
    decision saved after a claim sees the claim.
    """

    def __init__(self, cache_path: Path, outbox_path: Path) -> None:
        self.cache_path = cache_path
        self.outbox_path = outbox_path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hitl-local")
        self._cache: Cache | None = None
        self._outbox: Outbox | None = None
        self._closed = False
        #: Why the cache could not be written (the console goes on without it).
        self.problem: str | None = None

    @classmethod
    def for_backend(cls, url: str) -> LocalFiles:
        """The cache (user cache dir) and outbox (user data dir) for the backend at ``url``."""
        return cls(default_cache_path(url), default_outbox_path(url))

    @classmethod
    def for_bundle(cls, path: Path) -> LocalFiles:
        """A bundle holds both in one file."""
        return cls(path, path)

    @property
    def cache(self) -> Cache:
        """Only from inside :meth:`call` or :meth:`later`."""
        if self._cache is None:
            self._cache = Cache(self.cache_path)
        return self._cache

    @property
    def outbox(self) -> Outbox:
        """Only from inside :meth:`call` or :meth:`later`."""
        if self._outbox is None:
            self._outbox = Outbox(self.outbox_path)
        return self._outbox

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the files' thread and wait for its result."""
        return await asyncio.wrap_future(self._executor.submit(fn))

    def later(self, fn: Callable[[], object]) -> Future[None]:
        """Run ``fn`` in the files' thread; a failure is kept in :attr:`problem`."""

        def guarded() -> None:
            try:
                fn()
            except Exception as exc:  # LocalStoreError, sqlite3.Error...: the console goes on
                self.problem = f"the local cache is not saved: {exc}"

        return self._executor.submit(guarded)

    def close(self) -> None:
        """Wait for queued saves, then close the files (blocking)."""

        def close_all() -> None:
            for db in (self._cache, self._outbox):
                if db is not None:
                    db.close()

        if self._closed:
            return
        self._closed = True
        self._executor.submit(close_all)
        self._executor.shutdown(wait=True)


def _payload(envelope: Envelope) -> DecisionPayload:
    return DecisionPayload.model_validate_json(base64.b64decode(envelope.payload))


class OfflineClient(HitlClient):
    """A :class:`HitlClient` that keeps what it reads and saves what it cannot send."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        local: LocalFiles,
        bundle: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        super().__init__(base_url, token, transport=transport, timeout=timeout)
        self.local = local
        #: No backend at all: every request fails at once (air-gapped bundle review).
        self.bundle = bundle
        #: Whether the last request got an answer.
        self.reachable = not bundle
        #: When the queue shown was fetched (``None``: never).
        self.queue_taken_at: datetime | None = None
        self._me: SupervisorMe | None = None
        #: The console's clock (tests freeze it): stamps what is kept.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # -- plumbing: every request says whether the backend answered ----------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self.bundle:
            raise BackendUnreachable("no backend: reviewing a bundle")
        try:
            response = await super()._request(method, url, **kwargs)
        except BackendUnreachable:
            self.reachable = False
            raise
        except ApiError:
            self.reachable = True
            raise
        self.reachable = True
        return response

    # -- reads, kept --------------------------------------------------------------------

    async def start(self, *, page_size: int = 50) -> tuple[SupervisorMe, QueuePage]:
        if self.bundle:
            raise BackendUnreachable("no backend: reviewing a bundle")
        try:
            me, page = await super().start(page_size=page_size)
        except BackendUnreachable:
            self.reachable = False
            raise
        self.reachable = True
        self._kept_me(me)
        self._kept_page(page, first=True)
        return me, page

    async def me(self) -> SupervisorMe:
        me = await super().me()
        self._kept_me(me)
        return me

    async def queue(self, *, cursor: str | None = None, **kwargs: Any) -> QueuePage:
        page = await super().queue(cursor=cursor, **kwargs)
        if not kwargs.get("ids"):  # a live re-read of a few cases is not the queue
            self._kept_page(page, first=cursor is None)
        return page

    async def case(self, case_id: int) -> CasePublic:
        case = await super().case(case_id)
        at = self.clock()
        self.local.later(lambda: self.local.cache.save_case(case, fetched_at=at))
        return case

    def remember_me(self, me: SupervisorMe) -> None:
        """Who is signed in (kept too, for a start with no backend)."""
        self._kept_me(me)

    def _kept_me(self, me: SupervisorMe) -> None:
        self._me = me
        self.local.later(lambda: self.local.cache.save_me(me))

    def _kept_page(self, page: QueuePage, *, first: bool) -> None:
        taken = self.clock()
        if first:
            self.queue_taken_at = taken
        items = list(page.items)
        self.local.later(
            lambda: self.local.cache.save_queue(items, taken_at=taken, append=not first)
        )

    async def snapshot(self) -> Snapshot | None:
        """The kept copy of who you are and the queue (less the cases decided here and
        not yet sent), or ``None`` if there is none."""

        def load() -> Snapshot | None:
            me = self.local.cache.load_me()
            queue = self.local.cache.load_queue()
            if me is None or queue is None:
                return None
            waiting = {e.case_id for e in self.local.outbox.pending()}
            items = [item for item in queue[0] if item.id not in waiting]
            return Snapshot(me, QueuePage(items=items, next_cursor=None), queue[1])

        snapshot = await self.local.call(load)
        if snapshot is not None:
            self._me = snapshot.me
            self.queue_taken_at = snapshot.taken_at
        return snapshot

    async def kept_case(self, case_id: int) -> tuple[CasePublic, datetime] | None:
        """The copy of ``case_id`` kept here, and when it was fetched."""
        return await self.local.call(lambda: self.local.cache.load_case(case_id))

    # -- claims and decisions ------------------------------------------------------------

    async def claim(self, case_id: int) -> ClaimPublic:
        if self.reachable:
            try:
                claim = await super().claim(case_id)
            except BackendUnreachable:
                pass
            else:
                at = self.clock()
                self.local.later(lambda: self.local.cache.save_claim(claim, at=at))
                return claim
        return await self._kept_claim(case_id)

    async def _kept_claim(self, case_id: int) -> ClaimPublic:
        """The claim to decide ``case_id`` under with no backend, or why there is none."""

        def load() -> tuple[tuple[CasePublic, datetime] | None, bool]:
            waiting = self.local.outbox.pending_for(case_id) is not None
            return self.local.cache.load_case(case_id), waiting

        kept, waiting = await self.local.call(load)
        where = "this bundle" if self.bundle else "the backend is away and"
        if waiting:
            raise NotDecidableOffline(
                f"a decision on case #{case_id} is already saved here; it is sent first"
            )
        if kept is None:
            raise NotDecidableOffline(f"{where} case #{case_id} was never loaded here")
        case, fetched_at = kept
        me = self._me
        claim = case.claim
        mine = claim is not None and me is not None and claim.supervisor_id == me.id
        if self.bundle:
            if claim is not None and not mine:
                raise NotDecidableOffline(
                    f"case #{case_id} is claimed by {claim.supervisor} in this bundle"
                )
            # Signed under the case's fencing token as pulled: refused on push if the case
            # was claimed since (the backend's usual rule).
            return KeptClaim(
                case_id=case_id,
                supervisor_id=me.id if me else 0,
                supervisor=me.name if me else "",
                token=case.claim_token,
                expires_at=claim.expires_at if claim else fetched_at,
            )
        if claim is None or not mine:
            raise NotDecidableOffline(
                f"the backend is away and case #{case_id} was not claimed by you when it was "
                "last loaded: only cases you hold can be decided offline"
            )
        if claim.expires_at <= fetched_at:
            raise NotDecidableOffline(
                f"the backend is away and your claim on case #{case_id} had expired when it "
                "was last loaded"
            )
        return KeptClaim.model_validate(claim.model_dump())

    async def decide(self, case_id: int, envelope: Envelope) -> DecisionPublic:
        """Record the decision; with no backend, save it in the outbox and say so
        (:class:`SavedDecision`). Once saved it is only ever sent from the outbox."""
        if self.reachable:
            waiting = await self.local.call(lambda: self.local.outbox.pending_for(case_id))
            if waiting is None:
                try:
                    return await super().decide(case_id, envelope)
                except BackendUnreachable:
                    pass  # (if it got through after all, the resend is recognised as sent)
        payload = _payload(envelope)
        seq = await self.local.call(
            lambda: self.local.outbox.add(
                case_id=case_id,
                decision_id=payload.decision_id,
                action=payload.action,
                envelope=envelope,
            )
        )
        me = self._me
        return SavedDecision(
            decision_id=payload.decision_id,
            case_id=case_id,
            action=payload.action,
            alternative_index=payload.alternative_index,
            rationale=payload.rationale,
            resolved_action=None,
            supervisor_id=payload.supervisor_id,
            supervisor=me.name if me else "",
            key_id=payload.key_id,
            decided_at=payload.signed_at,
            envelope=envelope,
            outbox_seq=seq,
        )

    async def pending(self) -> int:
        """How many saved decisions wait to be sent."""
        return await self.local.call(lambda: self.local.outbox.counts()["pending"])

    async def sync(self) -> SyncReport:
        """Send the outbox in order (see :func:`console.sync.sync_outbox`)."""
        outbox = await self.local.call(lambda: self.local.outbox)
        return await sync_outbox(outbox, self, run=self.local.call)
