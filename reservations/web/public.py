"""The start page, public facility and room pages with availability grids; the language switch."""

from __future__ import annotations

import calendar as pycal
from datetime import timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..clock import utcnow
from ..domain.slots import FixedSlots
from ..domain.windows import window_for
from ..extensions import db
from ..models import Facility, Room
from ..models.facility import address_in, name_in
from ..services.mapping import exemptions, rules_of
from .booking import (
    _me,
    best_group_class,
    facility_day_tables,
    fmt_day,
    legend,
    parse_day,
    room_range_table,
    today_in,
    yen,
)
from .i18n import lang
from .safety import safe_next

bp = Blueprint("public", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """Every facility with its active rooms. At city scale (60 facilities, 300 rooms) the rooms
    as ORM objects, one lazy load per facility, with a translation and a URL built per room in
    the template, took 90 ms; two queries of plain columns and each line's text made here once
    take a fraction of that."""
    language = lang()
    today = today_in(now=utcnow()).isoformat()
    rooms: dict[int, list[dict[str, str]]] = {}
    seats: dict[int, str] = {}
    for rid, fid, name_ja, name_en, capacity in db.session.execute(
            select(Room.id, Room.facility_id, Room.name_ja, Room.name_en, Room.capacity)
            .where(Room.active).order_by(Room.facility_id, Room.sort_order, Room.id)):
        if capacity not in seats:
            seats[capacity] = _("定員%(n)s人", n=capacity)
        rooms.setdefault(fid, []).append({"name": name_in(language, name_ja, name_en),
                                          "capacity": seats[capacity],
                                          "url": url_for("public.room", room_id=rid)})
    facilities = []
    sample = False
    for fid, name_ja, name_en, address_ja, address_en, is_sample in db.session.execute(
            select(Facility.id, Facility.name_ja, Facility.name_en, Facility.address_ja, Facility.address_en,
                   Facility.is_sample).order_by(Facility.sort_order, Facility.id)):
        sample = sample or bool(is_sample)
        facilities.append({
            "id": fid, "name": name_in(language, name_ja, name_en),
            "address": address_in(language, address_ja, address_en),
            "url": url_for("public.facility", facility_id=fid),
            "today_url": url_for("public.facility", facility_id=fid, date=today),
            "rooms": rooms.get(fid, []),
        })
    return render_template("public/index.html", facilities=facilities, sample_data=sample)


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    language = request.form.get("language", "ja")
    if language not in ("ja", "en"):
        language = "ja"
    session["language"] = language
    if current_user.is_authenticated:
        current_user.language = language
        db.session.commit()
    return redirect(safe_next(request.form.get("next"), default="/"))


def _feed_url(obj: Room | Facility) -> str:
    """Absolute URL of a public calendar feed (from BASE_URL: the address subscribers reach)."""
    from ..services import feeds

    url = feeds.public_room_feed_url(obj) if isinstance(obj, Room) else feeds.public_facility_feed_url(obj)
    # someone reading in English subscribes to an English calendar (the feed's default shows both)
    return url + "?lang=en" if lang() == "en" else url


def _window_text(months: int, from_first: bool) -> str:
    if from_first:
        return _("利用月の%(n)sか月前の1日から", n=months)
    return _("利用日の%(n)sか月前の同じ日から", n=months)


def room_facts(room: Room, language: str) -> dict[str, Any]:
    """Everything the room page says about fees and rules, in words."""
    rules = rules_of(db.session(), room)
    fees = rules.fees
    slot_fees = []
    if isinstance(rules.scheme, FixedSlots):
        for code in [s.code for s in rules.scheme.slots] + [j.code for j in rules.scheme.joined]:
            found = rules.scheme.find(code)
            times = rules.scheme.times(code)
            if found is not None and times is not None:
                slot_fees.append({"name": found.name(language), "times": f"{times[0]:%H:%M}–{times[1]:%H:%M}",
                                  "fee": yen(fees.per_slot.get(code, 0), language)})
    per = {"booking": _("1回につき"), "slot": _("1区分につき"), "hour": _("1時間につき")}
    extras = [{"name": e.name(language), "price": yen(e.price, language), "per": per.get(e.per, e.per)}
              for e in fees.extras]
    windows = []
    labels = {"registered": _("登録団体"), "general": _("一般（未登録の団体・個人）")}
    for cls in ("registered", "general"):
        w = window_for(rules.windows, cls)
        windows.append({"who": labels[cls], "text": _window_text(w.months_ahead, w.from_first_of_month)})
    claim = rules.claim
    if claim.mode == "never":
        claim_text = _("申込みと同時に予約が確定します（支払いの手続きはありません）。")
    else:
        claim_text = _("使用料のかかる予約は仮予約になります。予約から%(a)s日以内、かつ利用日の%(b)s日前までに窓口でお支払いください。",
                       a=claim.days_after_booking, b=claim.days_before_use)
        if claim.mode == "always":
            claim_text = _("予約はまず仮予約になります。予約から%(a)s日以内、かつ利用日の%(b)s日前までに窓口で手続きをしてください。",
                           a=claim.days_after_booking, b=claim.days_before_use)
        if claim.on_expiry == "confirm":
            claim_text += " " + _("期限を過ぎると自動的に確定します。")
        else:
            claim_text += " " + _("期限を過ぎると仮予約は取り消されます。")
    tiers = [{"days": t.days_before, "percent": t.percent}
             for t in sorted(rules.cancellation_tiers, key=lambda t: -t.days_before)]
    return {"rules": rules, "slot_fees": slot_fees, "per_hour": fees.per_hour, "extras": extras,
            "windows": windows, "claim_text": claim_text, "tiers": tiers,
            "free_time": not isinstance(rules.scheme, FixedSlots)}


def my_exemptions(room: Room, language: str) -> list[dict[str, Any]]:
    """For each of the user's registered groups, the exemption it would get in this room."""
    user = _me()
    if user is None:
        return []
    today = today_in(room.facility.timezone, utcnow())
    table = exemptions(room)
    out = []
    for m in user.memberships:
        g = m.group
        if g.group_class(today) != "registered":
            continue
        ex = table.get(g.exemption_code or "")
        out.append({"group": g.name, "name": ex.name(language) if ex else "",
                    "percent": ex.percent if ex else 0})
    return out


@bp.get("/facilities/<int:facility_id>")
def facility(facility_id: int):  # type: ignore[no-untyped-def]
    f = db.session.get(Facility, facility_id)
    if f is None:
        abort(404)
    language = lang()
    now = utcnow()
    today = today_in(f.timezone, now)
    day = parse_day(request.args.get("date"), today)
    tables = facility_day_tables(f, day, _me(), now, language)
    return render_template(
        "public/facility.html", facility=f, day=day, today=today, tables=tables, legend=legend(language),
        prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
        prev_week=day - timedelta(days=7), next_week=day + timedelta(days=7),
        feed_url=_feed_url(f), group_class=best_group_class(_me(), today),
        rooms=[r for r in f.rooms if r.active], day_label=fmt_day(day, language),
    )


@bp.get("/rooms/<int:room_id>")
def room(room_id: int):  # type: ignore[no-untyped-def]
    r = db.session.get(Room, room_id)
    if r is None or not r.active:
        abort(404)
    language = lang()
    now = utcnow()
    tz = r.facility.timezone
    today = today_in(tz, now)
    day = parse_day(request.args.get("date"), today)
    view = request.args.get("view", "week")
    if view not in ("week", "month"):
        view = "week"
    if view == "month":
        first = day.replace(day=1)
        last = first.replace(day=pycal.monthrange(first.year, first.month)[1])
        prev_date, next_date = first - relativedelta(months=1), first + relativedelta(months=1)
    else:
        first = day
        last = day + timedelta(days=6)
        prev_date, next_date = day - timedelta(days=7), day + timedelta(days=7)
    table = room_range_table(r, first, last, _me(), now, language)
    return render_template(
        "public/room.html", room=r, facility=r.facility, facts=room_facts(r, language),
        exemptions=my_exemptions(r, language), table=table, legend=legend(language), view=view,
        day=day, first=first, last=last, today=today, prev_date=prev_date, next_date=next_date,
        feed_url=_feed_url(r), group_class=best_group_class(_me(), today),
        range_label=f"{fmt_day(first, language)} – {fmt_day(last, language)}",
    )
