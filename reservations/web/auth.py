"""Accounts: sign up, log in and out, password reset and change, profile.

Views are thin: WTForms checks the shape of the input, ``services.accounts``
checks the rules and writes; a ``DomainError`` goes back onto the form through
``web.forms_util``. One commit per request, after the service succeeded.
Password fields are never re-filled; everything else typed is kept on error.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from ..clock import utcnow
from ..domain.errors import DomainError
from ..extensions import db, limiter
from ..services import accounts
from .forms_util import apply_domain_error, flash_form_errors
from .i18n import lang
from .safety import safe_next


def _db() -> Session:
    """The request's session itself (services are typed with ``Session``, not the scoped proxy)."""
    return db.session()


def _me():  # type: ignore[no-untyped-def]
    """The logged-in ``User`` itself, not the proxy (services keep and return what they get)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


bp = Blueprint("auth", __name__)

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice

    def choices(pairs: list[tuple[str, str]]) -> list:  # type: ignore[type-arg]
        return [SelectChoice(value, label) for value, label in pairs]
except ImportError:  # pragma: no cover - older WTForms
    def choices(pairs: list[tuple[str, str]]) -> list:  # type: ignore[type-arg,misc]
        return list(pairs)

LANGUAGE_CHOICES = choices([("ja", "日本語"), ("en", "English")])


class SignupForm(FlaskForm):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(), Length(max=254)])
    display_name = StringField(_l("表示名"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("パスワード（10文字以上）"),
                             validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD, max=accounts.MAX_PASSWORD)])
    language = SelectField(_l("表示言語"), choices=LANGUAGE_CHOICES, default="ja")
    next = HiddenField()
    submit = SubmitField(_l("登録する"))


class LoginForm(FlaskForm):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("パスワード"), validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)])
    next = HiddenField()
    submit = SubmitField(_l("ログイン"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("ログアウトする"))


class ForgotForm(FlaskForm):
    email = EmailField(_l("メールアドレス"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("再設定用のリンクを送る"))


class ResetForm(FlaskForm):
    password = PasswordField(_l("新しいパスワード（10文字以上）"),
                             validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD, max=accounts.MAX_PASSWORD)])
    confirm = PasswordField(_l("新しいパスワード（確認）"),
                            validators=[DataRequired(), EqualTo("password", message=_l("パスワードが一致しません。"))])
    submit = SubmitField(_l("パスワードを設定する"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("現在のパスワード"), validators=[DataRequired()])
    new_password = PasswordField(_l("新しいパスワード（10文字以上）"),
                                 validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD, max=accounts.MAX_PASSWORD)])
    confirm = PasswordField(_l("新しいパスワード（確認）"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("パスワードが一致しません。"))])
    submit = SubmitField(_l("パスワードを変更する"))


class ProfileForm(FlaskForm):
    display_name = StringField(_l("表示名"), validators=[DataRequired(), Length(max=100)])
    language = SelectField(_l("表示言語"), choices=LANGUAGE_CHOICES)
    submit = SubmitField(_l("保存する"))


def _after_login_default() -> str:
    return url_for("public.index")


@bp.route("/signup", methods=["GET", "POST"])
# as login: each sign-up hashes a password (64 MiB of argon2) and says whether an address is taken
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def signup():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(_after_login_default())
    form = SignupForm()
    if request.method == "GET":
        form.language.data = lang()
        form.next.data = safe_next(request.args.get("next"), default="")
    if form.validate_on_submit():
        try:
            user = accounts.sign_up(_db(), email=form.email.data or "", display_name=form.display_name.data or "",
                                    password=form.password.data or "", language=form.language.data or "ja",
                                    now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            session["language"] = user.language
            login_user(user)
            flash(_("登録しました。ようこそ！"), "success")
            return redirect(safe_next(form.next.data, default=url_for("groups.my_groups")))
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("auth/signup.html", form=form), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), default="")
    target = safe_next(form.next.data or request.args.get("next"), default=_after_login_default())
    if current_user.is_authenticated:
        return redirect(target)
    if form.validate_on_submit():
        user = accounts.authenticate(_db(), form.email.data or "", form.password.data or "")
        if user is not None:
            session.clear()  # a fresh session on login (no fixation)
            session["language"] = user.language
            login_user(user)
            return redirect(target)
        form.password.errors = [_("メールアドレスまたはパスワードが正しくありません。")]
        flash(_("メールアドレスまたはパスワードが正しくありません。"), "error")
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200


@bp.get("/logout")
def logout_page():  # type: ignore[no-untyped-def]
    """A confirmation page: logging out changes state, so it takes a POST."""
    if not current_user.is_authenticated:
        return redirect(_after_login_default())
    return render_template("auth/logout.html", form=LogoutForm())


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    form = LogoutForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.logout_page"))
    language = session.get("language")
    logout_user()
    session.clear()
    if language:
        session["language"] = language
    flash(_("ログアウトしました。"), "success")
    return redirect(_after_login_default())


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def forgot_password():  # type: ignore[no-untyped-def]
    form = ForgotForm()
    if form.validate_on_submit():
        base = current_app.config["BASE_URL"].rstrip("/")
        accounts.request_password_reset(
            _db(), form.email.data or "", now=utcnow(),
            link=lambda token: base + url_for("auth.reset_password", token=token))
        db.session.commit()
        # the same answer whether or not the address has an account
        return render_template("auth/forgot_sent.html")
    if form.is_submitted():
        flash_form_errors(form)
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):  # type: ignore[no-untyped-def]
    now = utcnow()
    if accounts.valid_reset_token(_db(), token, now=now) is None:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetForm()
    if form.validate_on_submit():
        try:
            done = accounts.reset_password(_db(), token, form.password.data or "", now=now)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            logout_user()
            flash(_("パスワードを設定しました。新しいパスワードでログインしてください。"), "success")
            _flash_revoked(done.revoked)
            return redirect(url_for("auth.login"))
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("auth/reset.html", form=form, token=token), 422 if form.errors else 200


def _flash_revoked(revoked: int) -> None:
    if revoked:
        flash(_("APIトークンと非公開カレンダーのリンク（%(n)d件）も無効にしました。引き続き使うものは新しく発行してください。",
                n=revoked), "info")


@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            done = accounts.change_password(_db(), _me(), current=form.current_password.data or "",
                                            new=form.new_password.data or "", now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            login_user(done.user)  # this session carries the new session_version; the others end
            flash(_("パスワードを変更しました。他の端末ではログアウトされました。"), "success")
            _flash_revoked(done.revoked)
            return redirect(url_for("auth.profile"))
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("auth/change_password.html", form=form), 422 if form.errors else 200


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():  # type: ignore[no-untyped-def]
    form = ProfileForm(obj=current_user) if request.method == "GET" else ProfileForm()
    if form.validate_on_submit():
        try:
            user = accounts.update_profile(_db(), _me(), display_name=form.display_name.data or "",
                                           language=form.language.data or "ja", now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            session["language"] = user.language
            refresh()  # the language may have changed: say it in the new one
            flash(_("保存しました。"), "success")
            return redirect(url_for("auth.profile"))
    elif form.is_submitted():
        flash_form_errors(form)
    return render_template("auth/profile.html", form=form), 422 if form.errors else 200
