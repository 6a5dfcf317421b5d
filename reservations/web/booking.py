"""Finding a room and booking it: availability grids, search, the booking form, booking pages,
cancelling, and "my bookings".

Views are thin: they parse forms, call ``services.availability`` / ``services.bookings``, map a
``DomainError`` onto the form (``web.forms_util``) and commit once, after the service succeeded.
The grid helpers here are also used by the public facility and room pages (``web.public``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.core import UnboundField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..clock import utcnow
from ..domain.availability import CELL_LABELS, Cell, CellState
from ..domain.calendar import EARLIEST_DAY, LATEST_DAY, local, local_day
from ..domain.errors import DomainError
from ..domain.fees import FeeQuote
from ..domain.lifecycle import Action, Status, can, is_active, status_label
from ..domain.recurrence import MAX_OCCURRENCES, RecurrenceSpec
from ..domain.rules import RoomRules
from ..domain.slots import FixedSlots, FreeTime
from ..extensions import db
from ..models import Booking, Facility, Group, Room, User
from ..services import availability as avail
from ..services import bookings as svc
from ..services.mapping import rules_of
from ..services.permissions import Forbidden, NotFound
from .forms_util import DayField, apply_domain_error
from .i18n import aside, lang
from .safety import parse_day, parse_id

bp = Blueprint("booking", __name__)

WEEKDAYS_JA = "月火水木金土日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EQUIPMENT_LABELS = {
    "whiteboard": ("ホワイトボード", "Whiteboard"),
    "projector": ("プロジェクター", "Projector"),
    "wifi": ("Wi-Fi", "Wi-Fi"),
    "tatami": ("畳", "Tatami"),
    "low tables": ("座卓", "Low tables"),
    "microphone": ("マイク", "Microphone"),
    "stage": ("ステージ", "Stage"),
    "kitchen": ("調理台", "Kitchen"),
}
# the search page shows its results 50 at a time (a phone shows a wall of 200 rows poorly, and a
# page's search stops once it has what the page shows), up to the 1,000 the API reaches as well
SEARCH_PAGE = 50
SEARCH_MAX_PAGE = 20
SLOT_FILTERS = (("morning", _l("午前")), ("afternoon", _l("午後")), ("evening", _l("夜間")))


# --- small helpers -----------------------------------------------------------------------------


def _db() -> Session:
    return db.session()


def _me() -> User | None:
    if not current_user.is_authenticated:
        return None
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _choices(pairs: Iterable[tuple[str, Any]]) -> list[Any]:
    try:  # WTForms 3.3 deprecates (value, label) tuples
        from wtforms.fields.choices import SelectChoice

        return [SelectChoice(v, label) for v, label in pairs]
    except ImportError:  # pragma: no cover
        return list(pairs)


def equipment_label(code: str, language: str) -> str:
    ja, en = EQUIPMENT_LABELS.get(code, (code, code))
    return en if language == "en" else ja


def fmt_day(d: date, language: str | None = None) -> str:
    language = language or lang()
    if language == "en":
        return f"{WEEKDAYS_EN[d.weekday()]} {d.day} {d:%b} {d.year}"
    return f"{d.year}年{d.month}月{d.day}日（{WEEKDAYS_JA[d.weekday()]}）"


def fmt_time(dt: datetime, tz: str) -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def fmt_when(dt: datetime, tz: str, language: str | None = None) -> str:
    local_dt = dt.astimezone(ZoneInfo(tz))
    return f"{fmt_day(local_dt.date(), language)} {local_dt:%H:%M}"


def fmt_deadline(dt: datetime, tz: str, language: str | None = None) -> str:
    """A claim deadline; one at midnight reads as the end of the day before (…日までに)."""
    language = language or lang()
    local_dt = dt.astimezone(ZoneInfo(tz))
    if local_dt.hour == 0 and local_dt.minute == 0:
        day = fmt_day(local_dt.date() - timedelta(days=1), language)
        return f"the end of {day}" if language == "en" else day
    return fmt_when(dt, tz, language)


def yen(amount: int | None, language: str | None = None) -> str:
    amount = amount or 0
    sign = "−" if amount < 0 else ""  # an exemption's line: −¥1,430, not ¥-1,430
    return f"{sign}¥{abs(amount):,}" if (language or lang()) == "en" else f"{sign}{abs(amount):,}円"


def weekday_name(n: int, language: str | None = None) -> str:
    return WEEKDAYS_EN[n] if (language or lang()) == "en" else WEEKDAYS_JA[n]


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"bk_day": fmt_day, "bk_time": fmt_time, "bk_when": fmt_when, "bk_yen": yen, "bk_deadline": fmt_deadline,
            "bk_equipment": equipment_label, "bk_weekday": weekday_name, "bk_active": is_active}


def today_in(tz: str = "Asia/Tokyo", now: datetime | None = None) -> date:
    return local_day(now or utcnow(), tz)




def best_group_class(user: User | None, today: date) -> str:
    """'registered' when any of the user's groups is registered (earlier booking window)."""
    if user is None:
        return "general"
    return "registered" if any(m.group.group_class(today) == "registered" for m in user.memberships) else "general"


