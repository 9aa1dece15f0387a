"""The waiting room by state: pre-queue, waiting, paused, sold out, admitted, done, expired,
lapsed, left and closed, plus the pages shown before a visitor has a place.

Every view answers the visitors' questions from the field reports on screen: whether reloading
is a mistake (no), whether several devices help and whether coming early helps (as true in the
room's mode: see ``promises``), how long the wait is (a range, with the time of the last update)
and how long they have to book (a visible clock). The views read the same status object the JSON API
sends, so the page and the script that re-renders it after each poll agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pyqueue.web.html import (
    PageContext,
    Refresh,
    countdown,
    esc,
    json_for_script,
    link_button,
    notice,
    paragraph,
    path_part,
    post_button,
)
from pyqueue.web.promises import arriving_key, devices_key, ended_key, not_open_key

#: States in which the page keeps polling (and reloads itself without JavaScript).
POLLING_STATES: Final = frozenset({"prequeue", "waiting", "admitted"})
#: Seconds before an admitted visitor is sent on to the portal's booking site by itself.
HANDOFF_DELAY_SECONDS: Final = 10


@dataclass(frozen=True)
class RoomFacts:
    """What the views need to know of the room beyond the visitor's own status."""

    state: str
    opens_at: datetime
    prequeue: str
    identity: str
    returned_slots: str
    next_release_window: datetime | None


@dataclass(frozen=True)
class Rendered:
    """A view: its heading, its markup and how the page refreshes."""

    heading: str
    main: str
    view: str
    status: int = 200
    refresh: Refresh | None = None
    script_data: Mapping[str, Any] | None = None


def view_key(status: Mapping[str, Any]) -> str:
    """What, when it changes between polls, needs a different view (the script compares the
    same key and reloads the page; ``static/page.js`` builds it the same way)."""
    offer = status.get("offer")
    slot = offer["slot"] if offer else ""
    paused = "true" if status.get("paused") else "false"
    return f"{status['state']}|{paused}|{slot}"


def waiting_room(
    ctx: PageContext,
    facts: RoomFacts,
    status: Mapping[str, Any],
    booking_code: str | None = None,
) -> Rendered:
    """The view of a visitor's ticket, chosen by its state."""
    state = status["state"]
    if state == "prequeue":
        heading, main = _prequeue(ctx, facts, status)
    elif state == "waiting":
        heading, main = _waiting(ctx, facts, status)
    elif state == "admitted":
        heading, main = _admitted(ctx, facts, status)
    elif state == "completed":
        heading, main = _completed(ctx, booking_code)
    elif state == "closed":
        heading, main = _closed(ctx, facts)
    else:  # expired, abandoned, left
        heading, main = _ended(ctx, facts, state)
    if state not in POLLING_STATES:
        return Rendered(heading, main, view=state)
    poll_ms = int(status["poll_after_ms"])
    refresh = Refresh(math.ceil(poll_ms / 1000))
    handoff = status.get("handoff_url")
    if state == "admitted" and handoff:
        refresh = Refresh(HANDOFF_DELAY_SECONDS, handoff)
    data = {
        "view": state,
        "statusUrl": f"/v1/rooms/{ctx.room}/status",
        "key": view_key(status),
        "zone": ctx.zone.key,
        "texts": ctx.texts.client(),
        "status": {k: v for k, v in status.items() if k != "pass"},
    }
    return Rendered(heading, main, view=state, refresh=refresh, script_data=data)


# ----------------------------------------------------------------------------- the states


def _prequeue(ctx: PageContext, facts: RoomFacts, status: Mapping[str, Any]) -> tuple[str, str]:
    t = ctx.texts
    fair = t(arriving_key(facts.prequeue))
    parts = [
        f"<h1>{esc(t('prequeue_title'))}</h1>",
        _room_intro(ctx),
        '<section class="card">',
        countdown(
            status["opens_in_seconds"],
            t.clock(status["opens_in_seconds"]),
            label=t("prequeue_countdown_label"),
            sync="opens_in_seconds",
            days=t.clock_days(),
        ),
        paragraph(t("prequeue_opens_at", time=t.moment(facts.opens_at, ctx.zone))),
        "</section>",
        notice(fair, "fair"),
        _keep_place(ctx, facts, before_draw=True),
    ]
    return t("prequeue_title"), "\n".join(parts)


