"""The Redis backend: the rooms' state in Redis, shared by every process and node.

Writes run as Lua scripts, one atomic step each (see ``lua/``); they take "now" from this
backend's clock as an argument, which is Redis's clock in production (:mod:`.clock`: never the
node's own wall clock, which may be wrong) and a virtual clock in tests and replays. Status
polls are answered from the per-process cache (:mod:`.cache`), with heartbeats flushed in
batches. Slots and bookings are in :mod:`.inventory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pyqueue._core import (
    AuditEntry,
    Booking,
    Draw,
    EntryReplayed,
    EntryRequired,
    EntryVerifier,
    GroupAvailability,
    Hold,
    IdentityRequired,
    InvalidConfig,
    PassInfo,
    RoomConfig,
    RoomInfo,
    SessionEnded,
    Signer,
    SlotInfo,
    Status,
    Ticket,
    TickReport,
    TokenInfo,
    UnknownTicket,
    VirtualClock,
    cached_status_poll,
    check_audit,
    check_identity,
    identity_pseudonym,
    new_identity_key,
    room_state,
)
from pyqueue.backends import (
    RETENTION_CHECK_SECONDS,
    BackendUnavailable,
    ClockStatus,
    PassChecker,
    UnknownRoom,
    entry_verifier,
)
from pyqueue.backends.redis_backend import personal
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.batch import JoinBatcher
from pyqueue.backends.redis_backend.cache import RoomCache, TicketRecord, pairs
from pyqueue.backends.redis_backend.clock import SYNC_SECONDS, RedisTime
from pyqueue.backends.redis_backend.connection import (
    Connection,
    RedisOptions,
    ReplicasBehind,
    connect,
)
from pyqueue.backends.redis_backend.draw import draw_prequeue, read_draw
from pyqueue.backends.redis_backend.inventory import Inventory
from pyqueue.backends.redis_backend.keys import ROOMS_KEY, RoomKeys, entry_jti_key
from pyqueue.backends.redis_backend.records import initial_meta
from pyqueue.backends.redis_backend.replicas import ReplicaCount
from pyqueue.backends.redis_backend.scripts import NeedsDraw
from pyqueue.backends.redis_backend.status import build_status, sign_ticket
from pyqueue.backends.saved_ranges import warn_if_outside_ranges
from pyqueue.background import BackgroundTasks, Periodic
from pyqueue.config import Settings

MICROS: Final = rec.MICROS
#: How often the counters of a room are re-read at most (one pipelined read per room).
REFRESH_SECONDS: Final = 0.15
#: How long status polls are served from the cache while Redis cannot be reached.
STALE_LIMIT_SECONDS: Final = 30.0
#: How long the list of rooms is kept (a room created on another node appears after this).
ROOM_IDS_SECONDS: Final = 1.0
#: How often each process writes the heartbeats it saw.
HEARTBEAT_FLUSH_SECONDS: Final = 1.0
#: What the status poll's fast path answers when the general path must answer.
_GENERAL_PATH: Final = (None, 0, None)


#: The speed a poll passes where its estimate does not use it (not waiting).
class RedisBackend:
    """Rooms in Redis. Implements :class:`pyqueue.backends.Backend`."""

    kind: Final = "redis"

    def __init__(
        self,
        url: str,
        signer: Signer,
        clock: VirtualClock | None = None,
        *,
        cluster: bool = False,
        refresh_seconds: float = REFRESH_SECONDS,
        configured: Iterable[tuple[RoomConfig, list[Mapping[str, Any]]]] = (),
        options: RedisOptions | None = None,
        entry: EntryVerifier | None = None,
    ) -> None:
        self._url = url
        self._entry = entry
        self._cluster = cluster
        self._options = options or RedisOptions()
        self._signer = signer
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._configured = list(configured)
        self._conn: Connection | None = None
        self._replicas: ReplicaCount | None = None
        self._configs: dict[str, RoomConfig] = {}
        # Per room, its identity key ("" for a room created before identities were hashed).
        self._identity_keys: dict[str, str] = {}
        #: Rooms whose saved settings were found outside today's ranges (warned once each).
        self._outside_ranges: set[str] = set()
        self._caches: dict[str, RoomCache] = {}
        self._phase: dict[str, tuple[RoomConfig, int, int | None]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._background = BackgroundTasks()
        self._time = RedisTime(lambda *command: self.conn.call(*command))
        self._room_ids: tuple[float, list[str]] = (-math.inf, [])
        self.slots = Inventory(self)
        self._joins = JoinBatcher(lambda room, args: self.run("join", room, *args))

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: VirtualClock | None = None, cluster: bool = False
    ) -> RedisBackend:
        return cls(
            settings.server.backend,
            settings.server.signer(),
            clock,
            cluster=cluster,
            configured=[(r.config, list(r.slots)) for r in settings.rooms],
            options=RedisOptions.from_settings(settings.server),
            entry=settings.server.entry_verifier(),
        )

    # ----- plumbing ---------------------------------------------------------------------------

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise BackendUnavailable("the backend is not started")
        return self._conn

    @property
    def url(self) -> str:
        return self._url

    @property
    def refresh_seconds(self) -> float:
        """How old the cached counters and slot counts may be."""
        return self._refresh_seconds

    @property
    def signer(self) -> Signer:
        return self._signer

    def micros(self) -> int:
        return round(self.now() * MICROS)

    def token_now(self) -> int:
        return int(self.now())

    async def run(
        self, name: str, room: str, *args: str | int | float, replicated: bool = False
    ) -> Any:
        """A room script at this backend's time; draws the pre-queue first when it is due.
        ``replicated``: answered only once the replicas have it (see :mod:`.replicas`)."""
        keys = RoomKeys(room)
        for _ in range(100):
            try:
                if replicated:
                    result = await self._run_replicated(name, keys.meta, args)
                else:
                    result = await self.conn.run(name, keys.meta, [self.micros(), *args])
            except NeedsDraw:
                await self._draw(room)
                continue
            if name not in ("join", "tick"):  # those two bring their changes to the cache
                self.cache(room).stale = True
                self.slots.forget_counts(room)
            return result
        raise BackendUnavailable("the pre-queue draw did not complete")

    async def _run_replicated(
        self, name: str, meta: str, args: tuple[str | int | float, ...]
    ) -> Any:
        assert self._replicas is not None
        replicas = await self._replicas.needed()
        try:
            return await self.conn.run_replicated(name, meta, [self.micros(), *args], replicas)
        except ReplicasBehind:
            self._replicas.forget()
            raise

    async def config(self, room: str) -> RoomConfig:
        config = self._configs.get(room)
        if config is None:
            raw = await self.conn.call("GET", RoomKeys(room).config)
            if raw is None:
                raise UnknownRoom(f"no room {room!r}")
            config = rec.config_from_json(raw)
            self._configs[room] = config
            if room not in self._outside_ranges and warn_if_outside_ranges(config):
                self._outside_ranges.add(room)
        return config

    def cache(self, room: str) -> RoomCache:
        cache = self._caches.get(room)
        if cache is None:
            cache = self._caches[room] = RoomCache()
        return cache

    # ----- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._conn = connect(self._url, self._options, self._cluster)
        self._replicas = ReplicaCount(self._conn, self._options.wait_replicas)
        if self._clock is None:
            await self._time.sync()  # before anything is written at the rooms' time
        for config, slots in self._configured:
            if await self._create(config) and slots:
                await self.slots.add(config.id, slots, "config")
        background = self._background
        background.start("redis-heartbeats", self._flush_heartbeats, HEARTBEAT_FLUSH_SECONDS)
        if self._clock is None:
            background.start("redis-clock", self._time.sync, SYNC_SECONDS)
        background.start("retention", self._forget_due, RETENTION_CHECK_SECONDS)

    async def close(self) -> None:
        await self._background.stop()
        if self._conn is not None:
            with contextlib.suppress(BackendUnavailable):
                await self._flush_heartbeats()
            await self._conn.close()

    async def ready(self) -> bool:
        try:
            return bool(await self.conn.call("PING"))
        except BackendUnavailable:
            return False

    def now(self) -> float:
        return self._time.now() if self._clock is None else self._clock.timestamp()

    def clock_status(self) -> ClockStatus:
        return ClockStatus("virtual") if self._clock is not None else self._time.status()

    def tasks(self) -> Iterable[Periodic]:
        return self._background

    async def _create(self, config: RoomConfig) -> bool:
        keys = RoomKeys(config.id)
        meta = initial_meta(config, self.micros())
        args = [rec.config_to_json(config), new_identity_key()]
        for name, value in meta.items():
            args += [name, value]
        created = bool(await self.conn.run("create", keys.meta, [self.micros(), *args]))
        await self.conn.call("SADD", ROOMS_KEY, config.id)
        return created

    # ----- rooms ------------------------------------------------------------------------------

    async def room_ids(self) -> list[str]:
        # The ticker asks ten times a second; rooms are created rarely.
        read_at, ids = self._room_ids
        if time.monotonic() - read_at < ROOM_IDS_SECONDS:
            return list(ids)
        members = await self.conn.call("SMEMBERS", ROOMS_KEY)
        ids = sorted(m.decode() for m in members)
        self._room_ids = (time.monotonic(), ids)
        return list(ids)

    async def room_config(self, room: str) -> RoomConfig:
        # Re-read: another node may have changed the settings.
        self._configs.pop(room, None)
        return await self.config(room)

    async def create_room(self, config: RoomConfig, actor: str) -> None:
        check_audit(actor)  # as the memory backend's rooms check every actor
        if not await self._create(config):
            raise InvalidConfig(f"room {config.id!r} exists already")
        self._room_ids = (-math.inf, [])
        self._configs[config.id] = config

    async def update_room(self, config: RoomConfig, actor: str) -> None:
        check_audit(actor)
        old = await self.room_config(config.id)
        cache = await self.fresh(config.id)
        old.check_change(
            config,
            opened=cache.flag("drawn"),
            closed=cache.flag("closed"),
            now=rec.from_micros(self.micros()),
        )
        pairs: list[str] = []
        for name, value in rec.config_meta(config).items():
            pairs += [name, value]
        await self.run("control", config.id, "config", actor, rec.config_to_json(config), *pairs)
        self._configs[config.id] = config

    async def room_info(self, room: str) -> RoomInfo:
        config = await self.config(room)
        cache = await self._in_phase(room, config, self.micros())
        now = self.now()
        opens = config.opens_at.timestamp()
        availability = await self.slots.availability(room)
        state = room_state(
            closed=cache.flag("closed"),
            opened=now >= opens,
            paused=cache.flag("paused"),
            availability=availability,
        )
        return RoomInfo(
            state=state,
            opens_in_seconds=max(0.0, opens - now),
            waiting=cache.waiting(),
            active=cache.count("active"),
            admit_per_minute=config.admit_per_minute,
            next_release_window=self.slots.next_window(room, config),
            measured_per_minute=(cache.line().measured_per_second or config.admit_per_minute / 60.0)
            * 60.0,
            queue_all=cache.flag("queue_all"),
            counters={name: cache.count(f"c_{name}") for name in rec.COUNTERS},
            availability=availability,
        )

    async def draw(self, room: str) -> Draw | None:
        return await read_draw(self, room)

    async def _draw(self, room: str) -> None:
        await draw_prequeue(self, room)

    async def tick(self, room: str) -> TickReport:
        config = await self.config(room)
        cache = self.cache(room)
        due = self.slots.due_window(room, config)
        start = cache.changes_read
        seen, cache.seen = cache.seen, {}
        try:
            reply = await self.run("tick", room, due, start, *mapping_args(seen))
        except BaseException:
            cache.seen = {**seen, **cache.seen}  # kept for the next tick or flush
            raise
        admitted, abandoned, expired, swept, released, offers, snap = reply
        self._apply(cache, snap, start)
        if swept or released or offers:
            self.slots.forget_counts(room)
        return TickReport(
            admitted=admitted,
            abandoned=abandoned,
            expired=expired,
            released=released,
            holds_expired=swept,
            offers_made=offers,
        )

    async def pause(self, room: str, actor: str) -> None:
        check_audit(actor)
        await self.run("control", room, "pause", actor)

    async def resume(self, room: str, actor: str) -> None:
        check_audit(actor)
        await self.run("control", room, "resume", actor)

    async def queue_all(self, room: str, on: bool, actor: str) -> None:
        check_audit(actor)
        await self.run("control", room, "queue_all_on" if on else "queue_all_off", actor)

    async def forget_personal_data(self, room: str, actor: str) -> dict[str, int]:
        return await personal.forget_now(self, room, actor)

    async def _forget_due(self) -> None:
        await personal.forget_due(self)

    async def audit_log(self, room: str) -> list[AuditEntry]:
        await self.config(room)
        entries = await self.conn.call("LRANGE", RoomKeys(room).audit, 0, -1)
        result = []
        for raw in entries:
            entry = json.loads(raw)
            result.append(
                AuditEntry(
                    at=rec.from_micros(int(entry["at"])),
                    action=entry["action"],
                    actor=entry["actor"],
                    count=int(entry["count"]),
                    reason=entry.get("reason"),
                )
            )
        return result

    # ----- the per-process cache --------------------------------------------------------------

    async def fresh(self, room: str) -> RoomCache:
        """The room's cache, re-read when due. While Redis is unreachable an older snapshot
        serves for up to :data:`STALE_LIMIT_SECONDS`; after that the error goes through."""
        cache = self.cache(room)
        if not cache.due(self._refresh_seconds):
            return cache
        task = self._refreshing.get(room)
        if task is None:
            # One read in flight per room, however many polls wait for it.
            task = asyncio.ensure_future(self._refresh(room, cache))
            self._refreshing[room] = task
            task.add_done_callback(lambda _: self._refreshing.pop(room, None))
        try:
            await asyncio.shield(task)
        except BackendUnavailable:
            if cache.meta and cache.age() < STALE_LIMIT_SECONDS:
                return cache
            raise
        return cache

    async def _refresh(self, room: str, cache: RoomCache) -> None:
        start = cache.changes_read
        # One script reads it all, the meta hash as one string (see snapshot in slotlib.lua).
        snap = await self.conn.run("snapshot", RoomKeys(room).meta, [self.micros(), start])
        self._apply(cache, snap, start)

    def _apply(self, cache: RoomCache, snap: list[Any], start: int) -> None:
        """Takes in a snapshot (see ``snapshot`` in slotlib.lua): a refresh's or a tick's."""
        packed_meta, changes, prequeue, offers = snap
        cache.apply(unpack_meta(packed_meta), changes, start, int(prequeue), pairs(offers))

    async def _flush_heartbeats(self, only: str | None = None) -> None:
        for room, cache in list(self._caches.items()):
            if (only is not None and room != only) or not cache.seen:
                continue
            seen, cache.seen = cache.seen, {}
            try:
                await self.conn.call("HSET", RoomKeys(room).seen, *mapping_args(seen))
            except BackendUnavailable:
                # Kept for the next flush; newer heartbeats of the same tickets win.
                cache.seen = {**seen, **cache.seen}
                raise

    # ----- visitors ---------------------------------------------------------------------------

    def verify(self, room: str, token: str, kind: str | None) -> int:
        return self.verify_info(room, token, kind).ticket

    def verify_info(self, room: str, token: str, kind: str | None) -> TokenInfo:
        return self._signer.verify(token, room=room, kind=kind, now=self.token_now())

    async def accept_entry(self, room: str, entry: str) -> str:
        """Checks an entry token and uses up its ``jti`` for every process on this Redis (a
        ``SET NX`` that lives until the token expires); returns its ``sub``."""
        now = self.token_now()
        claims = entry_verifier(self._entry).verify(entry, room, now)
        ttl_ms = max(1, (claims.expires_at - now) * 1000)
        first = await self.conn.call("SET", entry_jti_key(claims.jti), room, "NX", "PX", ttl_ms)
        if first is None:
            error = EntryReplayed("the entry token (its jti) was used already")
            error.code = "entry_replayed"
            raise error
        return claims.sub

    async def join(
        self,
        room: str,
        identity: str | None,
        resume: str | None,
        entry: str | None = None,
        label: str | None = None,
    ) -> Ticket:
        config = await self.config(room)
        resumed_info = None if resume is None else self.verify_info(room, resume, "ticket")
        resumed = "" if resumed_info is None else str(resumed_info.ticket)
        if entry is not None:
            identity = await self.accept_entry(room, entry)
        for text in (identity, label):
            if text is not None:
                check_identity(text)  # the core's rule, as the memory backend's join applies it
        if identity is None and label is None and config.identity == "required":
            error = IdentityRequired("this room requires an identity")
            error.code = "identity_required"
            raise error
        if identity is None and resumed_info is None and config.identity == "entry":
            refused = EntryRequired("this room admits joins only with an entry token")
            refused.code = "entry_required"
            raise refused
        stored = "" if identity is None else await self._stored_identity(room, identity)
        reply = await self._joins.join(room, stored, label or "", resumed)
        if reply[0] == b"!unknown_ticket":
            unknown = UnknownTicket("no such ticket in this room")
            unknown.code = "unknown_ticket"
            raise unknown
        ticket, record = TicketRecord.from_reply(reply)
        cache = self.cache(room)
        cache.tickets[ticket] = record
        if record.state == "admitted":
            cache.stale = True  # the cursor moved past this ticket
        # As in the core: an entry room's ticket carries its vouched identity.
        if config.identity != "entry":
            sub = None
        elif identity is not None:
            sub = identity
        else:
            sub = None if resumed_info is None else resumed_info.sub
        return Ticket(
            id=ticket,
            token=sign_ticket(self._signer, room, ticket, record.joined, sub),
            state=record.state,
            new=reply[7] == b"1",
        )

    async def _stored_identity(self, room: str, identity: str) -> str:
        """What the room's identity index keeps of ``identity``: its pseudonym under the room's
        key, read once per process; a room created before identities were hashed has no key
        and keeps the value as given (see :mod:`pyqueue._core` ``identity_pseudonym``)."""
        key = self._identity_keys.get(room)
        if key is None:
            raw = await self.conn.call("GET", RoomKeys(room).identity_key)
            key = self._identity_keys[room] = "" if raw is None else raw.decode()
        return identity_pseudonym(key, identity) if key else identity

    async def use_challenge(self, room: str, challenge: str, until: float) -> bool:
        await self.config(room)  # an unknown room is refused as everywhere
        # SET NX is the one atomic step: of any number of processes spending the same solution
        # at once exactly one sees OK. The key lives until the challenge expires by this
        # backend's clock (Redis's, anchored), after which the core refuses the solution itself.
        ttl_ms = max(1, int((until - self.now()) * 1000) + 1)
        done = await self.conn.call(
            "SET", RoomKeys(room).used_challenge(challenge), "1", "NX", "PX", ttl_ms
        )
        return done is not None

    async def status(self, room: str, ticket: str) -> Status:
        config = await self.config(room)
        info = self.verify_info(room, ticket, "ticket")
        t = info.ticket
        now = self.micros()
        cache = await self._in_phase(room, config, now)
        opens, _ = self._phase_times(room, config)
        record = cache.record(t)
        if record is None:
            record = await self._fetch(room, cache, t)
        if record.state == "admitted" and now >= record.expires:
            record = await self._expire(room, cache, t)
        cache.seen[t] = now
        return build_status(self._signer, room, config, cache, t, record, now, opens, info.sub)

    def status_poll(
        self, room: str, ticket: str, cap_ms: int, random: float
    ) -> tuple[bytes | None, int, Status | None]:
        """The status poll's fast path: a ticket without pass or offer whose record and room
        counters this process holds fresh is answered in one native call from them
        (``pyqueue._core.cached_status_poll``, the renderer of the memory backend's poll), with
        no Redis command. A pass whose record is fresh here comes back as the status
        ``(None, 0, status)``, for the server's general renderer, so the token is verified once.
        Anything that needs Redis (a refresh, an unknown record, the opening or closing due, a
        session run out) answers ``(None, 0, None)``: the server then takes the general path,
        :meth:`status`. Synchronous on purpose: the hot path saves a coroutine."""
        config = self._configs.get(room)
        cache = self._caches.get(room)
        if config is None or cache is None or cache.due(self._refresh_seconds):
            return _GENERAL_PATH
        seconds = self.now()
        # Positional: PyO3 parses keywords several times slower.
        info = self._signer.verify(ticket, room, "ticket", int(seconds))
        t = info.ticket
        now = round(seconds * MICROS)
        opens, closes = self._phase_times(room, config)
        meta = cache.meta
        if meta.get("closed") != 1.0 and (
            (now >= opens and meta.get("drawn") != 1.0) or (closes is not None and now >= closes)
        ):
            return _GENERAL_PATH  # the phase script runs first, as in :meth:`status`
        record = cache.record(t)
        if record is None or t in cache.offers:
            return _GENERAL_PATH
        state = record.state
        cache.seen[t] = now
        opens_in = max(0, opens - now) / MICROS
        if state == "waiting":
            position = record.position
            body, poll_ms = cached_status_poll(
                room, t, state, cache.ahead(position), record.ahead_at_start,
                max(0, position + 1 - int(meta.get("cursor", 0.0))), cache.line(),
                opens_in, 0, cap_ms, random,
            )  # fmt: skip
            return body, poll_ms, None
        if state == "admitted":
            if now >= record.expires:
                return _GENERAL_PATH  # the session ran out: :meth:`status` ends it
            # The pass, with the identity the token vouched for, as :meth:`status` builds it.
            status = build_status(
                self._signer, room, config, cache, t, record, now, opens, info.sub
            )
            return None, 0, status
        body, poll_ms = cached_status_poll(
            room, t, state, None, None, 0, cache.line(), opens_in, cache.prequeue_waiting(),
            cap_ms, random,
        )  # fmt: skip
        return body, poll_ms, None

    async def _in_phase(self, room: str, config: RoomConfig, now: int) -> RoomCache:
        """The room's cache, after opening or closing the room if its time has come, as every
        entry point of the core does first."""
        cache = await self.fresh(room)
        opens, closes = self._phase_times(room, config)
        due_draw = now >= opens and not cache.flag("drawn")
        due_close = closes is not None and now >= closes
        if not cache.flag("closed") and (due_draw or due_close):
            await self.run("phase", room)
            cache = await self.fresh(room)
        return cache

    def _phase_times(self, room: str, config: RoomConfig) -> tuple[int, int | None]:
        """The room's opening and closing (micros), kept while its settings stay the same."""
        known = self._phase.get(room)
        if known is not None and known[0] is config:
            return known[1], known[2]
        opens = round(config.opens_at.timestamp() * MICROS)
        closes = config.closes_at
        closing = None if closes is None else round(closes.timestamp() * MICROS)
        self._phase[room] = (config, opens, closing)
        return opens, closing

    async def _fetch(self, room: str, cache: RoomCache, ticket: int) -> TicketRecord:
        raw = await self.conn.call("HGET", RoomKeys(room).tickets, ticket)
        if raw is None:
            error = UnknownTicket("no such ticket in this room")
            error.code = "unknown_ticket"
            raise error
        record = TicketRecord.from_packed(raw)
        cache.tickets[ticket] = record
        return record

    async def _expire(self, room: str, cache: RoomCache, ticket: int) -> TicketRecord:
        """Ends the admitted session of ``ticket`` whose pass ran out, as the core's status does:
        its capacity is free at once, not only from the next tick."""
        reply = await self.run("expire", room, ticket)
        _, record = TicketRecord.from_reply(reply)
        cache.tickets[ticket] = record
        cache.stale = True  # the room's active count changed
        return record

    async def leave(self, room: str, token: str) -> str:
        await self.config(room)
        info = self.verify_info(room, token, None)
        t = info.ticket
        before: bytes = await self.run("leave", room, t)
        self.cache(room).tickets.pop(t, None)
        if info.kind == "pass" and before == b"admitted":
            # Refused here at once; other processes learn it from the change feed.
            self.cache(room).note_ended(t, info.issued_at)
        await self.slots.drop_offer(room, t)
        return before.decode()

    async def complete(self, room: str, pass_token: str) -> None:
        await self.config(room)
        info = self.verify_info(room, pass_token, "pass")
        # The script knows the ticket, not the admission a pass was issued for: a pass of a
        # session that ended (left) must not end the ticket's later session.
        refuse_if_ended(await self.fresh(room), info)
        t = info.ticket
        await self.run("complete", room, t)
        self.cache(room).tickets.pop(t, None)
        # Refused here at once; other processes learn it from the change feed.
        self.cache(room).note_ended(t, info.issued_at)

    async def verify_pass(self, room: str, pass_token: str) -> PassInfo:
        await self.config(room)
        info = self._signer.verify(pass_token, room=room, kind="pass", now=self.token_now())
        refuse_if_ended(await self.fresh(room), info)
        return PassInfo(
            room=info.room,
            ticket=info.ticket,
            issued_at=rec.from_micros(info.issued_at * MICROS),
            expires_at=rec.from_micros(info.expires_at * MICROS),
            sub=info.sub,
        )

    def pass_checker(self) -> PassChecker:
        verify = self._signer.verify
        caches = self._caches

        def check(room: str, token: str, now: int | None) -> int:
            info = verify(token, room, "pass", self.token_now() if now is None else now)
            cache = caches.get(room)
            if cache is not None:
                # The cache follows the room's change feed with every tick of this process.
                refuse_if_ended(cache, info)
            return info.ticket

        return check

    # ----- slots and bookings: see inventory.py -----------------------------------------------

    async def add_slots(self, room: str, slots: Iterable[Mapping[str, Any]], actor: str) -> int:
        return await self.slots.add(room, list(slots), actor)

    async def availability(self, room: str) -> list[GroupAvailability]:
        return await self.slots.availability(room)

    async def free_slots(
        self, room: str, group: str | None, offset: int, limit: int
    ) -> list[SlotInfo]:
        return await self.slots.free(room, group, offset, limit)

    async def hold(self, room: str, slot: str, pass_token: str) -> Hold:
        return await self.slots.hold(room, slot, pass_token)

    async def confirm(self, room: str, slot: str, token: str) -> Booking:
        return await self.slots.confirm(room, slot, token)

    async def release_hold(self, room: str, slot: str, token: str) -> None:
        await self.slots.release_hold(room, slot, token)

    async def decline_offer(self, room: str, token: str) -> None:
        await self.slots.decline_offer(room, token)

    async def booking(self, room: str, code: str) -> Booking:
        return await self.slots.booking(room, code)

    async def cancel(self, room: str, code: str) -> tuple[Booking, bool]:
        return await self.slots.cancel(room, code)

    async def release(self, room: str, override: bool, reason: str | None, actor: str) -> int:
        return await self.slots.release(room, override, reason, actor)


def refuse_if_ended(cache: RoomCache, info: TokenInfo) -> None:
    """Raises ``SessionEnded`` for a pass whose session the change feed says is over."""
    if cache.session_ended(info.ticket, info.issued_at):
        error = SessionEnded("the pass's session has ended (left, completed or expired)")
        error.code = "session_ended"
        raise error


def unpack_meta(packed: bytes) -> dict[bytes, bytes]:
    """The meta hash as a snapshot packs it: ``field\nvalue\n…`` (no value has a newline)."""
    if not packed:
        return {}
    return pairs(packed.split(b"\n"))


def mapping_args(seen: dict[int, int]) -> list[int]:
    """HSET's field/value arguments, flattened."""
    flat: list[int] = []
    for ticket, micros in seen.items():
        flat += [ticket, micros]
    return flat