def book_url(room_id: int, day: date, *, slot: str | None = None, start: str | None = None,
             end: str | None = None, base: str | None = None, **extra: Any) -> str:
    """The booking form for a cell; ``base`` is ``url_for('booking.new')`` when a caller making
    many links has it already."""
    args: dict[str, Any] = {"room": room_id, "date": day.isoformat()}
    if slot:
        args["slot"] = slot
    if start and end:
        args["start"], args["end"] = start, end
    args.update({k: v for k, v in extra.items() if v not in (None, "")})
    return f"{base or url_for('booking.new')}?{urlencode(args)}"


# --- grids -------------------------------------------------------------------------------------


@dataclass
class GridCell:
    state: str
    symbol: str
    label: str
    title: str = ""
    url: str | None = None
    note: str = ""  # a public group name, or "your group"
    note_url: str | None = None


@dataclass
class GridRow:
    header: str
    header_url: str | None
    sub: str
    cells: list[GridCell | None]
    muted: bool = False


@dataclass
class GridTable:
    caption: str
    kind: str  # slots | free
    columns: list[tuple[str, str]]  # (label, detail)
    rows: list[GridRow] = field(default_factory=list)


def legend(language: str) -> list[tuple[str, str, str]]:
    return [(state.value, sym, en if language == "en" else ja) for state, (ja, en, sym) in CELL_LABELS.items()]


def _booking_notes(cells: Iterable[Cell], user: User | None) -> dict[int, tuple[str, str | None]]:
    """For taken cells: a note per booking id (a public group's name; "your group" for one's own).

    Plain columns, not Booking objects: a month of bookings as ORM rows (JSON fee breakdowns and
    all) cost more than the rest of the page."""
    ids = {i for c in cells for i in c.booking_ids}
    if not ids:
        return {}
    mine = {m.group_id for m in user.memberships} if user is not None else set()
    out: dict[int, tuple[str, str | None]] = {}
    rows = _db().execute(
        select(Booking.id, Booking.group_id, Group.name, Group.public_name)
        .outerjoin(Group, Group.id == Booking.group_id).where(Booking.id.in_(ids))
    )
    for bid, group_id, name, public_name in rows:
        if group_id is not None and group_id in mine:
            out[bid] = (_("自分の団体の予約"), url_for("booking.detail", booking_id=bid))
        elif name is not None and public_name:
            out[bid] = (name, None)
    return out


def _free_time_end(cells: Sequence[Cell], idx: int, scheme: FreeTime) -> datetime:
    """End for a link from a free step: as far as free steps reach, up to the minimum length."""
    start = cells[idx].start
    end = cells[idx].end
    want = start + timedelta(minutes=scheme.min_minutes)
    j = idx + 1
    while end < want and j < len(cells) and cells[j].state == CellState.FREE and cells[j].start == end:
        end = cells[j].end
        j += 1
    return want if end < want else end


@dataclass
class _CellText:
    """What every cell of one table shares, worked out once per table rather than per cell
    (url_for, day labels, the zone): a month of a free-time room has ~800 cells."""

    tz: str
    language: str
    book_base: str = field(default_factory=lambda: url_for("booking.new"))
    days: dict[date, str] = field(default_factory=dict)
    zone: ZoneInfo = field(init=False)
    times: dict[datetime, str] = field(default_factory=dict)  # each cell's times are asked for 2–3 times
    links: dict[tuple[int, date], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.tz)

    def day(self, d: date) -> str:
        label = self.days.get(d)
        if label is None:
            label = self.days[d] = fmt_day(d, self.language)
        return label

    def time(self, dt: datetime) -> str:
        label = self.times.get(dt)
        if label is None:
            local = dt.astimezone(self.zone)
            label = self.times[dt] = f"{local.hour:02d}:{local.minute:02d}"
        return label

    def book(self, room_id: int, d: date, **args: str) -> str:
        """``book_url`` with the room and day part encoded once per room and day."""
        head = self.links.get((room_id, d))
        if head is None:
            head = self.links[(room_id, d)] = book_url(room_id, d, base=self.book_base)
        return head + "".join(f"&{k}={quote_plus(v)}" for k, v in args.items() if v)


def _cell(rules: RoomRules, cells: Sequence[Cell], idx: int,
          notes: dict[int, tuple[str, str | None]], text: _CellText) -> GridCell:
    c = cells[idx]
    language = text.language
    ja, en, sym = CELL_LABELS[c.state]
    label = en if language == "en" else ja
    reason = c.reason_en if language == "en" else c.reason_ja
    when = f"{text.day(c.day)} {text.time(c.start)}–{text.time(c.end)}"
    out = GridCell(c.state.value, sym, label, title=f"{when} {label}" + (f"（{reason}）" if reason else ""))
    if reason:
        out.title = f"{when} {label}: {reason}"
    if c.state == CellState.FREE:
        if c.slot_code:
            out.url = text.book(rules.room_id, c.day, slot=c.slot_code)
        elif isinstance(rules.scheme, FreeTime):
            end = _free_time_end(cells, idx, rules.scheme)
            out.url = text.book(rules.room_id, c.day, start=text.time(c.start), end=text.time(end))
    elif c.state == CellState.TAKEN:
        for bid in c.booking_ids:
            if bid in notes:
                out.note, out.note_url = notes[bid]
                break
    return out