def _waiting(ctx: PageContext, facts: RoomFacts, status: Mapping[str, Any]) -> tuple[str, str]:
    t = ctx.texts
    parts: list[str] = []
    if status.get("paused"):
        heading = t("paused_title")
        parts += [f"<h1>{esc(heading)}</h1>", notice(t("paused_text"), "paused")]
    elif facts.state == "sold_out":
        heading = t("sold_out_title")
        parts += [f"<h1>{esc(heading)}</h1>", notice(_sold_out_next(ctx, facts), "sold-out")]
    else:
        heading = t("waiting_title")
        parts += [f"<h1>{esc(heading)}</h1>", _room_intro(ctx)]
    if status.get("offer"):
        parts.append(_offer(ctx, status["offer"]))
    parts.append(_place(ctx, status))
    parts.append(_keep_place(ctx, facts, before_draw=False))
    return heading, "\n".join(parts)


def _place(ctx: PageContext, status: Mapping[str, Any]) -> str:
    """Place, progress and wait: the live region the script updates after each poll."""
    t = ctx.texts
    ahead = status.get("ahead") or 0
    at_start = status.get("ahead_at_start")
    start = max(ahead, at_start if at_start is not None else ahead)
    done = start - ahead
    eta = status["eta"]
    because = t.eta_reason(eta)
    first = "" if eta["known"] or eta.get("reason") != "rate" else t("eta_first_estimate")
    updated = datetime.now(UTC).astimezone(ctx.zone).strftime("%H:%M:%S")
    return (
        '<section class="card place" aria-labelledby="pq-place-label">'
        '<div id="pq-live" aria-live="polite" aria-atomic="true">'
        '<p class="place-line">'
        f'<span id="pq-place-label" class="label">{esc(t("place_label"))}</span> '
        f'<strong class="place-number" id="pq-place">{esc(t.number(ahead + 1))}</strong></p>'
        f'<p id="pq-ahead">{esc(t.ahead(ahead))}</p>'
        f'<p class="wait-line"><span class="label">{esc(t("wait_label"))}</span> '
        f'<strong id="pq-eta">{esc(t.eta(eta))}</strong></p>'
        f'<p class="hint" id="pq-eta-reason"{"" if because else " hidden"}>{esc(because)}</p>'
        "</div>"
        f'<label class="progress-label" for="pq-progress">{esc(t("progress_label"))}</label>'
        f'<progress id="pq-progress" max="{max(1, start)}" value="{done if start else 1}">'
        f"{done}/{start}</progress>"
        f'<p class="hint" id="pq-first-estimate"{"" if first else " hidden"}>'
        f"{esc(first or t('eta_first_estimate'))}</p>"
        f'<p class="updated" id="pq-updated">{esc(t("updated_at", time=updated))}</p>'
        '<p class="poll-problem" id="pq-problem" role="status" hidden></p>'
        "</section>"
    )


