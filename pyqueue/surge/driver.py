"""The load driver: thousands of simulated browsers against the real server, on virtual time.

The server runs with a stopped virtual clock; the driver owns time. It moves the clock one
second at a time (``POST /v1/admin/clock``, which also ticks the room) and, per step, sends
what the visitors due in that second would send. One second is the step because a tick banks
at most one second of admissions: larger steps would slow the queue down. Only while nobody
waits in the queue does it step over the idle seconds to the next thing due. The real-time cost
of a replay is the HTTP throughput: requests go through a small keep-alive client
(:mod:`pyqueue.surge.http`, 64 in flight) that costs the driver less CPU per request than the
server spends answering, so the server sets the pace.

Visitors behave as the waiting-room page does: join (many before opening), poll exactly when
``poll_after_ms`` says (rounded up to the next step, never earlier), and once admitted list the
free slots, hold one (on ``slot_taken`` take an alternative), think, confirm and end their
session. Some abandon (stop polling), some reload (join again with their cookie), some try a
second device (same identity, which over HTTP is only a label: the device gets a place of its
own, and the person closes it), some give up at the slot list, and with a waiting list some
cancel their booking later, whose slot is offered to a waiting visitor who accepts it. Behind a
slow booking site (``booking_seconds``) each admitted visitor confirms and ends the session only
that long after admission, so ``max_active`` limits the line. The operator's actions of the
scenario (pause, resume, a new rate) go through the admin API at their second.

Every estimate a waiting visitor is shown after opening is kept (:class:`Estimate`):
:mod:`pyqueue.surge.honesty` judges them against the wait that really followed.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from pyqueue.surge.http import HttpPool
from pyqueue.surge.scenario import OperatorAction, Scenario, slots_csv
from pyqueue.surge.servers import ADMIN_TOKEN

#: Virtual seconds between samples of the room's queue length.
SAMPLE_EVERY = 10
ALTERNATIVE_TRIES = 3


class Estimate(NamedTuple):
    """One wait estimate a waiting visitor saw (``eta`` of the status), at virtual epoch
    second ``at``. ``reason`` is what the estimate rests on, where the status says so."""

    at: int
    low: float
    seconds: float
    high: float
    known: bool
    reason: str | None


@dataclass(frozen=True)
class PerformedAction:
    """An operator action the driver sent, at virtual epoch second ``at``, and its answer."""

    at: int
    action: str
    status: int


@dataclass
class Visitor:
    """One person (one identity) and what happened to them, in virtual epoch seconds."""

    index: int
    identity: str
    arrive_at: int
    abandon_at: int | None
    reload_at: int | None
    second_device_at: int | None
    gives_up: bool
    cancels: bool
    token: str | None = None
    ticket_id: int | None = None
    first_state: str | None = None
    #: The second device's own place (ticket id, state at joining): part of the queue's order.
    second_ticket_id: int | None = None
    second_first_state: str | None = None
    #: From admission to confirmation behind a slow booking site (None: think twice).
    booking_seconds: int | None = None
    #: Every estimate shown while waiting after opening, in time order.
    estimates: list[Estimate] = field(default_factory=list)
    admitted_at: float | None = None
    pass_token: str | None = None
    code: str | None = None
    slot: str | None = None
    booked_at: int | None = None
    by_offer: bool = False
    cancelled: bool = False
    outcome: str = "waiting"
    #: Reloads that got another place, and second devices that got this one (see
    #: `_second_device`): both must stay 0.
    place_changes: int = 0


# No generated repr: Python 3.11's asyncio.run formats the main task, result included, when
# it restores the SIGINT handler, and the repr of a whole replay took seconds.
@dataclass(repr=False)
class RunData:
    """Everything a replay observed; :mod:`pyqueue.surge.metrics` turns it into figures."""

    visitors: list[Visitor]
    latencies: dict[str, list[float]]
    #: Visitors' requests by the real second (from the start) they were answered in.
    real_second_latencies: dict[int, list[float]]
    #: Visitors' requests by the virtual second (epoch) they were sent in.
    virtual_second_requests: dict[int, int]
    statuses: dict[str, dict[int, int]]
    timeline: list[dict[str, Any]]
    real_seconds: float
    opens_at: float
    draw: dict[str, Any] | None
    live_codes_by_slot: dict[str, int]
    early_admissions: int
    reloads: int = 0
    second_devices: int = 0
    offers_accepted: int = 0
    slot_taken: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    actions: list[PerformedAction] = field(default_factory=list)
    #: Virtual epoch second from which estimates are judged (the last operator action, else
    #: the opening).
    judged_from: float = 0.0


class Driver:
    def __init__(
        self, scenario: Scenario, base_url: str, seed: int = 1, concurrency: int = 64
    ) -> None:
        self.scenario = scenario
        self.base = base_url
        self.room = scenario.name
        self.random = random.Random(seed)
        self.concurrency = concurrency
        self.opens = int(scenario.opens_at.timestamp())
        self.now = int(scenario.starts_at.timestamp())
        self.session_seconds = int(scenario.room.get("session_seconds", 900))
        self.events: list[tuple[int, int, str, int]] = []
        self.sequence = 0
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.real_second_latencies: dict[int, list[float]] = defaultdict(list)
        self.virtual_second_requests: dict[int, int] = defaultdict(int)
        self.started = time.perf_counter()
        #: False once the crowd is done: the final checks are no visitors' traffic.
        self.replaying = True
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.timeline: list[dict[str, Any]] = []
        self.early = 0
        #: Set once the room is sold out for good: the page says so and people go away.
        self.sold_out = False
        self.waitlist = scenario.room.get("returned_slots") == "waitlist"
        self.counts: dict[str, int] = defaultdict(int)
        self.performed: list[PerformedAction] = []
        self.visitors = self._make_visitors()
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.http: HttpPool | None = None

    # ----- the crowd -------------------------------------------------------------------------

    def _make_visitors(self) -> list[Visitor]:
        crowd = self.scenario.crowd
        rnd = self.random
        first = self.now + 5
        visitors = []
        for k in range(crowd.visitors):
            kind = rnd.random()
            if kind < crowd.prequeue_share:
                arrive = rnd.randint(first, self.opens - 1)
            elif kind < crowd.prequeue_share + crowd.steady_share:
                arrive = self.opens + rnd.randrange(self.scenario.duration_seconds)
            else:
                # After opening, arrivals thin out: most come in the first minutes.
                arrive = self.opens + int(rnd.expovariate(3.0 / crowd.arrival_seconds))
            abandon = (
                arrive + rnd.randint(*crowd.abandon_after_seconds)
                if rnd.random() < crowd.abandon_share
                else None
            )
            reload = arrive + rnd.randint(5, 600) if rnd.random() < crowd.reload_share else None
            second = (
                arrive + rnd.randint(2, 60) if rnd.random() < crowd.second_device_share else None
            )
            visitors.append(
                Visitor(
                    index=k,
                    identity=f"surge-{self.room}-{k:07d}",
                    arrive_at=arrive,
                    abandon_at=abandon,
                    reload_at=reload,
                    second_device_at=second,
                    gives_up=rnd.random() < crowd.give_up_share,
                    cancels=rnd.random() < crowd.cancel_share,
                    # Drawn last and only when set: the other scenarios' crowds stay the same.
                    booking_seconds=(
                        None
                        if crowd.booking_seconds is None
                        else rnd.randint(*crowd.booking_seconds)
                    ),
                )
            )
            self._at(arrive, "join", k)
            if second is not None:
                self._at(second, "join2", k)
        return visitors

    def _at(self, when: float, kind: str, index: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (max(math.ceil(when), self.now), self.sequence, kind, index))

    def _think(self) -> int:
        low, high = self.scenario.crowd.think_seconds
        return self.random.randint(low, high)

    # ----- HTTP ------------------------------------------------------------------------------

    async def call(
        self,
        route: str,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes = b"",
    ) -> tuple[int, Any]:
        assert self.http is not None
        all_headers = dict(headers) if headers else {}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = orjson.dumps(body)
            all_headers["Content-Type"] = "application/json"
        status, raw, seconds = await self.http.request(method, path, all_headers, data)
        self.latencies[route].append(seconds)
        if self.replaying and not route.startswith("admin"):
            answered = int(time.perf_counter() - self.started)
            self.real_second_latencies[answered].append(seconds)
            self.virtual_second_requests[self.now] += 1
        self.statuses[route][status] += 1
        return status, orjson.loads(raw) if raw else {}

    # ----- the loop --------------------------------------------------------------------------

    async def run(self) -> RunData:
        scenario = self.scenario
        end = self.opens + scenario.duration_seconds
        releases = {self.opens + r.after_seconds: k for k, r in enumerate(scenario.releases) if k}
        actions: dict[int, list[OperatorAction]] = defaultdict(list)
        for action in scenario.actions:
            actions[self.opens + action.after_seconds].append(action)
        self.http = HttpPool(self.base, self.concurrency)
        self.started = started = time.perf_counter()
        try:
            while self.now < end:
                if self.now in releases:
                    await self._release(releases.pop(self.now))
                for action in actions.pop(self.now, []):
                    await self._act(action)
                due = []
                while self.events and self.events[0][0] <= self.now:
                    _, _, kind, index = heapq.heappop(self.events)
                    due.append(self._handle(kind, self.visitors[index]))
                await asyncio.gather(*due)
                step = 1
                if self.now % SAMPLE_EVERY == 0 and self.now >= self.opens - 60:
                    waiting = await self._sample(final_release=not releases)
                    if waiting == 0 and self.now >= self.opens:
                        step = self._idle_seconds([*releases, *actions], end)
                if not self.events and not releases and not actions and self.now > self.opens:
                    break
                await self.call(
                    "admin clock",
                    "POST",
                    "/v1/admin/clock",
                    body={"advance_seconds": step},
                    headers=self.admin,
                )
                self.now += step
            await self._sample()
            real = time.perf_counter() - started
            self.replaying = False
            live = await self._live_codes()
            _, stats = await self.call(
                "admin stats", "GET", f"/v1/admin/rooms/{self.room}/stats", headers=self.admin
            )
        finally:
            self.http.close()
        return RunData(
            visitors=self.visitors,
            latencies=dict(self.latencies),
            real_second_latencies=dict(self.real_second_latencies),
            virtual_second_requests=dict(self.virtual_second_requests),
            statuses={k: dict(v) for k, v in self.statuses.items()},
            timeline=self.timeline,
            real_seconds=real,
            opens_at=float(self.opens),
            draw=stats.get("draw"),
            live_codes_by_slot=live,
            early_admissions=self.early,
            reloads=self.counts["reload"],
            second_devices=self.counts["second_device"],
            offers_accepted=self.counts["offer"],
            slot_taken=self.counts["slot_taken"],
            counters=dict(stats.get("counters", {})),
            actions=self.performed,
            judged_from=float(self.opens + scenario.judged_after_seconds),
        )

    async def _release(self, index: int) -> None:
        """An operator loads another batch of slots (the Saarland top-ups)."""
        await self.call(
            "admin slots",
            "POST",
            f"/v1/admin/rooms/{self.room}/slots",
            headers={**self.admin, "Content-Type": "text/csv"},
            data=slots_csv(self.scenario, index).encode(),
        )

    async def _act(self, action: OperatorAction) -> None:
        """The operator pauses, resumes or sets a new rate, by the admin API."""
        path = f"/v1/admin/rooms/{self.room}"
        if action.action == "rate":
            body = {"admit_per_minute": action.admit_per_minute}
            status, _ = await self.call("admin rate", "PATCH", path, body=body, headers=self.admin)
        else:
            status, _ = await self.call(
                f"admin {action.action}", "POST", f"{path}/{action.action}", headers=self.admin
            )
        self.performed.append(PerformedAction(self.now, action.action, status))

    def _idle_seconds(self, due: list[int], end: int) -> int:
        """With nobody in the queue: the seconds until the next visitor's step, release,
        operator action or sample, at least one. A tick then has nobody to admit and the core
        measures no queue speed (it does only while the queue is backed up), so one step over
        them is the same as a step per second, without a clock request per idle second."""
        until = min([self.now + SAMPLE_EVERY, end, *due])
        if self.events:
            until = min(until, self.events[0][0])
        return max(1, until - self.now)

    async def _sample(self, final_release: bool = True) -> int:
        """Records the room's queue on the timeline; returns how many wait in it."""
        _, stats = await self.call(
            "admin stats", "GET", f"/v1/admin/rooms/{self.room}/stats", headers=self.admin
        )
        # With a waiting list, returned slots come to the waiting: they keep waiting.
        if stats.get("state") == "sold_out" and final_release and not self.waitlist:
            self.sold_out = True
        admitted = sum(1 for v in self.visitors if v.admitted_at is not None)
        booked = sum(1 for v in self.visitors if v.code is not None)
        self.timeline.append(
            {
                "t": self.now - self.opens,
                "waiting": stats.get("waiting", 0),
                "active": stats.get("active", 0),
                "admitted": admitted,
                "booked": booked,
            }
        )
        return int(stats.get("waiting", 0))

    async def _live_codes(self) -> dict[str, int]:
        """Every booking code the crowd got, looked up again: live codes per slot."""
        per_slot: dict[str, int] = defaultdict(int)

        async def check(code: str) -> None:
            status, body = await self.call(
                "booking", "GET", f"/v1/rooms/{self.room}/bookings/{code}"
            )
            # A cancelled code answers with its state: only a booked one holds its slot.
            if status == 200 and body["state"] == "booked":
                per_slot[body["slot"]] += 1

        await asyncio.gather(*(check(v.code) for v in self.visitors if v.code))
        return dict(per_slot)

    # ----- one visitor's steps ---------------------------------------------------------------

    async def _handle(self, kind: str, v: Visitor) -> None:
        path = f"/v1/rooms/{self.room}"
        if kind == "join":
            status, body = await self.call(
                "join", "POST", path + "/join", body={"identity": v.identity}
            )
            if status in (200, 201):
                v.token = body["ticket"]
                v.first_state = body["state"]
                self._on_status(v, body)
            else:
                v.outcome = f"join {status}"
        elif kind in ("poll", "reload") and v.outcome == "waiting":
            if kind == "reload":
                # A reload: the page joins again and the browser sends its cookie along.
                self.counts["reload"] += 1
                cookie = {"Cookie": f"pyqueue_ticket_{self.room}={v.token}"}
                status, body = await self.call(
                    "join", "POST", path + "/join", body={}, headers=cookie
                )
            else:
                status, body = await self.call("status", "GET", path + "/status", v.token)
            if status == 200 or status == 201:
                self._on_status(v, body)
            else:
                v.outcome = f"status {status}"
        elif kind == "join2" and v.outcome == "waiting":
            await self._second_device(v, path)
        elif kind == "slots":
            await self._choose(v, path)
        elif kind == "confirm":
            await self._confirm(v, path)
        elif kind == "cancel":
            status, _ = await self.call("cancel", "POST", f"{path}/bookings/{v.code}/cancel")
            v.cancelled = status == 200

    def _on_status(self, v: Visitor, body: dict[str, Any]) -> None:
        if v.ticket_id is None:
            v.ticket_id = body["ticket_id"]
        elif body["ticket_id"] != v.ticket_id:
            v.place_changes += 1
        state = body["state"]
        if state in ("prequeue", "waiting"):
            if state == "waiting" and self.now >= self.opens:
                eta = body["eta"]
                v.estimates.append(
                    Estimate(
                        self.now,
                        float(eta["low"]),
                        float(eta["seconds"]),
                        float(eta["high"]),
                        bool(eta["known"]),
                        eta.get("reason"),
                    )
                )
            if body.get("offer"):
                self._at(self.now + min(5, self._think()), "confirm", v.index)
                v.by_offer = True
                v.slot = body["offer"]["slot"]
                v.outcome = "offer"
                return
            if v.abandon_at is not None and self.now >= v.abandon_at:
                v.outcome = "abandoned"
                return
            if self.sold_out:
                v.outcome = "sold out"
                return
            nxt = self.now + math.ceil(body["poll_after_ms"] / 1000)
            reload = v.reload_at is not None and nxt >= v.reload_at
            if reload:
                v.reload_at = None
            self._at(nxt, "reload" if reload else "poll", v.index)
        elif state == "admitted":
            v.pass_token = body["pass"]
            # The pass was issued at admission and lasts session_seconds: that dates the
            # admission exactly, however long after it this poll came.
            v.admitted_at = self.now - (self.session_seconds - body["pass_expires_in_seconds"])
            if v.admitted_at < self.opens:
                self.early += 1
            v.outcome = "admitted"
            self._at(self.now + self._think(), "slots", v.index)
        else:
            v.outcome = state

    async def _second_device(self, v: Visitor, path: str) -> None:
        """A second device joins with the same identity and no cookie. The identity is only a
        label, so it must get a place of its own, never this person's (that would let anyone
        who knows an identity take the place). The person sees a new place and closes the
        device: its place lapses and uses no capacity."""
        self.counts["second_device"] += 1
        status, body = await self.call(
            "join", "POST", path + "/join", body={"identity": v.identity}
        )
        if status not in (200, 201):
            return
        if v.ticket_id is not None and body["ticket_id"] == v.ticket_id:
            v.place_changes += 1
        else:
            v.second_ticket_id, v.second_first_state = body["ticket_id"], body["state"]

    async def _choose(self, v: Visitor, path: str) -> None:
        status, body = await self.call("slots", "GET", path + "/slots?limit=10", v.pass_token)
        free = [s["id"] for s in body.get("slots", [])] if status == 200 else []
        if not free:
            v.outcome = "no slot"
            await self.call("complete", "POST", path + "/complete", v.pass_token, body={})
            return
        if v.gives_up:
            # Closes the tab: the session runs out by itself.
            v.outcome = "gave up"
            return
        slot = self.random.choice(free)
        for _ in range(ALTERNATIVE_TRIES):
            status, body = await self.call(
                "hold", "POST", f"{path}/slots/{slot}/hold", v.pass_token, body={}
            )
            if status == 201:
                v.slot = slot
                self._at(self._confirm_at(v), "confirm", v.index)
                return
            error = body.get("error", {})
            if error.get("code") != "slot_taken":
                v.outcome = f"hold {error.get('code', status)}"
                return
            self.counts["slot_taken"] += 1
            others = [a if isinstance(a, str) else a["id"] for a in error.get("alternatives", [])]
            if not others:
                break
            slot = self.random.choice(others)
        v.outcome = "slot taken"
        await self.call("complete", "POST", path + "/complete", v.pass_token, body={})

    def _confirm_at(self, v: Visitor) -> int:
        """When the visitor confirms the held slot: after thinking, or behind a slow booking
        site ``booking_seconds`` after admission (the hold lasts long enough for it)."""
        if v.booking_seconds is None or v.admitted_at is None:
            return self.now + self._think()
        return max(self.now + 1, math.ceil(v.admitted_at + v.booking_seconds))

    async def _confirm(self, v: Visitor, path: str) -> None:
        token = v.token if v.by_offer else v.pass_token
        status, body = await self.call(
            "confirm", "POST", f"{path}/slots/{v.slot}/confirm", token, body={}
        )
        if status != 201:
            v.outcome = f"confirm {body.get('error', {}).get('code', status)}"
            return
        v.code = body["code"]
        v.booked_at = self.now
        v.outcome = "booked"
        if v.by_offer:
            self.counts["offer"] += 1
            await self.call("leave", "POST", path + "/leave", v.token, body={})
        else:
            await self.call("complete", "POST", path + "/complete", v.pass_token, body={})
        if v.cancels:
            low, high = self.scenario.crowd.cancel_after_seconds
            self._at(self.now + self.random.randint(low, high), "cancel", v.index)