def _slot_columns(scheme: FixedSlots, language: str) -> list[tuple[str, str]]:
    return [(s.name(language), f"{s.start:%H:%M}–{s.end:%H:%M}") for s in scheme.slots]


def facility_day_tables(facility: Facility, day: date, user: User | None, now: datetime,
                        language: str) -> list[GridTable]:
    """Rooms × slots of one day; rooms lent by the hour get their own table with a time axis."""
    group_class = best_group_class(user, today_in(facility.timezone, now))
    view = avail.facility_availability(_db(), facility, day, day, now=now, group_class=group_class)
    tz = facility.timezone
    notes = _booking_notes((c for row in view.rows for c in row.days[day]), user)
    text = _CellText(tz, language)
    tables: dict[str, GridTable] = {}
    for row in view.rows:
        cells = row.days[day]
        scheme = row.rules.scheme
        if isinstance(scheme, FixedSlots):
            key = "slots:" + ",".join(f"{s.code}{s.start}{s.end}" for s in scheme.slots)
            if key not in tables:
                tables[key] = GridTable(_("時間区分で貸す部屋"), "slots", _slot_columns(scheme, language))
            table = tables[key]
            by_code = {c.slot_code: i for i, c in enumerate(cells)}
            out: list[GridCell | None] = [
                _cell(row.rules, cells, by_code[s.code], notes, text) if s.code in by_code
                else None
                for s in scheme.slots
            ]
        else:
            key = "free"
            if key not in tables:
                tables[key] = GridTable(_("時間単位で貸す部屋"), "free", [])
            table = tables[key]
            times = [text.time(c.start) for c in cells]
            if len(times) > len(table.columns):
                table.columns = [(t, "") for t in times]
            out = [_cell(row.rules, cells, i, notes, text) for i in range(len(cells))]
        sub = _("定員%(n)s人", n=row.room.capacity)
        table.rows.append(GridRow(row.room.name(language), url_for("public.room", room_id=row.room.id), sub, out))
    # free-time rows may have fewer steps (closed day): align by start time
    for table in tables.values():
        if table.kind == "free":
            for r in table.rows:
                r.cells = r.cells + [None] * (len(table.columns) - len(r.cells))
    return list(tables.values())


def room_range_table(room: Room, first: date, last: date, user: User | None, now: datetime,
                     language: str) -> GridTable:
    """Days × slots (or time steps) of one room, for the week and month views."""
    tz = room.facility.timezone
    group_class = best_group_class(user, today_in(tz, now))
    row = avail.room_availability(_db(), room, first, last, now=now, group_class=group_class)
    notes = _booking_notes((c for cells in row.days.values() for c in cells), user)
    text = _CellText(tz, language)
    scheme = row.rules.scheme
    if isinstance(scheme, FixedSlots):
        table = GridTable(room.name(language), "slots", _slot_columns(scheme, language))
    else:
        table = GridTable(room.name(language), "free", [])
        # a common time axis over the range: the union of step start times
        starts = sorted({text.time(c.start) for cells in row.days.values() for c in cells})
        table.columns = [(t, "") for t in starts]
    for d, cells in row.days.items():
        if isinstance(scheme, FixedSlots):
            by_code = {c.slot_code: i for i, c in enumerate(cells)}
            out: list[GridCell | None] = [
                _cell(row.rules, cells, by_code[s.code], notes, text) if s.code in by_code
                else None
                for s in scheme.slots
            ]
        else:
            by_time = {text.time(c.start): i for i, c in enumerate(cells)}
            out = [_cell(row.rules, cells, by_time[t], notes, text) if t in by_time else None
                   for t, _d in table.columns]
        closed = cells and all(c.state == CellState.CLOSED for c in cells)
        reason = ""
        if closed:
            reason = cells[0].reason_en if language == "en" else cells[0].reason_ja
        elif not cells:
            reason = _("休館")
            closed = True
        table.rows.append(GridRow(text.day(d), None, reason, out, muted=bool(closed)))
    return table


# --- search ------------------------------------------------------------------------------------


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    facility = SelectField(_l("施設"), choices=[], validate_choice=False)
    capacity = IntegerField(_l("人数（以上）"), validators=[Optional(), NumberRange(min=1, max=1000)])
    equipment = SelectMultipleField(_l("設備"), choices=[], widget=ListWidget(prefix_label=False),
                                    option_widget=CheckboxInput(), validate_choice=False)
    date_from = DayField(_l("開始日"), validators=[Optional()])
    date_to = DayField(_l("終了日"), validators=[Optional()])
    weekdays = SelectMultipleField(_l("曜日"), choices=[], widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput(), validate_choice=False)
    slot = SelectMultipleField(_l("時間帯"), choices=[], widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput(), validate_choice=False)
    submit = SubmitField(_l("検索"))


# what a search is asked with: the form's fields (the pager links carry these and nothing else)
SEARCH_PARAMETERS = frozenset(name for name, value in vars(SearchForm).items()
                              if isinstance(value, UnboundField) and name != "submit")