def _admitted(ctx: PageContext, facts: RoomFacts, status: Mapping[str, Any]) -> tuple[str, str]:
    t = ctx.texts
    heading = t("admitted_title")
    seconds = status.get("pass_expires_in_seconds") or 0
    parts = [
        f'<h1 class="your-turn">{esc(heading)}</h1>',
        '<section class="card turn">',
        countdown(
            seconds,
            t.clock(seconds),
            label=t("admitted_time_left"),
            sync="pass_expires_in_seconds",
            days=t.clock_days(),
        ),
        paragraph(t("admitted_text")),
    ]
    handoff = status.get("handoff_url")
    if handoff:
        parts.append(link_button(handoff, t("handoff_button"), extra=' id="pq-go"'))
        parts.append(
            '<p class="hint">'
            + esc(t("handoff_auto", seconds=HANDOFF_DELAY_SECONDS))
            + f' <span hidden data-countdown="{HANDOFF_DELAY_SECONDS}" data-on-zero="handoff">'
            "</span></p>"
        )
    else:
        parts.append(
            link_button(f"{ctx.room_path}/book", t("admitted_button"), extra=' id="pq-go"')
        )
    parts.append("</section>")
    if facts.state == "sold_out":
        parts.append(notice(_sold_out_next(ctx, facts), "sold-out"))
    if status.get("offer"):
        parts.append(_offer(ctx, status["offer"]))
    return heading, "\n".join(parts)


def _completed(ctx: PageContext, booking_code: str | None) -> tuple[str, str]:
    t = ctx.texts
    heading = t("completed_title")
    parts = [f"<h1>{esc(heading)}</h1>"]
    if booking_code:
        href = f"{ctx.room_path}/bookings/{esc(booking_code)}"
        parts.append(
            '<section class="card">'
            + paragraph(t("completed_with_code"))
            + link_button(href, t("completed_show_code"))
            + "</section>"
        )
    else:
        parts.append(paragraph(t("completed_text")))
    return heading, "\n".join(parts)


def _ended(ctx: PageContext, facts: RoomFacts, state: str) -> tuple[str, str]:
    """Expired, lapsed (``abandoned``) or left: say why, and offer a new place."""
    t = ctx.texts
    heading = t(f"{state}_title")
    why = t(ended_key(state, facts.prequeue, before_draw=facts.state == "prequeue"))
    main = (
        f"<h1>{esc(heading)}</h1>"
        + notice(why, "ended")
        + post_button(f"{ctx.room_path}/rejoin", t("rejoin_button"))
    )
    return heading, main


def _closed(ctx: PageContext, facts: RoomFacts) -> tuple[str, str]:
    t = ctx.texts
    heading = t("closed_title")
    parts = [f"<h1>{esc(heading)}</h1>", notice(t("closed_text"), "closed")]
    if facts.next_release_window is not None:
        when = t.moment(facts.next_release_window, ctx.zone)
        parts.append(paragraph(t("closed_next_window", time=when)))
    return heading, "\n".join(parts)


def _sold_out_next(ctx: PageContext, facts: RoomFacts) -> str:
    """What to do when everything is booked, by how returned slots come back."""
    t = ctx.texts
    if facts.returned_slots == "waitlist":
        return t("sold_out_waitlist")
    if facts.next_release_window is not None:
        return t("sold_out_windows", time=t.moment(facts.next_release_window, ctx.zone))
    return t("sold_out_no_window")


def _offer(ctx: PageContext, offer: Mapping[str, Any]) -> str:
    t = ctx.texts
    seconds = offer["expires_in_seconds"]
    slot = str(offer["slot"])
    until = offer["until"]
    if isinstance(until, str):
        until = datetime.fromisoformat(until)
    return (
        '<section class="card offer" aria-labelledby="pq-offer-title">'
        f'<h2 id="pq-offer-title">{esc(t("offer_title"))}</h2>'
        + paragraph(t("offer_text", slot=slot, time=t.time(until, ctx.zone)))
        + countdown(
            seconds,
            t.clock(seconds),
            label=t("offer_time_left"),
            sync="offer.expires_in_seconds",
            days=t.clock_days(),
        )
        + '<div class="actions">'
        + post_button(f"{ctx.room_path}/offer/accept", t("offer_accept"), hidden={"slot": slot})
        + post_button(f"{ctx.room_path}/offer/decline", t("offer_decline"), kind="secondary")
        + "</div></section>"
    )


