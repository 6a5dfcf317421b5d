"""The front desk (窓口): today's rooms, approvals, claims and payment, booking on behalf, group
registrations, closures and the audit log.

Views are thin: each one asks ``services.desk`` / ``services.closures`` /
``services.registrations`` (which go through ``services.bookings`` for every booking action),
maps ``Forbidden`` to 403, ``NotFound`` to 404 and other ``DomainError``s onto flashes or the
form, and commits once. Every state change is a POST with a CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import (
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..clock import utcnow
from ..domain.calendar import local, local_day
from ..domain.errors import DomainError
from ..domain.lifecycle import Action, Status, can
from ..domain.slots import FixedSlots
from ..extensions import db
from ..models import Booking, Facility, Group, Room, User
from ..models.facility import name_in
from ..models.group import GROUP_STATUSES, kind_options
from ..services import availability as avail
from ..services import bookings as bsvc
from ..services import closures as csvc
from ..services import desk as dsvc
from ..services import registrations as rsvc
from ..services.mapping import FacilityRooms, rules_of, slot_scheme
from ..services.permissions import Forbidden, NotFound
from .booking import fmt_day, fmt_time
from .forms_util import DayField, apply_domain_error
from .i18n import aside, lang
from .safety import parse_day, parse_id, safe_next

bp = Blueprint("desk", __name__, url_prefix="/desk")

F = TypeVar("F", bound=Callable[..., Any])
PAYMENT_LABELS = {"cash": _l("窓口で現金"), "bank_transfer": _l("銀行振込"), "exempt": _l("免除")}
OVERRIDE_LABELS = {"window": _l("受付期間の例外"), "lead_time": _l("締切時間の例外"), "approval": _l("承認を省略")}


# --- plumbing --------------------------------------------------------------------------------


def _db() -> Session:
    return db.session()


def me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def staff_required(view: F) -> F:
    """Logged in (else the login page) and staff or admin (else 403)."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_staff:
            abort(403)
        try:
            return view(*args, **kwargs)
        except Forbidden:
            db.session.rollback()
            abort(403)
        except NotFound:
            db.session.rollback()
            abort(404)

    return wrapped  # type: ignore[return-value]


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def _int_arg(name: str) -> int | None:
    return parse_id(request.values.get(name))


def _day_arg(default: date) -> date:
    return parse_day(request.args.get("day"), default)


def _facility() -> Facility:
    return dsvc.choose_facility(_db(), me(), _int_arg("facility"))


def _booking(booking_id: int) -> Booking:
    return dsvc.staff_booking(_db(), me(), booking_id)


def _back(default: str) -> Response:
    return redirect(safe_next(request.form.get("next"), default))


def _flash_error(exc: DomainError) -> None:
    db.session.rollback()
    for f in exc.failures:
        flash(f.message(lang()), "error")


def _choices(pairs: list[tuple[Any, Any]]) -> list[Any]:
    try:
        from wtforms.fields.choices import SelectChoice

        return [SelectChoice(v, label) for v, label in pairs]
    except ImportError:  # pragma: no cover
        return pairs


def who(booking: Booking) -> str:
    if booking.group is not None:
        return booking.group.name
    return booking.contact_name + aside(booking.contact_phone, lang()) if booking.contact_phone else booking.contact_name


def slot_name(booking: Booking, language: str) -> str:
    if booking.slot_code:
        scheme = slot_scheme(booking.room.slot_scheme)
        if isinstance(scheme, FixedSlots):
            found = scheme.find(booking.slot_code)
            if found is not None:
                return found.name(language)
        return booking.slot_code
    return ""


def paid_label(booking: Booking) -> str:
    if booking.paid_at is not None:
        return str(PAYMENT_LABELS.get(booking.payment_method or "", booking.payment_method or ""))
    if booking.fee_total == 0:
        return _("無料")
    return _("未払い")


@bp.app_context_processor
def _desk_helpers() -> dict[str, Any]:
    return {"desk_who": who, "desk_slot": slot_name, "desk_paid": paid_label, "desk_can": can,
            "desk_check_in_open": bsvc.may_check_in,
            "desk_payment_label": lambda m: PAYMENT_LABELS.get(m or "", m or "")}