@bp.get("/search")
def search():  # type: ignore[no-untyped-def]
    language = lang()
    now = utcnow()
    today = today_in(now=now)
    form = SearchForm(formdata=request.args or None)
    facilities = _db().scalars(select(Facility).order_by(Facility.sort_order, Facility.id)).all()
    form.facility.choices = _choices([("", _("すべての施設"))] + [(str(f.id), f.name(language)) for f in facilities])
    # the equipment lists as stored, distinct: every room of the city as an ORM object cost more
    # than the search itself
    stored = _db().scalars(select(cast(Room.equipment, Text)).where(Room.active).distinct())
    equipment = sorted({e for text in stored if text for e in (json.loads(text) or [])},
                       key=lambda e: equipment_label(e, language))
    form.equipment.choices = _choices([(e, equipment_label(e, language)) for e in equipment])
    form.weekdays.choices = _choices([(str(i), weekday_name(i, language)) for i in range(7)])
    form.slot.choices = _choices([(code, str(label)) for code, label in SLOT_FILTERS])
    hits: list[avail.SearchHit] | None = None
    note = ""
    page = _search_page(request.args.get("page"))
    if request.args and form.validate():
        first = form.date_from.data or today
        last = form.date_to.data or (first + timedelta(days=13))
        if last < first:
            form.date_to.errors = [_("終了日は開始日以降にしてください。")]
        else:
            if (last - first).days > avail.MAX_RANGE_DAYS:
                last = first + timedelta(days=avail.MAX_RANGE_DAYS)
                note = _("検索できるのは%(n)s日分までです。%(d)sまでを表示しています。",
                         n=avail.MAX_RANGE_DAYS + 1, d=fmt_day(last, language))
            fid = form.facility.data
            filters = avail.SearchFilters(
                first=first, last=last, min_capacity=form.capacity.data or 1,
                equipment=tuple(e for e in (form.equipment.data or []) if e in equipment),
                facility_ids=(fid_int,) if (fid_int := parse_id(fid)) is not None else (),
                weekdays=tuple(int(w) for w in (form.weekdays.data or []) if w in ('0', '1', '2', '3', '4', '5', '6')),
                slot_codes=tuple(s for s in (form.slot.data or []) if s in dict(SLOT_FILTERS)),
                limit=page * SEARCH_PAGE + 1,  # one more than shown: is there a next page?
            )
            hits = avail.search(_db(), filters, now=now, group_class=best_group_class(_me(), today))
    if hits and len(hits) <= (page - 1) * SEARCH_PAGE:
        page = 1  # a page past the end (an old link, fewer free slots now): the first one
    shown = (hits or [])[(page - 1) * SEARCH_PAGE:page * SEARCH_PAGE]
    more = len(hits or []) > page * SEARCH_PAGE
    pages = {
        "first": (page - 1) * SEARCH_PAGE + 1, "last": (page - 1) * SEARCH_PAGE + len(shown),
        "prev": _search_page_url(page - 1) if page > 1 else None,
        "next": _search_page_url(page + 1) if more and page < SEARCH_MAX_PAGE else None,
        "capped": SEARCH_PAGE * SEARCH_MAX_PAGE if more and page == SEARCH_MAX_PAGE else None,
    }
    return render_template("booking/search.html", form=form, results=_search_rows(shown, language),
                           searched=hits is not None, note=note, pages=pages,
                           page_size=SEARCH_PAGE)


def _search_page(value: str | None) -> int:
    """The result page asked for: 1 for anything that is not a page number we show."""
    number = parse_id(value)
    return number if number is not None and 1 <= number <= SEARCH_MAX_PAGE else 1


