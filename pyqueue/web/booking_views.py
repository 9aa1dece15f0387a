"""The booking pages: the slot picker (by centre and day), the hold with its clock, the booking
code, and cancelling by code.

A slot group is shown as centre and day when its name ends with an ISO date ("Kiel
Ostseehalle 2021-05-12"), which is how portals name them; any other group is shown whole.
Every action is a plain form, so booking works without JavaScript too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from pyqueue.web.html import (
    PageContext,
    countdown,
    esc,
    link_button,
    notice,
    paragraph,
    path_part,
    post_button,
)
from pyqueue.web.views import Rendered


@dataclass(frozen=True)
class SlotChoice:
    """A free slot as the picker shows it."""

    id: str
    group: str
    starts_at: datetime


@dataclass(frozen=True)
class Taken:
    """A hold that lost the race, and the free slots of the same group offered instead."""

    slot: str
    alternatives: Sequence[SlotChoice]


def split_group(group: str) -> tuple[str, date | None]:
    """``("Kiel Ostseehalle", 2021-05-12)`` from "Kiel Ostseehalle 2021-05-12"."""
    head, _, tail = group.rpartition(" ")
    if head:
        try:
            return head, date.fromisoformat(tail)
        except ValueError:
            pass
    return group, None


def group_label(ctx: PageContext, group: str) -> tuple[str, str]:
    """Centre and day of a group, in words."""
    centre, day = split_group(group)
    return centre, ctx.texts.day(day) if day is not None else ""


def picker(
    ctx: PageContext,
    *,
    groups: Sequence[tuple[str, int]],
    selected: str | None,
    slots: Sequence[SlotChoice],
    offset: int,
    limit: int,
    next_offset: int | None,
    pass_seconds: float,
    taken: Taken | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Rendered:
    """Free slots by centre and day; with ``taken``, the alternatives come first."""
    t = ctx.texts
    heading = t("picker_title")
    parts = [
        f"<h1>{esc(heading)}</h1>",
        countdown(
            pass_seconds,
            t.clock(pass_seconds),
            label=t("picker_time_left"),
            on_zero="reload",
            days=t.clock_days(),
        ),
    ]
    if problem:
        parts.append(notice(problem, "error"))
    if taken is not None:
        parts.append(_taken(ctx, taken))
    if not any(free for _, free in groups):
        parts.append(notice(t("picker_sold_out"), "sold-out"))
    parts.append(_groups(ctx, groups, selected))
    if selected is not None and taken is None:
        parts.append(_slots(ctx, selected, slots, offset, limit, next_offset))
    elif selected is None and taken is None:
        parts.append(paragraph(t("picker_choose_day"), "hint"))
    return Rendered(heading, "\n".join(parts), view="picker", status=status)


def _taken(ctx: PageContext, taken: Taken) -> str:
    t = ctx.texts
    parts = [
        '<section class="card taken" aria-labelledby="pq-taken-title">',
        f'<h2 id="pq-taken-title" tabindex="-1" data-focus>{esc(t("taken_title"))}</h2>',
    ]
    if taken.alternatives:
        centre, day = group_label(ctx, taken.alternatives[0].group)
        parts.append(paragraph(t("taken_text", centre=centre, day=day or centre)))
        parts.append(_slot_buttons(ctx, taken.alternatives, with_day=False))
    else:
        parts.append(paragraph(t("taken_none")))
    parts.append("</section>")
    return "\n".join(parts)


def _groups(ctx: PageContext, groups: Sequence[tuple[str, int]], selected: str | None) -> str:
    """Centres, each with its days and how many slots are free on each."""
    t = ctx.texts
    by_centre: dict[str, list[tuple[str, str, int]]] = {}
    for group, free in groups:
        centre, day = group_label(ctx, group)
        by_centre.setdefault(centre, []).append((group, day or group, free))
    parts = [
        '<section class="groups" aria-labelledby="pq-groups-title">',
        f'<h2 id="pq-groups-title">{esc(t("picker_centres"))}</h2>',
    ]
    for centre, days in by_centre.items():
        parts.append(f'<h3 class="centre">{esc(centre)}</h3><ul class="days">')
        for group, day, free in days:
            count = t("picker_free", n=t.number(free)) if free else t("picker_none_free")
            if free == 0:
                parts.append(
                    f'<li><span class="day full">{esc(day)} <small>{esc(count)}</small></span></li>'
                )
                continue
            href = f"{ctx.room_path}/book?{urlencode({'group': group})}#pq-slots"
            current = ' aria-current="true"' if group == selected else ""
            parts.append(
                f'<li><a class="day" href="{esc(href)}"{current}>{esc(day)} '
                f"<small>{esc(count)}</small></a></li>"
            )
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _slots(
    ctx: PageContext,
    group: str,
    slots: Sequence[SlotChoice],
    offset: int,
    limit: int,
    next_offset: int | None,
) -> str:
    t = ctx.texts
    centre, day = group_label(ctx, group)
    title = t("picker_slots_heading", centre=centre, day=day) if day else centre
    parts = [
        '<section class="card slots" id="pq-slots" aria-labelledby="pq-slots-title">',
        f'<h2 id="pq-slots-title">{esc(title)}</h2>',
    ]
    if slots:
        parts.append(paragraph(t("times_in_zone", zone=ctx.zone.key), "hint"))
        parts.append(_slot_buttons(ctx, slots, with_day=False))
    else:
        parts.append(paragraph(t("picker_no_slots")))
    links = []
    if offset > 0:
        query = urlencode({"group": group, "offset": max(0, offset - limit)})
        links.append(
            link_button(f"{ctx.room_path}/book?{query}#pq-slots", t("picker_earlier"), "secondary")
        )
    if next_offset is not None:
        query = urlencode({"group": group, "offset": next_offset})
        links.append(
            link_button(f"{ctx.room_path}/book?{query}#pq-slots", t("picker_more"), "secondary")
        )
    if links:
        parts.append('<div class="actions">' + "".join(links) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _slot_buttons(ctx: PageContext, slots: Sequence[SlotChoice], *, with_day: bool) -> str:
    t = ctx.texts
    items = []
    for slot in slots:
        moment = t.moment(slot.starts_at, ctx.zone, named=False)
        label = moment if with_day else t.time(slot.starts_at, ctx.zone)
        action = f"{ctx.room_path}/book/{path_part(slot.id)}/hold"
        described = t("picker_hold_label", time=moment)
        items.append(
            "<li>"
            + post_button(
                action,
                label,
                hidden={"group": slot.group},
                kind="slot",
                extra=f' aria-label="{esc(described)}" data-slot="{esc(slot.id)}"',
            )
            + "</li>"
        )
    return '<ul class="slot-list">' + "".join(items) + "</ul>"


def hold(ctx: PageContext, slot: SlotChoice, seconds_left: float) -> Rendered:
    """A held slot: what, where, and how long it stays held; confirm or give it back."""
    t = ctx.texts
    heading = t("hold_title")
    centre, _ = group_label(ctx, slot.group)
    base = f"{ctx.room_path}/book/{path_part(slot.id)}"
    main = (
        f"<h1>{esc(heading)}</h1>"
        + '<section class="card hold">'
        + _when_where(ctx, slot.starts_at, centre)
        + countdown(
            seconds_left,
            t.clock(seconds_left),
            label=t("hold_time_left"),
            on_zero="expire",
            ident="pq-hold-clock",
            days=t.clock_days(),
        )
        + paragraph(t("hold_text"))
        + f'<div class="notice error" id="pq-hold-expired" role="alert" hidden>'
        f"{esc(t('hold_expired'))}</div>"
        + '<div class="actions">'
        + post_button(f"{base}/confirm", t("confirm_button"), extra=' id="pq-confirm"')
        + post_button(
            f"{base}/release", t("release_button"), kind="secondary", hidden={"group": slot.group}
        )
        + "</div></section>"
    )
    return Rendered(heading, main, view="hold")


def _when_where(ctx: PageContext, starts_at: datetime, centre: str) -> str:
    t = ctx.texts
    return (
        '<dl class="when-where">'
        f"<dt>{esc(t('booking_when'))}</dt><dd>{esc(t.moment(starts_at, ctx.zone))}</dd>"
        f"<dt>{esc(t('booking_where'))}</dt><dd>{esc(centre)}</dd>"
        "</dl>"
    )


def booking(ctx: PageContext, code: str, group: str, starts_at: datetime) -> Rendered:
    """The booking code, large enough to read from a phone's screenshot."""
    t = ctx.texts
    heading = t("booking_title")
    centre, _ = group_label(ctx, group)
    cancel = f"{ctx.room_path}/cancel?{urlencode({'code': code})}"
    main = (
        f'<h1 class="booked">{esc(heading)}</h1>'
        + '<section class="card booking" aria-labelledby="pq-code-label">'
        + f'<p class="label" id="pq-code-label">{esc(t("booking_code_label"))}</p>'
        + f'<p class="booking-code" id="pq-code">{esc(code)}</p>'
        + _when_where(ctx, starts_at, centre)
        + paragraph(t("booking_screenshot"), "hint")
        + "</section>"
        + link_button(cancel, t("booking_cancel_link"), kind="secondary")
    )
    return Rendered(heading, main, view="booking")


