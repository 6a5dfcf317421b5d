"""Administration (admins only): facilities, rooms and staff accounts.

Simple settings are plain inputs; opening hours are one open/close pair per weekday; the
rule tables (slot scheme, fees with extras and exemptions, booking windows, claim policy,
cancellation tiers) are JSON textareas validated by ``services.admin_config`` through the same
domain objects the booking rules use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..clock import utcnow
from ..domain.errors import DomainError
from ..extensions import db
from ..models import Facility, Room, User
from ..services import admin_config as asvc
from ..services import system_status
from ..services.permissions import Forbidden, NotFound
from .desk import MultiCheckboxField, _choices, me
from .forms_util import apply_domain_error
from .i18n import lang
from .safety import parse_id

bp = Blueprint("admin", __name__, url_prefix="/admin")

F = TypeVar("F", bound=Callable[..., Any])
WEEKDAYS = (("月", "Mon"), ("火", "Tue"), ("水", "Wed"), ("木", "Thu"), ("金", "Fri"), ("土", "Sat"), ("日", "Sun"))
DEFAULT_SCHEME = {
    "kind": "slots",
    "slots": [
        {"code": "morning", "name_ja": "午前", "name_en": "Morning", "start": "08:30", "end": "12:00"},
        {"code": "afternoon", "name_ja": "午後", "name_en": "Afternoon", "start": "13:00", "end": "17:00"},
        {"code": "evening", "name_ja": "夜間", "name_en": "Evening", "start": "17:30", "end": "21:00"},
    ],
    "joined": [{"code": "full_day", "name_ja": "全日", "name_en": "Full day",
                "parts": ["morning", "afternoon", "evening"]}],
}


def admin_required(view: F) -> F:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
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


def _weekday_choices() -> list[Any]:
    return _choices([(i, en if lang() == "en" else ja) for i, (ja, en) in enumerate(WEEKDAYS)])


# --- forms ---------------------------------------------------------------------------------------


class FacilityForm(FlaskForm):
    code = StringField(_l("コード（英数字）"), validators=[InputRequired(), Length(max=40)])
    name_ja = StringField(_l("名称（日本語）"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("名称（英語）"), validators=[InputRequired(), Length(max=200)])
    address_ja = StringField(_l("住所（日本語）"), validators=[Optional(), Length(max=300)])
    address_en = StringField(_l("住所（英語）"), validators=[Optional(), Length(max=300)])
    phone = StringField(_l("電話番号"), validators=[Optional(), Length(max=40)])
    timezone = StringField(_l("タイムゾーン"), default="Asia/Tokyo", validators=[InputRequired(), Length(max=64)])
    closed_weekdays = MultiCheckboxField(_l("定休日"), coerce=int)
    closed_on_holidays = BooleanField(_l("祝日は休館"))
    new_year_break = BooleanField(_l("年末年始（12月29日〜1月3日）は休館"), default=True)
    description_ja = TextAreaField(_l("説明（日本語）"), validators=[Optional(), Length(max=2000)])
    description_en = TextAreaField(_l("説明（英語）"), validators=[Optional(), Length(max=2000)])
    sort_order = IntegerField(_l("表示順"), default=0, validators=[Optional()])
    submit = SubmitField(_l("保存する"))


for _d in range(7):
    setattr(FacilityForm, f"open_{_d}", TimeField(validators=[Optional()]))
    setattr(FacilityForm, f"close_{_d}", TimeField(validators=[Optional()]))


class RoomForm(FlaskForm):
    code = StringField(_l("コード"), validators=[InputRequired(), Length(max=40)])
    name_ja = StringField(_l("名称（日本語）"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("名称（英語）"), validators=[InputRequired(), Length(max=200)])
    capacity = IntegerField(_l("定員"), validators=[InputRequired(), NumberRange(min=1, max=100000)])
    floor_area = FloatField(_l("面積（㎡）"), validators=[Optional(), NumberRange(min=0)])
    equipment = StringField(_l("設備（カンマ区切り）"), validators=[Optional(), Length(max=500)])
    slot_scheme = TextAreaField(_l("時間区分（JSON）"), validators=[InputRequired()])
    fee_table = TextAreaField(_l("料金表・付帯設備・減免区分（JSON）"), validators=[Optional()])
    windows = TextAreaField(_l("団体区分ごとの受付期間（JSON）"), validators=[Optional()])
    claim_policy = TextAreaField(_l("仮予約の期限（JSON）"), validators=[Optional()])
    cancellation_tiers = TextAreaField(_l("取消料（JSON、空欄は標準）"), validators=[Optional()])
    requires_approval = BooleanField(_l("職員の承認が必要"))
    min_lead_minutes = IntegerField(_l("予約の締切（利用開始の何分前まで）"), default=0, validators=[Optional()])
    checkin_required = BooleanField(_l("当日の受付が必要"))
    checkin_grace_minutes = IntegerField(_l("受付の猶予（分）"), default=30, validators=[Optional()])
    buffer_minutes = IntegerField(_l("前後の間隔（分）"), default=0, validators=[Optional()])
    part_ids = MultiCheckboxField(_l("分割部分（この部屋を構成する部屋）"), coerce=int)
    description_ja = TextAreaField(_l("説明（日本語）"), validators=[Optional(), Length(max=2000)])
    description_en = TextAreaField(_l("説明（英語）"), validators=[Optional(), Length(max=2000)])
    sort_order = IntegerField(_l("表示順"), default=0, validators=[Optional()])
    active = BooleanField(_l("予約を受け付ける"), default=True)
    submit = SubmitField(_l("保存する"))


JSON_FIELDS = ("slot_scheme", "fee_table", "windows", "claim_policy", "cancellation_tiers")


class InviteForm(FlaskForm):
    email = StringField(_l("メールアドレス"), validators=[InputRequired(), Length(max=254)])
    display_name = StringField(_l("氏名"), validators=[InputRequired(), Length(max=100)])
    role = SelectField(_l("役割"), choices=_choices([("staff", _l("窓口職員")), ("admin", _l("管理者"))]))
    facility_ids = MultiCheckboxField(_l("担当施設"), coerce=int)
    submit = SubmitField(_l("職員アカウントを作成"))


class AssignForm(FlaskForm):
    facility_ids = MultiCheckboxField(_l("担当施設"), coerce=int)
    submit = SubmitField(_l("担当施設を保存"))


class ActiveForm(FlaskForm):
    """Only the CSRF token."""


# --- helpers -------------------------------------------------------------------------------------


def _facility(facility_id: int) -> Facility:
    f = db.session.get(Facility, facility_id)
    if f is None:
        abort(404)
    return f


def _all_facilities() -> list[Facility]:
    return list(db.session.scalars(select(Facility).order_by(Facility.sort_order, Facility.id)))


def _facility_data(form: FacilityForm) -> asvc.FacilityData:
    hours = {}
    for d in range(7):
        o, c = getattr(form, f"open_{d}").data, getattr(form, f"close_{d}").data
        hours[d] = (o, c) if o and c else None
    return asvc.FacilityData(
        code=form.code.data or "", name_ja=form.name_ja.data or "", name_en=form.name_en.data or "",
        address_ja=form.address_ja.data or "", address_en=form.address_en.data or "", phone=form.phone.data or "",
        timezone=(form.timezone.data or "").strip(), hours=hours, closed_weekdays=list(form.closed_weekdays.data or []),
        closed_on_holidays=bool(form.closed_on_holidays.data), new_year_break=bool(form.new_year_break.data),
        description_ja=form.description_ja.data or "", description_en=form.description_en.data or "",
        sort_order=form.sort_order.data or 0)


def _fill_facility(form: FacilityForm, data: asvc.FacilityData) -> None:
    for name in ("code", "name_ja", "name_en", "address_ja", "address_en", "phone", "timezone", "closed_weekdays",
                 "closed_on_holidays", "new_year_break", "description_ja", "description_en", "sort_order"):
        getattr(form, name).data = getattr(data, name)
    for d in range(7):
        v = data.hours.get(d)
        getattr(form, f"open_{d}").data = v[0] if v else None
        getattr(form, f"close_{d}").data = v[1] if v else None


def _room_data(form: RoomForm) -> asvc.RoomData | None:
    """The form's values; None (with errors on the fields) when a JSON field does not parse."""
    parsed: dict[str, Any] = {}
    ok = True
    for name in JSON_FIELDS:
        raw = (getattr(form, name).data or "").strip()
        if not raw:
            parsed[name] = None if name == "cancellation_tiers" else {}
            continue
        try:
            parsed[name] = json.loads(raw)
        except json.JSONDecodeError as exc:
            getattr(form, name).errors = [_("JSONの形式が正しくありません（%(line)s行目）。", line=exc.lineno)]
            ok = False
            continue
        except RecursionError:  # brackets nested thousands deep: no table of ours looks like that
            getattr(form, name).errors = [_("JSONの形式が正しくありません（%(line)s行目）。", line=1)]
            ok = False
            continue
        want = list if name == "cancellation_tiers" else dict
        if not isinstance(parsed[name], want):
            getattr(form, name).errors = [_("JSONの形式が正しくありません（%(line)s行目）。", line=1)]
            ok = False
    if not ok:
        return None
    return asvc.RoomData(
        code=form.code.data or "", name_ja=form.name_ja.data or "", name_en=form.name_en.data or "",
        capacity=form.capacity.data or 0, slot_scheme=parsed["slot_scheme"], fee_table=parsed["fee_table"],
        windows=parsed["windows"], claim_policy=parsed["claim_policy"],
        cancellation_tiers=parsed["cancellation_tiers"], floor_area=form.floor_area.data,
        equipment=[x.strip() for x in (form.equipment.data or "").split(",") if x.strip()],
        requires_approval=bool(form.requires_approval.data), min_lead_minutes=form.min_lead_minutes.data or 0,
        checkin_required=bool(form.checkin_required.data),
        checkin_grace_minutes=form.checkin_grace_minutes.data if form.checkin_grace_minutes.data is not None else 30,
        buffer_minutes=form.buffer_minutes.data or 0, description_ja=form.description_ja.data or "",
        description_en=form.description_en.data or "", sort_order=form.sort_order.data or 0,
        active=bool(form.active.data), part_ids=list(form.part_ids.data or []))