def _search_page_url(page: int) -> str:
    """This search again, on another page of results: the search form's own parameters only (a
    query string's names passed to ``url_for`` as keywords could be ``_external`` or ``endpoint``)."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k in SEARCH_PARAMETERS]
    return f"{url_for('booking.search')}?{urlencode([*kept, ('page', str(page))])}#results"


def _search_rows(hits: Sequence[avail.SearchHit], language: str) -> list[dict[str, str]]:
    """The result table's text, worked out here once per row with the language and the links'
    bases known: the same done per cell in the template (a translation, a locale lookup and a
    URL build each) took longer than the search."""
    base = url_for("booking.new")
    room_urls: dict[int, str] = {}
    days: dict[date, str] = {}
    people: dict[int, str] = {}
    rows = []
    for h in hits:
        tz = h.room.facility.timezone
        c = h.cell
        start, end = fmt_time(c.start, tz), fmt_time(c.end, tz)
        if c.slot_code:
            url = book_url(h.room.id, c.day, slot=c.slot_code, base=base)
        else:
            url = book_url(h.room.id, c.day, start=start, end=end, base=base)
        if h.room.id not in room_urls:
            room_urls[h.room.id] = url_for("public.room", room_id=h.room.id)
        if c.day not in days:
            days[c.day] = fmt_day(c.day, language)
        if h.room.capacity not in people:
            people[h.room.capacity] = _("%(n)s人", n=h.room.capacity)
        rows.append({"day": days[c.day], "start": start, "end": end, "room": h.room.name(language),
                     "facility": h.room.facility.name(language), "room_url": room_urls[h.room.id],
                     "capacity": people[h.room.capacity], "url": url})
    return rows


# --- the booking form --------------------------------------------------------------------------


class BookingForm(FlaskForm):
    room = HiddenField()
    date = DayField(_l("利用日"), validators=[InputRequired(message=_l("利用日を入力してください。"))])
    slot = SelectField(_l("時間区分"), choices=[], validate_choice=False)
    start = TimeField(_l("開始時刻"), validators=[Optional()])
    end = TimeField(_l("終了時刻"), validators=[Optional()])
    group = SelectField(_l("予約する団体"), choices=[], validate_choice=False)
    purpose = StringField(_l("利用目的"), validators=[
        InputRequired(message=_l("利用目的を入力してください。")), Length(max=200)])
    attendees = IntegerField(_l("利用人数"), validators=[
        InputRequired(message=_l("利用人数を入力してください。")),
        NumberRange(min=1, max=10000, message=_l("利用人数を1人以上で入力してください。"))])
    extras = SelectMultipleField(_l("付帯設備"), choices=[], widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput(), validate_choice=False)
    repeat = RadioField(_l("繰り返し"), choices=[], default="none")
    repeat_until = DayField(_l("終了日（この日まで）"), validators=[Optional()])
    repeat_count = IntegerField(_l("回数"), validators=[
        Optional(), NumberRange(min=1, max=MAX_OCCURRENCES,
                                message=_l("回数は1〜%(n)s回です。", n=MAX_OCCURRENCES))])
    book_free_only = BooleanField(_l("空いている日だけ予約する"))
    preview = SubmitField(_l("料金と日程を確認する"))
    submit = SubmitField(_l("この内容で予約する"))


def nth_weekday(d: date) -> int:
    """1..4, or -1 for the 5th (last) weekday of the month."""
    n = (d.day - 1) // 7 + 1
    return -1 if n >= 5 else n


def nth_label(d: date, language: str) -> str:
    n = nth_weekday(d)
    if language == "en":
        word = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}[n]
        return f"every month on the {word} {WEEKDAYS_EN[d.weekday()]}"
    word = "最終" if n == -1 else f"第{n}"
    return f"毎月{word}{WEEKDAYS_JA[d.weekday()]}曜日"


def describe_series(spec: dict[str, Any] | None, language: str, first: date | None = None) -> str:
    """The repeat rule in words, e.g. 毎週火曜日（6回）; ``first`` supplies the default weekday."""
    if not spec:
        return ""
    r = RecurrenceSpec.from_dict(spec)
    if not r.weekdays and first is not None and (r.freq == "weekly" or r.nth is not None):
        from dataclasses import replace

        r = replace(r, weekdays=(first.weekday(),))
    if r.freq == "weekly":
        days = r.weekdays
        if language == "en":
            text = "every " + ", ".join(WEEKDAYS_EN[d] for d in days) if days else "weekly"
        else:
            text = "毎週" + "・".join(WEEKDAYS_JA[d] for d in days) + "曜日" if days else "毎週"
    else:
        wd = r.weekdays[0] if r.weekdays else None
        if r.nth is not None and wd is not None:
            if language == "en":
                word = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}.get(r.nth, str(r.nth))
                text = f"every month on the {word} {WEEKDAYS_EN[wd]}"
            else:
                text = f"毎月{'最終' if r.nth == -1 else f'第{r.nth}'}{WEEKDAYS_JA[wd]}曜日"
        else:
            text = "every month" if language == "en" else "毎月"
    if r.until:
        text += f" (until {fmt_day(r.until, language)})" if language == "en" else f"（{fmt_day(r.until, language)}まで）"
    elif r.count:
        text += f" ({r.count} times)" if language == "en" else f"（{r.count}回）"
    return text


def _group_options(user: User, today: date, language: str) -> list[tuple[Group, bool]]:
    """(group, books as general public) for the user's groups that may book."""
    out = []
    for m in sorted(user.memberships, key=lambda m: m.group.name):
        g = m.group
        if g.status in ("registered", "applied"):
            out.append((g, g.group_class(today) != "registered"))
    return out


def _setup_form(form: BookingForm, room: Room, rules: RoomRules, options: list[tuple[Group, bool]],
                language: str, day: date | None) -> None:
    labels = []
    for g, general in options:
        text = g.name
        if general:
            text += _("（未登録のため一般の料金・受付期間で予約）")
        labels.append((str(g.id), text))
    form.group.choices = _choices(labels)
    if isinstance(rules.scheme, FixedSlots):
        slots = [(s.code, s.name(language) + aside(f"{s.start:%H:%M}–{s.end:%H:%M}", language))
                 for s in rules.scheme.slots]
        for j in rules.scheme.joined:
            t = rules.scheme.times(j.code)
            if t:
                slots.append((j.code, j.name(language) + aside(f"{t[0]:%H:%M}–{t[1]:%H:%M}", language)))
        form.slot.choices = _choices(slots)
    fees = rules.fees
    per = {"booking": _("1回"), "slot": _("1区分"), "hour": _("1時間")}
    form.extras.choices = _choices([
        (e.code, e.name(language) + aside(f"{yen(e.price, language)}{'/' if language == 'en' else '／'}"
                                          f"{per.get(e.per, e.per)}", language)) for e in fees.extras])
    monthly = nth_label(day, language) if day else _("毎月（同じ週の同じ曜日）")
    weekly = (_("毎週%(w)s曜日", w=weekday_name(day.weekday(), language)) if day else _("毎週"))
    form.repeat.choices = _choices([("none", _("繰り返さない")), ("weekly", weekly), ("monthly", monthly)])