def _common(facility: Facility | None = None) -> dict[str, Any]:
    user = me()
    return {"facilities": dsvc.served_facilities(_db(), user), "facility": facility, "now": utcnow(),
            "action_form": ActionForm()}


# --- today -----------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def today():  # type: ignore[no-untyped-def]
    facility = _facility()
    now = utcnow()
    day = _day_arg(local_day(now, facility.timezone))
    board = dsvc.day_board(_db(), me(), facility, day)
    return render_template("desk/today.html", board=board, day=day, prev_day=day - timedelta(days=1),
                           next_day=day + timedelta(days=1), is_today=day == local_day(now, facility.timezone),
                           tz=facility.timezone, **_common(facility))


@bp.get("/sheet")
@staff_required
def sheet():  # type: ignore[no-untyped-def]
    facility = _facility()
    day = _day_arg(local_day(utcnow(), facility.timezone))
    board = dsvc.day_board(_db(), me(), facility, day)
    return render_template("desk/sheet.html", board=board, day=day, tz=facility.timezone, **_common(facility))


@bp.post("/bookings/<int:booking_id>/check-in")
@staff_required
def check_in(booking_id: int) -> Response:
    booking = _booking(booking_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        dsvc.check_in(_db(), booking, actor=me(), now=utcnow())
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        if booking.late_minutes:
            flash(_("受付しました（%(n)s分遅れ）。", n=booking.late_minutes), "success")
        else:
            flash(_("受付しました。鍵をお渡しください。"), "success")
    return _back(url_for("desk.booking", booking_id=booking.id))


@bp.post("/bookings/<int:booking_id>/no-show")
@staff_required
def no_show(booking_id: int) -> Response:
    booking = _booking(booking_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        dsvc.mark_no_show(_db(), booking, actor=me(), now=utcnow())
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        flash(_("無断不使用として記録しました。"), "success")
    return _back(url_for("desk.booking", booking_id=booking.id))


# --- one booking -----------------------------------------------------------------------------


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("不承認の理由（団体に通知されます）"), validators=[InputRequired(), Length(max=500)])
    submit = SubmitField(_l("不承認にする"))


class PaymentForm(FlaskForm):
    amount = IntegerField(_l("受領金額（円）"), validators=[InputRequired(), NumberRange(min=0, max=bsvc.MAX_PAYMENT)])
    method = SelectField(_l("支払方法"), choices=_choices([(k, v) for k, v in PAYMENT_LABELS.items()]))
    receipt = StringField(_l("領収書番号"), validators=[Optional(), Length(max=40)])
    submit = SubmitField(_l("支払いを記録して確定する"))


@bp.get("/bookings/<int:booking_id>")
@staff_required
def booking(booking_id: int):  # type: ignore[no-untyped-def]
    b = _booking(booking_id)
    problems = bsvc.approval_problems(_db(), b, utcnow()) if b.status == Status.PENDING.value else []
    pay = PaymentForm(formdata=None, amount=b.fee_total)
    return render_template("desk/booking.html", booking=b, tz=b.room.facility.timezone, quote=dsvc.quote_of(b),
                           events=dsvc.booking_events(_db(), b), problems=problems, reject_form=RejectForm(),
                           pay_form=pay, Status=Status, Action=Action, **_common(b.room.facility))


@bp.post("/bookings/<int:booking_id>/approve")
@staff_required
def approve(booking_id: int) -> Response:
    b = _booking(booking_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        dsvc.approve(_db(), b, actor=me(), now=utcnow())
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        flash(_("承認しました。"), "success")
    return _back(url_for("desk.booking", booking_id=b.id))


@bp.post("/bookings/<int:booking_id>/reject")
@staff_required
def reject(booking_id: int) -> Response:
    b = _booking(booking_id)
    form = RejectForm()
    if not form.validate_on_submit():
        flash(_("不承認の理由を入力してください。"), "error")
        return _back(url_for("desk.booking", booking_id=b.id))
    try:
        bsvc.reject(_db(), b, actor=me(), now=utcnow(), reason=form.reason.data or "")
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        flash(_("不承認にしました。団体に通知します。"), "success")
    return _back(url_for("desk.booking", booking_id=b.id))


@bp.route("/bookings/<int:booking_id>/payment", methods=["GET", "POST"])
@staff_required
def payment(booking_id: int):  # type: ignore[no-untyped-def]
    b = _booking(booking_id)
    form = PaymentForm() if request.method == "POST" else PaymentForm(formdata=None, amount=b.fee_total)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                dsvc.record_payment(_db(), b, actor=me(), now=utcnow(), amount=form.amount.data,
                                    method=form.method.data or "cash", receipt=form.receipt.data or "")
            except DomainError as exc:
                db.session.rollback()
                apply_domain_error(form, exc, field_map={"method": "method", "amount": "amount"})
                status = 422
            else:
                db.session.commit()
                flash(_("支払いを記録し、予約を確定しました。"), "success")
                return redirect(url_for("desk.booking", booking_id=b.id))
        else:
            status = 422
    return render_template("desk/payment.html", booking=b, form=form, quote=dsvc.quote_of(b),
                           tz=b.room.facility.timezone, **_common(b.room.facility)), status


@bp.get("/bookings/<int:booking_id>/permit")
@staff_required
def permit(booking_id: int):  # type: ignore[no-untyped-def]
    b = _booking(booking_id)
    if b.status not in (Status.CONFIRMED.value, Status.CHECKED_IN.value, Status.COMPLETED.value):
        flash(_("利用許可書は予約確定後に発行できます。"), "error")
        return redirect(url_for("desk.booking", booking_id=b.id))
    return render_template("desk/permit.html", booking=b, quote=dsvc.quote_of(b), tz=b.room.facility.timezone,
                           issued=utcnow(), **_common(b.room.facility))


# --- approvals and claims ----------------------------------------------------------------------


@bp.get("/approvals")
@staff_required
def approvals():  # type: ignore[no-untyped-def]
    fid = _int_arg("facility")
    items = dsvc.approval_queue(_db(), me(), now=utcnow(), facility_id=fid)
    facility = _db().get(Facility, fid) if fid else None
    return render_template("desk/approvals.html", items=items, **_common(facility))


@bp.post("/approvals/bulk")
@staff_required
def bulk_approve() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    ids = [i for x in request.form.getlist("booking_id") if (i := parse_id(x)) is not None]
    rows = [dsvc.staff_booking(_db(), me(), i) for i in ids]
    if not rows:
        flash(_("承認する予約を選んでください。"), "error")
        return redirect(url_for("desk.approvals"))
    result = dsvc.bulk_approve(_db(), rows, actor=me(), now=utcnow())
    db.session.commit()
    if result.approved:
        flash(_("%(n)s件を承認しました。", n=len(result.approved)), "success")
    for b, problems in result.skipped:
        flash(_("受付番号%(id)sは承認しませんでした: %(why)s", id=b.id,
                why=" ".join(p.message(lang()) for p in problems)), "warning")
    return _back(url_for("desk.approvals"))


@bp.get("/claims")
@staff_required
def claims():  # type: ignore[no-untyped-def]
    fid = _int_arg("facility")
    rows = dsvc.claims_queue(_db(), me(), facility_id=fid)
    facility = _db().get(Facility, fid) if fid else None
    return render_template("desk/claims.html", rows=rows, **_common(facility))


# --- booking on behalf -------------------------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class BehalfForm(FlaskForm):
    room_id = SelectField(_l("部屋"), coerce=int, validators=[InputRequired()])
    day = DayField(_l("利用日"), validators=[InputRequired()])
    slot_code = SelectField(_l("時間区分"), validators=[Optional()])
    start = TimeField(_l("開始時刻（時間貸しの部屋）"), validators=[Optional()])
    end = TimeField(_l("終了時刻（時間貸しの部屋）"), validators=[Optional()])
    group_id = SelectField(_l("団体"), coerce=int)
    contact_name = StringField(_l("連絡先の氏名（団体なしの場合）"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("連絡先の電話番号（団体なしの場合）"), validators=[Optional(), Length(max=40)])
    purpose = StringField(_l("利用目的"), validators=[InputRequired(), Length(max=500)])
    attendees = IntegerField(_l("利用人数"), validators=[InputRequired(), NumberRange(min=1, max=10000)])
    extras = StringField(_l("付帯設備のコード（カンマ区切り）"), validators=[Optional(), Length(max=200)])
    overrides = MultiCheckboxField(_l("例外扱い（記録されます）"),
                                   choices=_choices([(k, v) for k, v in OVERRIDE_LABELS.items()]))
    submit = SubmitField(_l("代理で予約する"))


def _behalf_setup(form: BehalfForm, facility: Facility, language: str) -> None:
    rooms = [r for r in facility.rooms if r.active]
    form.room_id.choices = _choices([(r.id, r.name(language)) for r in rooms])
    codes: dict[str, str] = {"": _("（時間貸し）")}
    for r in rooms:
        scheme = slot_scheme(r.slot_scheme)
        if isinstance(scheme, FixedSlots):
            for s in list(scheme.slots) + list(scheme.joined):
                codes.setdefault(s.code, s.name(language))
    form.slot_code.choices = _choices(list(codes.items()))
    groups = dsvc.bookable_groups(_db())
    form.group_id.choices = _choices([(0, _("団体なし（個人・一回限りの連絡先）"))] +
                                     [(g.id, g.name + aside(g.status_label(language), language)) for g in groups])


@bp.route("/book", methods=["GET", "POST"])
@staff_required
def book():  # type: ignore[no-untyped-def]
    facility = _facility()
    language = lang()
    now = utcnow()
    form = BehalfForm()
    _behalf_setup(form, facility, language)
    if request.method == "GET":  # prefilled from a link: another free time offered below
        form.day.data = _day_arg(form.day.data or local_day(now, facility.timezone))
        if _int_arg("room"):
            form.room_id.data = _int_arg("room")
        slot = request.args.get("slot")
        if slot and any(value == slot for value, *_rest in form.slot_code.iter_choices()):
            form.slot_code.data = slot
    status = 200
    taken: list[int] = []
    alternatives: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    if form.validate_on_submit():
        tz = facility.timezone
        inp = bsvc.BookingInput(
            room_id=form.room_id.data or 0, group_id=form.group_id.data or None, purpose=form.purpose.data or "",
            attendees=form.attendees.data or 1,
            extras=[x.strip() for x in (form.extras.data or "").split(",") if x.strip()],
            contact_name=form.contact_name.data or "", contact_phone=form.contact_phone.data or "")
        room = _db().get(Room, inp.room_id)
        if room is not None and not isinstance(slot_scheme(room.slot_scheme), FixedSlots):
            if form.start.data and form.end.data and form.day.data:
                inp.start = local(form.day.data, form.start.data, tz)
                inp.end = local(form.day.data, form.end.data, tz)
        else:
            inp.day, inp.slot_code = form.day.data, form.slot_code.data or None
        try:
            made = dsvc.book_on_behalf(_db(), inp, actor=me(), now=now, overrides=form.overrides.data or [])
        except DomainError as exc:
            db.session.rollback()
            if any(f.code == "forbidden" for f in exc.failures):
                abort(403)
            apply_domain_error(form, exc, field_map={"slot": "slot_code", "group": "group_id", "room": "room_id",
                                                      "date": "day", "overrides": "overrides"})
            status = 422
            if "conflict" in exc.codes and room is not None:
                taken = sorted({c["booking_id"] for f in exc.failures if f.code == "conflict"
                                for c in f.details.get("conflicts", ())})
                alternatives = _desk_alternatives(facility, room, inp, now)
        else:
            db.session.commit()
            flash(_("代理予約を登録しました。"), "success")
            return redirect(url_for("desk.booking", booking_id=made[0].id))
    elif request.method == "POST":
        status = 422
    return render_template("desk/book.html", form=form, taken=taken, alternatives=alternatives,
                           **_common(facility)), status


def _desk_alternatives(facility: Facility, room: Room, inp: bsvc.BookingInput,
                       now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a refused booking on behalf could take instead, in this facility (the desk books for
    its own): other rooms free at the same time, and the room's next free times, each a link
    that opens this form on it."""
    tz = facility.timezone
    same_time, later = bsvc.alternatives(_db(), room, rules_of(_db(), room), inp, now=now, group_class="registered")

    def view(a: avail.Alternative) -> dict[str, Any]:
        d = local_day(a.start, tz)
        return {"room": a.room, "day": d, "start": fmt_time(a.start, tz), "end": fmt_time(a.end, tz),
                "url": url_for("desk.book", facility=facility.id, room=a.room.id, day=d.isoformat(),
                               slot=a.slot_code or None)}

    return [view(a) for a in same_time if a.same_facility], [view(a) for a in later]


# --- group registrations -----------------------------------------------------------------------


class RegisterForm(FlaskForm):
    renewal_date = DayField(_l("次回更新日"), validators=[InputRequired()])
    exemption_code = SelectField(_l("減免区分"), validators=[Optional()])
    submit = SubmitField(_l("団体を登録する"))


class RenameForm(FlaskForm):
    name = StringField(_l("団体名"), validators=[InputRequired(), Length(max=200)])
    kind = SelectField(_l("団体の種類"), validators=[InputRequired()])
    submit = SubmitField(_l("団体名・種類を変更する"))


def _rename_form(language: str, group: Group | None = None) -> RenameForm:
    """The form with the group's current name and kind (``group``), or the one posted."""
    # prefixed: the page's other forms have a "submit" too, and ids must be unique
    form = RenameForm(formdata=None, obj=group, prefix="rename") if group is not None else RenameForm(prefix="rename")
    form.kind.choices = _choices(kind_options(language))
    return form


class SuspendForm(FlaskForm):
    reason = TextAreaField(_l("登録停止の理由"), validators=[InputRequired(), Length(max=500)])
    submit = SubmitField(_l("登録を停止する"))


def _exemption_names(language: str) -> dict[str, str]:
    """Each exemption category's name, by code: staff read "登録団体（50%減額）", not ``civic_50``."""
    return {k: name_in(language, ja, en) for k, (ja, en) in rsvc.exemption_categories(_db()).items()}


def _register_form(language: str, group: Group | None = None, *, formdata: bool = True) -> RegisterForm:
    form = RegisterForm() if formdata else RegisterForm(formdata=None)
    form.exemption_code.choices = _choices([("", _("なし")), *_exemption_names(language).items()])
    if group is not None and not formdata:
        form.exemption_code.data = group.exemption_code or ""
        form.renewal_date.data = group.renewal_date
    return form


@bp.get("/groups")
@staff_required
def groups():  # type: ignore[no-untyped-def]
    status = request.args.get("status") or None
    if status not in GROUP_STATUSES:
        status = None
    rows = rsvc.list_groups(_db(), me(), status=status)
    counts = dsvc.no_show_counts(_db(), [g.id for g in rows])
    return render_template("desk/groups.html", rows=rows, status=status, statuses=GROUP_STATUSES, counts=counts,
                           exemption_names=_exemption_names(lang()), **_common())


def _group(group_id: int) -> Group:
    group = _db().get(Group, group_id)
    if group is None:
        abort(404)
    return group


def _served_ids() -> list[int] | None:
    user = me()
    return None if user.is_admin else [f.id for f in user.facilities]


@bp.get("/groups/<int:group_id>")
@staff_required
def group(group_id: int):  # type: ignore[no-untyped-def]
    g = _group(group_id)
    return _group_page(g, _register_form(lang(), g, formdata=False))


def _group_page(g: Group, register_form: RegisterForm, status: int = 200) -> Any:
    hist = rsvc.history(_db(), g, actor=me(), facility_ids=_served_ids())
    return render_template("desk/group.html", group=g, hist=hist, exemption_names=_exemption_names(lang()),
                           register_form=register_form, suspend_form=SuspendForm(),
                           rename_form=_rename_form(lang(), g), **_common()), status


def _registration_action(group_id: int, fn: Callable[..., Any], done: str) -> Any:
    g = _group(group_id)
    form = _register_form(lang())
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _group_page(g, form, 422)  # the date and exemption as posted, with the field's own error
    now = utcnow()
    try:
        fn(_db(), g, actor=me(), now=now, today=local_day(now, "Asia/Tokyo"),
           renewal_date=form.renewal_date.data, exemption_code=form.exemption_code.data or None)
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("desk.group", group_id=g.id))


@bp.post("/groups/<int:group_id>/register")
@staff_required
def group_register(group_id: int) -> Response:
    return _registration_action(group_id, rsvc.register, _("登録しました。"))


@bp.post("/groups/<int:group_id>/renew")
@staff_required
def group_renew(group_id: int) -> Response:
    return _registration_action(group_id, rsvc.renew, _("登録を更新しました。"))


@bp.post("/groups/<int:group_id>/rename")
@staff_required
def group_rename(group_id: int) -> Response:
    g = _group(group_id)
    form = _rename_form(lang())
    if not form.validate_on_submit():
        flash(_("団体名を入力し、種類を選んでください。"), "error")
        return redirect(url_for("desk.group", group_id=g.id))
    try:
        rsvc.rename(_db(), g, actor=me(), now=utcnow(), name=form.name.data or "", kind=form.kind.data or "")
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        flash(_("団体名・種類を変更しました。"), "success")
    return redirect(url_for("desk.group", group_id=g.id))


@bp.post("/groups/<int:group_id>/suspend")
@staff_required
def group_suspend(group_id: int) -> Response:
    g = _group(group_id)
    form = SuspendForm()
    if not form.validate_on_submit():
        flash(_("登録停止の理由を入力してください。"), "error")
        return redirect(url_for("desk.group", group_id=g.id))
    try:
        rsvc.suspend(_db(), g, actor=me(), now=utcnow(), reason=form.reason.data or "")
    except DomainError as exc:
        _flash_error(exc)
    else:
        db.session.commit()
        flash(_("登録を停止しました。"), "success")
    return redirect(url_for("desk.group", group_id=g.id))


# --- closures ----------------------------------------------------------------------------------


class ClosureForm(FlaskForm):
    room_id = SelectField(_l("対象"), coerce=int)
    start_date = DayField(_l("開始日"), validators=[InputRequired()])
    end_date = DayField(_l("終了日"), validators=[InputRequired()])
    reason_ja = StringField(_l("理由（日本語）"), validators=[InputRequired(), Length(max=300)])
    reason_en = StringField(_l("理由（英語）"), validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("休館を登録する"))


class EmergencyForm(FlaskForm):
    day = DayField(_l("休館する日"), validators=[InputRequired()])
    reason_ja = StringField(_l("理由（日本語）"), default="暴風警報による臨時休館",
                            validators=[InputRequired(), Length(max=300)])
    reason_en = StringField(_l("理由（英語）"), default="Emergency closure (storm warning)",
                            validators=[Optional(), Length(max=300)])
    expected = IntegerField(validators=[Optional()])
    submit = SubmitField(_l("休館にして予約をすべて取り消す"))


@bp.route("/closures", methods=["GET", "POST"])
@staff_required
def closures():  # type: ignore[no-untyped-def]
    facility = _facility()
    language = lang()
    now = utcnow()
    form = ClosureForm()
    form.room_id.choices = _choices([(0, _("施設全体"))] + [(r.id, r.name(language)) for r in facility.rooms])
    status = 200
    affected: list[Booking] = []
    if form.validate_on_submit():
        try:
            closure = csvc.add_closure(_db(), facility, actor=me(), now=now, start=form.start_date.data,
                                       end=form.end_date.data, reason_ja=form.reason_ja.data or "",
                                       reason_en=form.reason_en.data or "", room_id=form.room_id.data or None)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
            status = 422
        else:
            db.session.commit()
            flash(_("休館を登録しました。"), "success")
            affected = csvc.affected_bookings(_db(), facility, closure.start_date, closure.end_date, closure.room)
            if affected:
                flash(ngettext("この期間に有効な予約が%(num)s件あります。個別に連絡・取消してください。",
                               "この期間に有効な予約が%(num)s件あります。個別に連絡・取消してください。", len(affected)),
                      "warning")
            return redirect(url_for("desk.closures", facility=facility.id))
    elif request.method == "POST":
        status = 422
    rows = csvc.upcoming_closures(_db(), facility, local_day(now, facility.timezone))
    return render_template("desk/closures.html", form=form, rows=rows, emergency=EmergencyForm(formdata=None,
                           day=local_day(now, facility.timezone)), **_common(facility)), status


@bp.route("/closures/emergency", methods=["GET", "POST"])
@staff_required
def emergency():  # type: ignore[no-untyped-def]
    facility = _facility()
    now = utcnow()
    form = EmergencyForm()
    status = 200
    if request.method == "GET":
        form.day.data = _day_arg(local_day(now, facility.timezone))
    elif not form.validate():
        if form.day.errors or form.day.data is None:  # the page's own hidden date: start again from the list
            flash(_("日付が正しくありません。もう一度日付を選んでください。"), "error")
            return redirect(url_for("desk.closures", facility=facility.id))
        status = 422  # the reasons: shown again with what was typed and why
    day = form.day.data or local_day(now, facility.timezone)
    preview = csvc.emergency_preview(_db(), facility, day, actor=me())
    if status == 200 and request.method == "POST" and request.form.get("confirm") == "1":
        try:
            result = csvc.emergency_close(_db(), facility, day, actor=me(), now=now,
                                          reason_ja=form.reason_ja.data or "", reason_en=form.reason_en.data or "",
                                          expected=form.expected.data)
        except DomainError as exc:
            _flash_error(exc)
            preview = csvc.emergency_preview(_db(), facility, day, actor=me())
        else:
            db.session.commit()
            flash(ngettext("%(day)sを休館にし、%(num)s件の予約を取り消しました。各団体に通知します。",
                           "%(day)sを休館にし、%(num)s件の予約を取り消しました。各団体に通知します。",
                           len(result.cancelled), day=fmt_day(day, lang())), "success")
            if result.in_use:
                flash(ngettext("利用中の%(num)s件は取り消していません。窓口で対応してください。",
                               "利用中の%(num)s件は取り消していません。窓口で対応してください。", len(result.in_use)),
                      "warning")
            return redirect(url_for("desk.today", facility=facility.id, day=day.isoformat()))
    form.expected.data = len(preview.cancellable)
    return render_template("desk/emergency.html", form=form, day=day, preview=preview, tz=facility.timezone,
                           **_common(facility)), status


# --- audit log ---------------------------------------------------------------------------------


@bp.get("/log")
@staff_required
def log():  # type: ignore[no-untyped-def]
    fid = _int_arg("facility")

    def parse(name: str) -> date | None:
        return parse_day(request.args.get(name), None)

    action = (request.args.get("action") or "")[:60]
    first, last = parse("first"), parse("last")
    page = _int_arg("page") or 1
    result = dsvc.audit_log(_db(), me(), facility_id=fid, action=action, first=first, last=last, page=page)
    facility = _db().get(Facility, fid) if fid else None
    args = {k: v for k, v in {"facility": fid, "action": action, "first": first and first.isoformat(),
                              "last": last and last.isoformat()}.items() if v}
    return render_template("desk/log.html", result=result, actions=dsvc.action_names(_db(), me()), action=action,
                           first=first, last=last, args=args, **_common(facility))


# --- utilization ----------------------------------------------------------------------------


@bp.get("/utilization")
@staff_required
def utilization():  # type: ignore[no-untyped-def]
    """Booked share of each room's bookable hours for a month, as bars and as a table."""
    from ..services import reports

    facility = _facility()
    today = local_day(utcnow(), facility.timezone)
    first = parse_day((request.args.get("month") or "") + "-01", today.replace(day=1))
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    report = reports.utilization(_db(), me(), facility, first, last)
    prev_month = (first - timedelta(days=1)).replace(day=1)
    return render_template("desk/utilization.html", report=report, month=first, prev_month=prev_month,
                           next_month=last + timedelta(days=1), **_common(facility))


def fmt_instant(value: datetime, tz: str = "Asia/Tokyo") -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("desk_at")
def _desk_at(value: datetime | None, tz: str = "Asia/Tokyo") -> str:
    return fmt_instant(value, tz) if value else ""


__all__ = ["bp", "FacilityRooms"]