def _keep_place(ctx: PageContext, facts: RoomFacts, *, before_draw: bool) -> str:
    """The answers to "is reloading a mistake?" and "do several devices help?"."""
    t = ctx.texts
    devices = t(devices_key(facts.identity, facts.prequeue, before_draw))
    return (
        '<section class="facts" aria-label="'
        + esc(t("facts_label"))
        + '"><ul>'
        + f"<li>{esc(t('reload_keeps'))}</li>"
        + f"<li>{esc(devices)}</li>"
        + f"<li>{esc(t('keep_open'))}</li>"
        + "</ul></section>"
    )


def _room_intro(ctx: PageContext) -> str:
    intro = ctx.look.text("intro", ctx.texts.lang)
    return paragraph(intro, "intro") if intro else ""


# ------------------------------------------------------------------- before having a place


def not_open_yet(
    ctx: PageContext, facts: RoomFacts, joins_open_at: datetime, now: float
) -> Rendered:
    """The pre-queue itself has not opened: nothing to join yet, so no place is promised. It
    says when joining opens, and counts down to the queue's opening, which the text below the
    clock is about; the page reloads itself to take a place once joining opens."""
    t = ctx.texts
    heading = t("not_open_title")
    joins_in = joins_open_at.timestamp() - now
    queue_in = facts.opens_at.timestamp() - now
    join_from = t(
        "not_open_join_from", time=t.moment(joins_open_at, ctx.zone), wait=t.wait_in_words(joins_in)
    )
    main = (
        f"<h1>{esc(heading)}</h1>"
        + '<section class="card">'
        + paragraph(join_from)
        + countdown(queue_in, t.clock(queue_in), label=t("not_open_label"), days=t.clock_days())
        + paragraph(t(not_open_key(facts.prequeue), time=t.moment(facts.opens_at, ctx.zone)))
        + "</section>"
    )
    seconds = max(5, min(300, math.ceil(joins_in / 4)))
    return Rendered(heading, main, view="not-open", refresh=Refresh(seconds))


def identity_form(ctx: PageContext, error: str | None = None) -> Rendered:
    """Rooms with ``identity = "required"``: the visitor gives the portal's code first."""
    t = ctx.texts
    heading = t("identity_title")
    problem = notice(error, "error") if error else ""
    invalid = ' aria-invalid="true" aria-describedby="pq-identity-error"' if error else ""
    main = (
        f"<h1>{esc(heading)}</h1>{problem}"
        + paragraph(t("identity_text"))
        + f'<form class="card" method="post" action="{ctx.room_path}">'
        + f'<label for="pq-identity">{esc(t("identity_label"))}</label>'
        + '<input id="pq-identity" name="identity" required maxlength="256" autocomplete="off"'
        + f' autocapitalize="characters" spellcheck="false"{invalid}>'
        + f'<button type="submit" class="button primary">{esc(t("join_button"))}</button>'
        + "</form>"
    )
    return Rendered(heading, main, view="identity", status=400 if error else 200)


def entry_form(ctx: PageContext, error: str | None = None) -> Rendered:
    """Rooms with ``identity = "entry"``: the place comes with the portal's entry token. The
    portal links here with ``#entry=<token>`` (``static/page.js`` posts it with this form and
    removes it from the address) or posts the ``entry`` field itself; nobody types it."""
    t = ctx.texts
    heading = t("entry_title")
    problem = notice(error, "error") if error else ""
    main = (
        f"<h1>{esc(heading)}</h1>{problem}"
        + paragraph(t("entry_text"))
        + f'<form id="pq-entry-form" method="post" action="{ctx.room_path}">'
        + '<input type="hidden" id="pq-entry" name="entry" value="">'
        + "</form>"
    )
    return Rendered(heading, main, view="entry", status=401 if error else 200)