def _input(form: BookingForm, room: Room, rules: RoomRules) -> svc.BookingInput | None:
    """The service's input from a validated form; None (with field errors) when incomplete."""
    tz = room.facility.timezone
    day = form.date.data
    ok = True
    inp = svc.BookingInput(room_id=room.id, group_id=parse_id(form.group.data),
                           purpose=form.purpose.data or "", attendees=form.attendees.data or 0,
                           extras=list(form.extras.data or []), book_free_only=bool(form.book_free_only.data))
    if isinstance(rules.scheme, FixedSlots):
        if rules.scheme.find(form.slot.data or "") is None:
            form.slot.errors = [_("時間区分を選んでください。")]
            ok = False
        else:
            inp.day, inp.slot_code = day, form.slot.data
    else:
        if form.start.data is None:
            form.start.errors = list(form.start.errors) + [_("開始時刻を入力してください。")]
            ok = False
        if form.end.data is None:
            form.end.errors = list(form.end.errors) + [_("終了時刻を入力してください。")]
            ok = False
        if ok and day is not None:
            inp.day = day
            inp.start = local(day, form.start.data, tz)
            inp.end = local(day, form.end.data, tz)
    if form.repeat.data in ("weekly", "monthly") and day is not None:
        if form.repeat.data == "weekly":
            inp.recurrence = RecurrenceSpec("weekly", weekdays=(day.weekday(),), until=form.repeat_until.data,
                                            count=form.repeat_count.data)
        else:
            inp.recurrence = RecurrenceSpec("monthly", weekdays=(day.weekday(),), nth=nth_weekday(day),
                                            until=form.repeat_until.data, count=form.repeat_count.data)
    return inp if ok and day is not None else None


def _occurrence_state(o: svc.Occurrence, language: str) -> tuple[str, str, str]:
    """(state class, symbol + label, details) for a series preview row."""
    codes = {f.code for f in o.failures}
    msgs = " ".join(f.message(language) for f in o.failures)
    if not codes:
        ja, en, sym = CELL_LABELS[CellState.FREE]
        return "free", f"{sym} {en if language == 'en' else ja}", ""
    if "closed" in codes:
        ja, en, sym = CELL_LABELS[CellState.CLOSED]
        return "closed", f"{sym} {en if language == 'en' else ja}", msgs
    if "conflict" in codes:
        ja, en, sym = CELL_LABELS[CellState.TAKEN]
        return "taken", f"{sym} {en if language == 'en' else ja}", msgs
    if "window_not_open" in codes:
        return "not_open", "－ " + (_("受付期間外")), msgs
    if "in_past" in codes:
        ja, en, sym = CELL_LABELS[CellState.PAST]
        return "past", f"{sym} {en if language == 'en' else ja}", msgs
    return "problem", "！ " + _("予約できません"), msgs


