"""Groups from a member's side: my groups, apply for a group, the group page and its members.

Thin views over ``services.groups``: another group's page is a 404 (ids reveal
nothing), member management is for the representative (403 otherwise).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..clock import utcnow
from ..domain.errors import DomainError
from ..extensions import db, limiter
from ..models import Group
from ..models.group import kind_options
from ..services import groups as group_service
from ..services.permissions import Forbidden, NotFound
from .auth import choices
from .forms_util import apply_domain_error, flash_form_errors
from .i18n import lang


def _db() -> Session:
    """The request's session itself (services are typed with ``Session``, not the scoped proxy)."""
    return db.session()


def _me():  # type: ignore[no-untyped-def]
    """The logged-in ``User`` itself, not the proxy (services keep and return what they get)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


bp = Blueprint("groups", __name__)


class GroupDetailsForm(FlaskForm):
    """What a representative may change after applying (``group_service.EDITABLE``)."""

    representative_name = StringField(_l("代表者名"), validators=[DataRequired(), Length(max=100)])
    contact_email = EmailField(_l("連絡先メールアドレス"), validators=[DataRequired(), Length(max=254)])
    contact_phone = StringField(_l("連絡先電話番号"), validators=[Optional(), Length(max=40)])
    member_count = IntegerField(_l("会員数"), default=1, validators=[InputRequired(), NumberRange(min=1, max=100000)])
    activity_field = StringField(_l("活動分野"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(_l("活動内容"), validators=[Optional(), Length(max=2000)])
    public_name = BooleanField(_l("公開カレンダーに団体名を表示してよい"))
    public_purpose = BooleanField(_l("公開カレンダーに利用目的を表示してよい"))
    submit = SubmitField(_l("変更を保存"))

    def details(self, name: str = "", kind: str = "") -> group_service.GroupApplication:
        return group_service.GroupApplication(
            name=name, kind=kind, representative_name=self.representative_name.data or "",
            contact_email=self.contact_email.data or "", contact_phone=self.contact_phone.data or "",
            member_count=self.member_count.data or 0, activity_field=self.activity_field.data or "",
            description=self.description.data or "", public_name=bool(self.public_name.data),
            public_purpose=bool(self.public_purpose.data))


class GroupApplicationForm(GroupDetailsForm):
    name = StringField(_l("団体名"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("団体の種類"), choices=[], validators=[DataRequired()])
    submit = SubmitField(_l("申請する"))

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        language = lang()
        self.kind.choices = choices([("", _("選んでください")), *kind_options(language)])


class InviteForm(FlaskForm):
    email = EmailField(_l("招待する人のメールアドレス"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("招待メールを送る"))


class ConfirmForm(FlaskForm):
    """An empty form for one-button POST actions (CSRF only)."""

    submit = SubmitField(_l("実行"))


def _load(group_id: int) -> Group:
    try:
        return group_service.get_group_for(_db(), group_id, _me())
    except NotFound:
        abort(404)


def _render_group(group: Group, invite_form: InviteForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    memberships = sorted(group.memberships, key=lambda m: (m.role != "representative", m.user.display_name))
    mine = next(m for m in group.memberships if m.user_id == current_user.id)
    return render_template(
        "groups/detail.html", group=group, memberships=memberships, my_role=mine.role,
        is_representative=mine.role == "representative",
        can_leave=mine.role != "representative" or sum(m.role == "representative" for m in memberships) > 1,
        invite_form=invite_form or InviteForm(),
        feed_target={"kind": "group", "id": group.id, "group": group},
    ), status


def _domain_failure(group: Group, exc: DomainError):  # type: ignore[no-untyped-def]
    db.session.rollback()
    if isinstance(exc, NotFound):
        abort(404)
    if isinstance(exc, Forbidden):
        abort(403)
    apply_domain_error(None, exc)
    return redirect(url_for("groups.detail", group_id=group.id))


@bp.get("/groups")
@login_required
def my_groups():  # type: ignore[no-untyped-def]
    memberships = group_service.memberships_of(_db(), _me())
    return render_template("groups/my_groups.html", memberships=memberships)


@bp.route("/groups/new", methods=["GET", "POST"])
@login_required
def apply():  # type: ignore[no-untyped-def]
    form = GroupApplicationForm()
    if request.method == "GET":
        form.representative_name.data = current_user.display_name
        form.contact_email.data = current_user.email
    if form.validate_on_submit():
        try:
            group = group_service.apply_for_group(_db(), _me(), form.details(form.name.data or "", form.kind.data or ""),
                                                  now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("団体の登録を申請しました。窓口で確認後に登録されます。"), "success")
            return redirect(url_for("groups.detail", group_id=group.id))
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("groups/apply.html", form=form), 422 if form.errors else 200


@bp.get("/groups/<int:group_id>")
@login_required
def detail(group_id: int):  # type: ignore[no-untyped-def]
    return _render_group(_load(group_id))


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@login_required
def edit(group_id: int):  # type: ignore[no-untyped-def]
    """The representative changes the group's contact details, description and public settings;
    other members may look at the group but not change it (403)."""
    group = _load(group_id)
    if not group_service.is_representative(group, _me()):
        abort(403)
    form = GroupDetailsForm(obj=group_service.details_of(group) if request.method == "GET" else None)
    status = 200
    if form.validate_on_submit():
        try:
            group_service.update_details(_db(), group, _me(), form.details(), now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
            status = 422
        else:
            db.session.commit()
            flash(_("団体の情報を変更しました。"), "success")
            return redirect(url_for("groups.detail", group_id=group.id))
    elif form.is_submitted():
        flash_form_errors(form)
        status = 422
    return render_template("groups/edit.html", form=form, group=group), status


@bp.post("/groups/<int:group_id>/members")
@limiter.limit(lambda: current_app.config["INVITE_RATE_LIMIT"])
@login_required
def invite(group_id: int):  # type: ignore[no-untyped-def]
    group = _load(group_id)
    form = InviteForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _render_group(group, form, 422)
    try:
        invitation = group_service.invite_by_email(_db(), group, _me(), form.email.data or "", now=utcnow(),
                                                   base_url=str(current_app.config["BASE_URL"]))
    except (NotFound, Forbidden) as exc:
        return _domain_failure(group, exc)
    except DomainError as exc:
        db.session.rollback()
        group = _load(group_id)
        apply_domain_error(form, exc)
        return _render_group(group, form, 422)
    email = invitation.email
    db.session.commit()
    flash(_("%(email)s に招待メールを送りました。メールのリンクから参加すると、この団体のメンバーになります（14日間有効）。",
            email=email), "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.get("/invitations/<token>")
def invitation(token: str):  # type: ignore[no-untyped-def]
    """The link from an invitation mail: join (logged in), or log in / sign up first."""
    inv = group_service.find_invitation(_db(), token, now=utcnow())
    if inv is None:
        return render_template("groups/invitation.html", invitation=None, form=ConfirmForm()), 404
    return render_template("groups/invitation.html", invitation=inv, form=ConfirmForm(),
                           here=url_for("groups.invitation", token=token))


@bp.post("/invitations/<token>")
@login_required
def accept_invitation(token: str):  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        group = group_service.accept_invitation(_db(), token, _me(), now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message(lang()), "error")
        return render_template("groups/invitation.html", invitation=None, form=ConfirmForm()), 404
    group_id = group.id
    db.session.commit()
    flash(_("団体に参加しました。"), "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/members/<int:user_id>/remove")
@login_required
def remove_member(group_id: int, user_id: int):  # type: ignore[no-untyped-def]
    group = _load(group_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        group_service.remove_member(_db(), group, _me(), user_id, now=utcnow())
    except DomainError as exc:
        return _domain_failure(group, exc)
    db.session.commit()
    flash(_("メンバーから外しました。"), "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/members/<int:user_id>/representative")
@login_required
def hand_over(group_id: int, user_id: int):  # type: ignore[no-untyped-def]
    group = _load(group_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        group_service.hand_over(_db(), group, _me(), user_id, now=utcnow())
    except DomainError as exc:
        return _domain_failure(group, exc)
    db.session.commit()
    flash(_("代表者を引き継ぎました。"), "success")
    return redirect(url_for("groups.detail", group_id=group_id))


@bp.post("/groups/<int:group_id>/leave")
@login_required
def leave(group_id: int):  # type: ignore[no-untyped-def]
    group = _load(group_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        group_service.leave(_db(), group, _me(), now=utcnow())
    except DomainError as exc:
        return _domain_failure(group, exc)
    db.session.commit()
    flash(_("団体から抜けました。"), "success")
    return redirect(url_for("groups.my_groups"))