def _fill_room(form: RoomForm, data: asvc.RoomData) -> None:
    for name in ("code", "name_ja", "name_en", "capacity", "floor_area", "requires_approval", "min_lead_minutes",
                 "checkin_required", "checkin_grace_minutes", "buffer_minutes", "description_ja", "description_en",
                 "sort_order", "active", "part_ids"):
        getattr(form, name).data = getattr(data, name)
    form.equipment.data = ", ".join(data.equipment)
    for name in JSON_FIELDS:
        value = getattr(data, name)
        getattr(form, name).data = "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/")
@admin_required
def index():  # type: ignore[no-untyped-def]
    return render_template("admin/index.html", facilities=_all_facilities(),
                           staff=asvc.staff_users(db.session(), me()))


@bp.route("/facilities/new", methods=["GET", "POST"])
@bp.route("/facilities/<int:facility_id>", methods=["GET", "POST"])
@admin_required
def facility(facility_id: int | None = None):  # type: ignore[no-untyped-def]
    f = _facility(facility_id) if facility_id is not None else None
    form = FacilityForm()
    form.closed_weekdays.choices = _weekday_choices()
    if request.method == "GET" and f is not None:
        _fill_facility(form, asvc.FacilityData.of(f))
    status = 200
    if form.validate_on_submit():
        try:
            saved = asvc.save_facility(db.session(), _facility_data(form), actor=me(), now=utcnow(), facility=f)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc, field_map={**{f"hours_{d}": f"open_{d}" for d in range(7)}, "hours": "open_0"})
            status = 422
        else:
            db.session.commit()
            flash(_("施設を保存しました。"), "success")
            return redirect(url_for("admin.facility", facility_id=saved.id))
    elif request.method == "POST":
        status = 422
    return render_template("admin/facility.html", form=form, facility=f, weekdays=WEEKDAYS), status