def _alternatives(room: Room, rules: RoomRules, inp: svc.BookingInput, group_class: str, now: datetime,
                  keep: dict[str, Any], language: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    same_time, later = svc.alternatives(_db(), room, rules, inp, now=now, group_class=group_class)

    def view(a: avail.Alternative) -> dict[str, Any]:
        atz = a.room.facility.timezone
        d = local_day(a.start, atz)
        if a.slot_code:
            url = book_url(a.room.id, d, slot=a.slot_code, **keep)
        else:
            url = book_url(a.room.id, d, start=fmt_time(a.start, atz), end=fmt_time(a.end, atz), **keep)
        return {"room": a.room, "facility": a.room.facility, "day": d, "start": fmt_time(a.start, atz),
                "end": fmt_time(a.end, atz), "url": url, "same_facility": a.same_facility}

    return [view(a) for a in same_time], [view(a) for a in later]


def _room_or_404(value: Any, *, inactive: bool = False) -> Room:
    """The room, or 404; one taken out of use only when ``inactive`` (a form sent for it is shown
    again with the reason and other rooms, not lost to a 404)."""
    try:
        room = _db().get(Room, int(value))
    except (TypeError, ValueError, OverflowError):
        room = None
    if room is None or not (room.active or inactive):
        abort(404)
    return room


@bp.route("/book", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    language = lang()
    now = utcnow()
    user = _me()
    assert user is not None
    room = _room_or_404(request.values.get("room"), inactive=request.method == "POST")
    facility = room.facility
    tz = facility.timezone
    today = today_in(tz, now)
    rules = rules_of(_db(), room)
    options = _group_options(user, today, language)
    posted = request.method == "POST"
    form = BookingForm() if posted else BookingForm(formdata=request.args or None)
    if not posted:
        if form.group.data in (None, "", "None") and options:
            form.group.data = str(options[0][0].id)
        if form.repeat.data in (None, "", "None"):
            form.repeat.data = "none"
    form.room.data = str(room.id)
    day = form.date.data if isinstance(form.date.data, date) else None
    if day is not None and not (EARLIEST_DAY <= day <= LATEST_DAY):
        day = None  # a GET is not validated: a date no calendar holds only opens the empty form
        if not posted:
            form.date.data = None
    _setup_form(form, room, rules, options, language, day)
    group_ids = {str(g.id) for g, _g in options}

    plan: svc.Plan | None = None
    alternatives: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    status = 200
    error_summary: list[str] = []

    def make_plan(inp: svc.BookingInput) -> svc.Plan | None:
        try:
            return svc.plan_booking(_db(), inp, actor=user, now=now)
        except Forbidden:
            abort(403)
        except DomainError:
            return None

    if posted:
        valid = form.validate()
        if form.group.data not in group_ids:
            form.group.errors = list(form.group.errors) + [_("予約する団体を選んでください。")]
            valid = False
        inp = _input(form, room, rules) if form.date.data else None
        if not valid or inp is None:
            status = 422
            if inp is not None and inp.group_id is not None and form.group.data in group_ids:
                plan = make_plan(inp)
        elif form.preview.data and not form.submit.data:
            plan = make_plan(inp)
        else:
            try:
                created = svc.create_booking(_db(), inp, actor=user, now=now)
            except Forbidden:
                db.session.rollback()
                abort(403)
            except DomainError as exc:
                db.session.rollback()
                field_map = {"recurrence": "repeat", "room": "slot"}
                if not isinstance(rules.scheme, FixedSlots):
                    field_map["slot"] = "start"
                apply_domain_error(form, exc, field_map=field_map, language=language)
                status = 422
                plan = make_plan(inp)
                if svc.alternatives_help(inp, exc.codes):
                    g = _db().get(Group, inp.group_id) if inp.group_id else None
                    gclass = g.group_class(today) if g else "general"
                    keep = {"group": form.group.data, "purpose": form.purpose.data, "attendees": form.attendees.data}
                    alternatives = _alternatives(room, rules, inp, gclass, now, keep, language)
            else:
                db.session.commit()
                return redirect(url_for("booking.detail", booking_id=created[0].id, created=1))
    elif day is not None and options:
        inp = _input(form, room, rules)
        form.slot.errors, form.start.errors, form.end.errors = [], [], []
        if inp is not None:
            inp.attendees = max(inp.attendees, 1)  # nothing typed yet: price and dates only
            plan = make_plan(inp)

    if status == 422:
        for f in form:
            for e in f.errors if isinstance(f.errors, list) else []:
                error_summary.append(f"{f.label.text}: {e}")
    occurrences = []
    if plan is not None:
        for o in plan.occurrences:
            state, text, details = _occurrence_state(o, language)
            occurrences.append({"day": o.day, "start": fmt_time(o.start, tz), "end": fmt_time(o.end, tz),
                                "state": state, "text": text, "details": details})
    return render_template(
        "booking/form.html", form=form, room=room, facility=facility, rules=rules, options=options,
        plan=plan, occurrences=occurrences, alternatives=alternatives, error_summary=error_summary,
        free_time=not isinstance(rules.scheme, FixedSlots), is_series=form.repeat.data in ("weekly", "monthly"),
        scheme=rules.scheme,
        groups_url=url_for("groups.my_groups") if "groups.my_groups" in current_app.view_functions else None,
    ), status


# --- the booking page, cancelling ---------------------------------------------------------------


def _booking_or_404(booking_id: int) -> Booking:
    try:
        return svc.get_booking_for(_db(), booking_id, _me())
    except NotFound:
        abort(404)


def next_steps(booking: Booking, language: str) -> list[str]:
    """What the group should do now, in plain words."""
    tz = booking.room.facility.timezone
    rules = rules_of(_db(), booking.room)
    s = Status(booking.status)
    fee = yen(booking.fee_total, language)
    out = []
    if s == Status.PENDING:
        out.append(_("施設の承認をお待ちください。承認・不承認はメールでお知らせします。"))
        if rules.claim.needs_claim(booking.fee_total):
            out.append(_("承認後、期限までに窓口で使用料（%(fee)s）をお支払いください。", fee=fee))
    elif s == Status.PROVISIONAL:
        if booking.claim_deadline:
            when = fmt_deadline(booking.claim_deadline, tz, language)
            out.append(_("%(when)sまでに窓口で使用料（%(fee)s）をお支払いください（申請書の提出）。", when=when, fee=fee))
        if rules.claim.on_expiry == "confirm":
            out.append(_("期限を過ぎると自動的に確定します。"))
        else:
            out.append(_("期限までにお支払いがないと、仮予約は取り消され、ほかの方が予約できるようになります。"))
    elif s == Status.CONFIRMED:
        out.append(_("予約は確定しています。当日は窓口で鍵を受け取ってください。"))
        if booking.room.checkin_required:
            out.append(_("開始から%(n)s分以内に窓口で受付をしてください。受付がないと無断不使用になります。",
                         n=booking.room.checkin_grace_minutes))
    elif s == Status.CHECKED_IN:
        out.append(_("利用中です。終わったら窓口に鍵を返してください。"))
    elif s == Status.CANCELLED and booking.cancellation_fee:
        out.append(_("取消料は%(fee)sです。", fee=yen(booking.cancellation_fee, language)))
    return out


@bp.get("/bookings/<int:booking_id>")
@login_required
def detail(booking_id: int):  # type: ignore[no-untyped-def]
    language = lang()
    booking = _booking_or_404(booking_id)
    tz = booking.room.facility.timezone
    quote = FeeQuote.from_dict(booking.fee_breakdown)
    siblings = list(booking.series.bookings) if booking.series is not None else []
    # the dates a series did not book, stored as ISO text: [{"date": "2027-01-12", "code": "closed"}]
    skipped = [date.fromisoformat(x["date"]) for x in booking.series.exceptions or ()] if booking.series else []
    return render_template(
        "booking/detail.html", booking=booking, tz=tz, quote=quote, siblings=siblings, skipped=skipped,
        series_text=describe_series(booking.series.spec if booking.series else None, language,
                                    local_day(siblings[0].start_at, tz) if siblings else None),
        steps=next_steps(booking, language), can_cancel=can(booking.status, Action.CANCEL),
        created=request.args.get("created") == "1",
        status_text=status_label(booking.status, language),
    )


class CancelForm(FlaskForm):
    # offered only for a date of a series with later dates still open (choices set by the view)
    scope = RadioField(_l("取り消す範囲"), choices=[], default="this")
    reason = TextAreaField(_l("取消の理由（任意）"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("予約を取り消す"))


@bp.route("/bookings/<int:booking_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(booking_id: int):  # type: ignore[no-untyped-def]
    language = lang()
    now = utcnow()
    booking = _booking_or_404(booking_id)
    if not can(booking.status, Action.CANCEL):
        return redirect(url_for("booking.detail", booking_id=booking.id))
    form = CancelForm()
    fee = svc.cancellation_quote(booking, now)
    rest, rest_fee = svc.cancel_following_quote(booking, now)
    tz = booking.room.facility.timezone
    if rest:
        form.scope.choices = [
            ("this", _("この日（%(day)s）だけ", day=fmt_day(local_day(booking.start_at, tz), language))),
            ("following", ngettext("この日と、それ以降の%(num)s日（計%(total)s日）", "この日と、それ以降の%(num)s日（計%(total)s日）",
                                   len(rest), total=len(rest) + 1)),
        ]
    else:
        del form.scope
    status = 200
    if form.validate_on_submit():
        following = bool(rest) and form.scope.data == "following"
        try:
            if following:
                done = svc.cancel_following(_db(), booking, actor=_me(), now=now, reason=form.reason.data or "")
            else:
                svc.cancel(_db(), booking, actor=_me(), now=now, reason=form.reason.data or "")
        except NotFound:
            db.session.rollback()
            abort(404)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc, language=language)
            status = 422
        else:
            db.session.commit()
            if following:
                flash(ngettext("%(num)s件の予約を取り消しました。", "%(num)s件の予約を取り消しました。", len(done)), "success")
            else:
                flash(_("予約を取り消しました。"), "success")
            return redirect(url_for("booking.detail", booking_id=booking.id))
    elif request.method == "POST":
        status = 422
    return render_template("booking/cancel.html", booking=booking, form=form, fee=fee, rest=rest,
                           rest_fee=rest_fee, tz=tz), status


# --- my bookings -------------------------------------------------------------------------------


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    group = SelectField(_l("団体"), choices=[], validate_choice=False)
    status = SelectField(_l("状態"), choices=[], validate_choice=False)
    submit = SubmitField(_l("絞り込む"))


@dataclass
class Entry:
    """One line of "my bookings": a booking, or a series with its bookings."""

    first: Booking
    bookings: list[Booking]
    series_text: str = ""


def _entries(bookings: Sequence[Booking], language: str) -> list[Entry]:
    out: list[Entry] = []
    by_series: dict[int, Entry] = {}
    for b in bookings:
        if b.series_id is not None:
            if b.series_id in by_series:
                by_series[b.series_id].bookings.append(b)
                continue
            first = local_day(b.series.bookings[0].start_at, b.room.facility.timezone) if b.series else None
            e = Entry(b, [b], describe_series(b.series.spec if b.series else None, language, first))
            by_series[b.series_id] = e
            out.append(e)
        else:
            out.append(Entry(b, [b]))
    return out


@bp.get("/my/bookings")
@login_required
def my_bookings():  # type: ignore[no-untyped-def]
    language = lang()
    now = utcnow()
    user = _me()
    assert user is not None
    form = FilterForm(formdata=request.args or None)
    groups = sorted((m.group for m in user.memberships), key=lambda g: g.name)
    form.group.choices = _choices([("", _("すべての団体"))] + [(str(g.id), g.name) for g in groups])
    form.status.choices = _choices(
        [("", _("すべて")), ("active", _("有効な予約（取消などを除く）"))]
        + [(s.value, status_label(s, language)) for s in Status])
    gid = parse_id(form.group.data)
    st = form.status.data or ""
    statuses: list[str] | None = None
    if st == "active":
        statuses = [Status.PENDING.value, Status.PROVISIONAL.value, Status.CONFIRMED.value, Status.CHECKED_IN.value]
    elif st in {s.value for s in Status}:
        statuses = [st]
    bookings = svc.bookings_of(_db(), user, group_id=gid, statuses=statuses)
    upcoming = [b for b in bookings if b.end_at > now]
    past = [b for b in bookings if b.end_at <= now]
    past.reverse()
    return render_template("booking/my_bookings.html", form=form, upcoming=_entries(upcoming, language),
                           past=_entries(past, language), has_groups=bool(groups))


__all__ = [
    "bp", "book_url", "best_group_class", "facility_day_tables", "room_range_table", "legend", "fmt_day",
    "equipment_label", "describe_series", "today_in", "parse_day", "time",
]