def cancel_form(ctx: PageContext, code: str = "", problem: str | None = None) -> Rendered:
    t = ctx.texts
    heading = t("cancel_title")
    error = notice(problem, "error") if problem else ""
    invalid = ' aria-invalid="true"' if problem else ""
    main = (
        f"<h1>{esc(heading)}</h1>{error}"
        + paragraph(t("cancel_text"))
        + f'<form class="card" method="get" action="{ctx.room_path}/cancel">'
        + f'<label for="pq-cancel-code">{esc(t("cancel_code_label"))}</label>'
        + f'<input id="pq-cancel-code" name="code" value="{esc(code)}" required maxlength="64"'
        + f' autocomplete="off" autocapitalize="characters" spellcheck="false"{invalid}>'
        + f'<button type="submit" class="button primary">{esc(t("cancel_find"))}</button>'
        + "</form>"
    )
    return Rendered(heading, main, view="cancel", status=404 if problem else 200)


def cancel_confirm(ctx: PageContext, code: str, group: str, starts_at: datetime) -> Rendered:
    """Shows the booking before it is cancelled, so a mistyped code cancels nothing by surprise."""
    t = ctx.texts
    heading = t("cancel_title")
    question = paragraph(t("cancel_question")) + post_button(
        f"{ctx.room_path}/cancel", t("cancel_button"), hidden={"code": code}, kind="danger"
    )
    main = _code_card(ctx, heading, code, group, starts_at, question)
    return Rendered(heading, main, view="cancel-confirm")