def challenge_view(
    ctx: PageContext,
    challenge: Mapping[str, Any],
    *,
    identity: bool,
    error: str | None = None,
    entry: str | None = None,
) -> Rendered:
    """Rooms with a proof-of-work challenge: the page solves it (``static/challenge.js``) and
    sends the join form with the solution; with a code to enter, when the visitor sends it.
    In an entry room the form carries the visitor's checked entry token (``entry``) along, so
    the join that follows the work is the vouched one. Without JavaScript nobody can join
    here, and the page says so."""
    t = ctx.texts
    heading = t("challenge_title")
    problem = notice(error, "error") if error else ""
    code_field = ""
    if identity:
        code_field = (
            paragraph(t("identity_text"))
            + f'<label for="pq-identity">{esc(t("identity_label"))}</label>'
            + '<input id="pq-identity" name="identity" required maxlength="256" autocomplete="off"'
            + ' autocapitalize="characters" spellcheck="false">'
        )
    button = (
        f'<button type="submit" class="button primary">{esc(t("join_button"))}</button>'
        if identity
        else ""
    )
    data = {
        "challenge": dict(challenge),
        "workerUrl": ctx.assets["challenge-worker.js"],
        "texts": {
            name: t(f"challenge_{name}") for name in ("working", "done", "failed", "unsupported")
        },
    }
    main = (
        f"<h1>{esc(heading)}</h1>{problem}"
        + paragraph(t("challenge_text"))
        + f"<noscript>{notice(t('challenge_noscript'), 'error')}</noscript>"
        # Hidden until the script runs: without it there is no work going on to show.
        + f'<form class="card" method="post" action="{ctx.room_path}" id="pq-challenge-form"'
        + ("" if identity else " hidden")
        + ">"
        + code_field
        + ("" if entry is None else f'<input type="hidden" name="entry" value="{esc(entry)}">')
        + '<input type="hidden" name="challenge" id="pq-challenge-solution" value="">'
        + '<div id="pq-challenge-work" hidden>'
        + '<progress id="pq-challenge-progress" max="100" value="0"'
        + f' aria-label="{esc(t("challenge_title"))}"></progress>'
        + '<p id="pq-challenge-state" class="progress-label" aria-live="polite">'
        + esc(t("challenge_working", percent="0"))
        + "</p></div>"
        + button
        + "</form>"
        + '<script type="application/json" id="pq-challenge">'
        + json_for_script(data)
        + "</script>"
    )
    return Rendered(heading, main, view="challenge", status=400 if error else 200)


def landing(ctx: PageContext) -> Rendered:
    """For link previews and prefetches: describes the room and joins nobody."""
    t = ctx.texts
    heading = t("landing_title")
    main = (
        f"<h1>{esc(heading)}</h1>"
        + _room_intro(ctx)
        + paragraph(t("landing_text"))
        + post_button(ctx.room_path, t("join_button"))
    )
    return Rendered(heading, main, view="landing")


def room_list(ctx: PageContext, rooms: Sequence[str]) -> Rendered:
    """``/`` of a server with several rooms: a link to each room's page."""
    t = ctx.texts
    heading = t("rooms_title")
    items = "".join(f'<li><a href="/rooms/{path_part(r)}">{esc(r)}</a></li>' for r in rooms)
    main = (
        f"<h1>{esc(heading)}</h1>" + paragraph(t("rooms_text")) + f'<ul class="rooms">{items}</ul>'
    )
    return Rendered(heading, main, view="rooms")


def message(
    ctx: PageContext,
    title_key: str,
    text: str,
    *,
    status: int,
    view: str = "message",
    back: bool = True,
    retry_seconds: int | None = None,
) -> Rendered:
    """A plain message page (errors, refusals) with the way back to the waiting room."""
    t = ctx.texts
    heading = t(title_key)
    link = link_button(ctx.room_path, t("back_to_queue"), kind="secondary") if back else ""
    main = f"<h1>{esc(heading)}</h1>" + notice(text, "error" if status >= 400 else "info") + link
    refresh = Refresh(retry_seconds) if retry_seconds else None
    return Rendered(heading, main, view=view, status=status, refresh=refresh)