@bp.route("/facilities/<int:facility_id>/rooms/new", methods=["GET", "POST"])
@bp.route("/facilities/<int:facility_id>/rooms/<int:room_id>", methods=["GET", "POST"])
@admin_required
def room(facility_id: int, room_id: int | None = None):  # type: ignore[no-untyped-def]
    f = _facility(facility_id)
    r = None
    if room_id is not None:
        r = db.session.get(Room, room_id)
        if r is None or r.facility_id != f.id:
            abort(404)
    language = lang()
    form = RoomForm()
    form.part_ids.choices = _choices([(x.id, x.name(language)) for x in f.rooms if r is None or x.id != r.id])
    if request.method == "GET":
        if r is not None:
            _fill_room(form, asvc.RoomData.of(r))
        else:
            _fill_room(form, asvc.RoomData(code="", name_ja="", name_en="", capacity=20, slot_scheme=DEFAULT_SCHEME,
                                           fee_table={"per_slot": {}, "extras": [], "exemptions": []},
                                           windows={"registered": {"months_ahead": 3}, "general": {"months_ahead": 1}},
                                           claim_policy={"mode": "if_fee", "days_after_booking": 7,
                                                         "days_before_use": 3, "on_expiry": "release"}))
            form.capacity.data = None
    status = 200
    if form.validate_on_submit():
        data = _room_data(form)
        if data is None:
            status = 422
        else:
            try:
                saved = asvc.save_room(db.session(), f, data, actor=me(), now=utcnow(), room=r)
            except DomainError as exc:
                db.session.rollback()
                apply_domain_error(form, exc)
                status = 422
            else:
                db.session.commit()
                flash(_("部屋を保存しました。"), "success")
                return redirect(url_for("admin.room", facility_id=f.id, room_id=saved.id))
    elif request.method == "POST":
        status = 422
    return render_template("admin/room.html", form=form, facility=f, room=r), status


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():  # type: ignore[no-untyped-def]
    facilities = _all_facilities()
    form = InviteForm()
    form.facility_ids.choices = _choices([(f.id, f.name(lang())) for f in facilities])
    status = 200
    created: tuple[User, str] | None = None
    if form.validate_on_submit():
        try:
            created = asvc.invite_staff(db.session(), actor=me(), now=utcnow(), email=form.email.data or "",
                                        display_name=form.display_name.data or "",
                                        facility_ids=list(form.facility_ids.data or []), role=form.role.data or "staff")
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
            status = 422
        else:
            db.session.commit()
            form = InviteForm(formdata=None)
            form.facility_ids.choices = _choices([(f.id, f.name(lang())) for f in facilities])
    elif request.method == "POST":
        status = 422
    staff = asvc.staff_users(db.session(), me())
    assign = {}
    for u in staff:
        a = AssignForm(formdata=None, prefix=f"u{u.id}")
        a.facility_ids.choices = _choices([(f.id, f.name(lang())) for f in facilities])
        a.facility_ids.data = [f.id for f in u.facilities]
        assign[u.id] = a
    return render_template("admin/users.html", form=form, staff=staff, assign=assign, created=created,
                           active_form=ActiveForm()), status