def cancelled_booking(
    ctx: PageContext, code: str, group: str, starts_at: datetime, cancelled_at: datetime
) -> Rendered:
    """A code whose booking was cancelled: what it was, and when it was cancelled (not "no
    such booking", which would leave the visitor wondering whether they mistyped it)."""
    t = ctx.texts
    heading = t("booking_cancelled_title")
    when = notice(t("booking_cancelled_at", time=t.moment(cancelled_at, ctx.zone)), "info")
    main = _code_card(ctx, heading, code, group, starts_at, when)
    return Rendered(heading, main, view="booking-cancelled")


def _code_card(
    ctx: PageContext, heading: str, code: str, group: str, starts_at: datetime, rest: str
) -> str:
    """A booking shown by its code (to cancel it, or once cancelled): the code, when and where,
    then ``rest``."""
    centre, _ = group_label(ctx, group)
    return (
        f"<h1>{esc(heading)}</h1>"
        + '<section class="card">'
        + f'<p class="label">{esc(ctx.texts("booking_code_label"))}</p>'
        + f'<p class="booking-code small">{esc(code)}</p>'
        + _when_where(ctx, starts_at, centre)
        + rest
        + "</section>"
    )


def cancel_done(ctx: PageContext, returned_slots: str) -> Rendered:
    t = ctx.texts
    heading = t("cancel_done_title")
    text = t("cancel_done_waitlist") if returned_slots == "waitlist" else t("cancel_done_windows")
    main = f"<h1>{esc(heading)}</h1>" + notice(text, "info")
    return Rendered(heading, main, view="cancelled")