def _user(user_id: int) -> User:
    u = db.session.get(User, user_id)
    if u is None:
        abort(404)
    return u


@bp.post("/users/<int:user_id>/facilities")
@admin_required
def user_facilities(user_id: int) -> Response:
    u = _user(user_id)
    form = AssignForm(prefix=f"u{u.id}")
    form.facility_ids.choices = _choices([(f.id, f.name_ja) for f in _all_facilities()])
    if form.validate_on_submit():
        try:
            asvc.assign_facilities(db.session(), u, list(form.facility_ids.data or []), actor=me(), now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(None, exc)
        else:
            db.session.commit()
            flash(_("担当施設を保存しました。"), "success")
    else:
        flash(_("担当施設を選び直してください。"), "error")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
@admin_required
def user_active(user_id: int) -> Response:
    u = _user(user_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    try:
        asvc.set_active(db.session(), u, active, actor=me(), now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(None, exc)
    else:
        db.session.commit()
        flash(_("アカウントを有効にしました。") if active else _("アカウントを無効にしました。"), "success")
    return redirect(url_for("admin.users"))


# --- system status: scheduler and mail ----------------------------------------------------------


@bp.get("/system")
@admin_required
def system():  # type: ignore[no-untyped-def]
    return _system_page()


def _system_page(resend: dict[str, Any] | None = None, status: int = 200) -> Any:
    """``resend``: a refused new address (message id, what was typed, why), shown at its row."""
    now = utcnow()
    session = db.session()
    failed = system_status.failed_mail(session, me())
    return render_template(
        "admin/system.html", jobs=system_status.jobs(session, me(), now=now),
        counts=system_status.mail_counts(session, me(), now=now), failed=failed,
        redirectable={m.id for m in failed if system_status.can_redirect(m)}, resend=resend or {},
    ), status


class ResendForm(FlaskForm):
    recipient = StringField(_l("新しい宛先"), validators=[InputRequired(), Length(max=254)])


@bp.post("/system/mail/<int:message_id>/resend-to")
@admin_required
def resend_mail_to(message_id: int) -> Any:
    """Send a failed message again, to a corrected address."""
    form = ResendForm()
    typed = (form.recipient.data or "").strip()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _system_page({"id": message_id, "value": typed, "error": _("新しい宛先を入力してください。")}, 422)
    try:
        message = system_status.resend_to(db.session(), me(), message_id, typed, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, NotFound):
            abort(404)
        return _system_page({"id": message_id, "value": typed,
                             "error": " ".join(f.message(lang()) for f in exc.failures)}, 422)
    db.session.commit()
    flash(_("メール %(id)s を %(to)s に再送します。数分以内に送信されます。", id=message.id, to=message.recipient),
          "success")
    return redirect(url_for("admin.system"))


@bp.post("/system/mail/retry")
@admin_required
def retry_mail() -> Response:
    if not ActiveForm().validate_on_submit():
        abort(400)
    raw = request.form.get("message_id")
    ids: list[int] | None = None
    if raw is not None:
        message_id = parse_id(raw)
        if message_id is None:
            abort(400)
        ids = [message_id]
    count = system_status.retry_failed_mail(db.session(), me(), now=utcnow(), ids=ids)
    db.session.commit()
    if count:
        flash(_("%(n)s通のメールを再送の待ち行列に戻しました。数分以内に送信されます。", n=count), "success")
    else:
        flash(_("再送するメールはありませんでした。"), "info")
    return redirect(url_for("admin.system"))

