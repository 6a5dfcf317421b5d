"""Blueprint 'feeds': calendar feeds, one-booking .ics downloads, private feed links.

Feeds answer ``200 text/calendar`` to anyone (calendar servers send no cookies and
no Accept header), with ETag/Last-Modified computed from one aggregate query and
``304`` answered before any feed is built. A private feed's secret is in its path;
a logging filter on the ``werkzeug`` logger masks it in request logs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.http import is_resource_modified

from ..clock import utcnow
from ..domain.errors import DomainError
from ..extensions import db
from ..feeds import ical
from ..feeds.links import add_to_calendar_links, subscribe_links
from ..models import Booking, Facility, FeedToken, Group, Room, User
from ..services import bookings as booking_service
from ..services import feeds as svc
from ..services.permissions import NotFound, is_member

bp = Blueprint("feeds", __name__)

MAX_AGE = 3600
_PRIVATE_IN_LOG = re.compile(r"/feeds/private/[^/\s?\"'#]+")
# invitation links carry a one-time secret too, also URL-encoded inside a ``next=`` parameter
_INVITATION_IN_LOG = re.compile(r"(/|%2F)invitations(/|%2F)[^/%\s?&\"'#]+", re.IGNORECASE)
# and so do password-reset links: whoever reads the log must not be able to set the password
_RESET_IN_LOG = re.compile(r"/password/reset/[^/\s?\"'#]+")


class MaskFeedTokens(logging.Filter):
    """Replace the secrets of private feed, invitation and password-reset links in log lines with
    ``***`` (werkzeug and gunicorn log the request path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        if "/feeds/private/" in message or "invitations" in message or "/password/reset/" in message:
            message = _PRIVATE_IN_LOG.sub("/feeds/private/***.ics", message)
            message = _RESET_IN_LOG.sub("/password/reset/***", message)
            record.msg = _INVITATION_IN_LOG.sub(lambda m: f"{m.group(1)}invitations{m.group(2)}***", message)
            record.args = None
        return True


def install_log_filter(logger_name: str = "werkzeug") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, MaskFeedTokens) for f in logger.filters):
        logger.addFilter(MaskFeedTokens())


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    install_log_filter()  # flask run
    install_log_filter("gunicorn.access")  # gunicorn --access-logfile


# --- helpers ----------------------------------------------------------------------------------------


def _not_found() -> Response:
    """Plain 404: calendar clients get no HTML and no redirect to the login page."""
    return Response("Not Found\n", status=404, mimetype="text/plain")


def _window() -> svc.Window:
    cfg = current_app.config
    return svc.feed_window(utcnow(), days_back=int(cfg.get("FEED_DAYS_BACK", 30)),
                           horizon_days=int(cfg.get("BOOKING_HORIZON_DAYS", 400)))


def _public_language() -> str:
    value = request.args.get("lang", "")
    return value if value in ("ja", "en") else "both"


def _base_url() -> str:
    return str(current_app.config.get("BASE_URL") or request.url_root).rstrip("/")


def _serve(scope: svc.FeedScope, info: Any, *, private: bool, language: str, filename: str,
           extra: tuple[Any, ...] = (), stamp: svc.FeedStamp | None = None) -> Response:
    window = _window()
    session = db.session()
    if stamp is None:
        stamp = svc.feed_stamp(session, scope, window)
    etag, last_modified = svc.validators(scope, window, stamp, language, *extra)
    headers = {
        "Cache-Control": f"{'private' if private else 'public'}, max-age={MAX_AGE}",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    if private:
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Robots-Tag"] = "noindex, nofollow"
    if not is_resource_modified(request.environ, etag=etag, last_modified=last_modified):
        resp = Response(status=304, headers=headers)
    else:
        rows = svc.load_bookings(session, scope, window)
        body = ical.build_feed(rows, info(), private=private, language=language, base_url=_base_url())
        resp = Response(body, status=200, headers=headers, content_type="text/calendar; charset=utf-8")
    resp.set_etag(etag)
    resp.last_modified = last_modified
    return resp


# --- feeds ------------------------------------------------------------------------------------------


@bp.get("/feeds/rooms/<int:room_id>.ics")
def room_feed(room_id: int) -> Response:
    feed = svc.room_feed(db.session(), room_id)
    if feed is None:
        return _not_found()
    room = feed.names
    language = _public_language()
    return _serve(feed.scope, lambda: svc.room_feed_info(room, language), private=False,
                  language=language, filename=f"room-{room.id}.ics", extra=feed.shown, stamp=feed.stamp)


@bp.get("/feeds/facilities/<int:facility_id>.ics")
def facility_feed(facility_id: int) -> Response:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        return _not_found()
    language = _public_language()
    return _serve(svc.facility_scope(facility), lambda: svc.facility_feed_info(facility, language),
                  private=False, language=language, filename=f"facility-{facility.id}.ics",
                  extra=svc.facility_shown(db.session(), facility))


@bp.get("/feeds/private/<token>.ics")
def private_feed(token: str) -> Response:
    feed = svc.resolve_token(db.session(), token)
    if feed is None:
        resp = _not_found()
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp
    chosen = request.args.get("lang", "")
    language = chosen if chosen in ("ja", "en") else ("en" if feed.user.language == "en" else "ja")
    group = feed.group
    if group is not None:
        def info() -> ical.FeedInfo:
            return svc.group_feed_info(group, language)
        extra: tuple[Any, ...] = (group.name,)
    else:
        def info() -> ical.FeedInfo:
            return svc.personal_feed_info(language)
        extra = ()
    return _serve(feed.scope, info, private=True, language=language, filename=f"{feed.token.kind}.ics",
                  extra=extra)


@bp.get("/bookings/<int:booking_id>.ics")
@login_required
def booking_ics(booking_id: int) -> Response:
    from .i18n import lang

    try:
        booking = booking_service.get_booking_for(db.session(), booking_id, current_user)
    except NotFound:
        return _not_found()
    body = ical.booking_ics(booking, language=lang(), base_url=_base_url())
    return Response(body, content_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="booking-{booking.id}.ics"',
        "Cache-Control": "private, no-cache",
    })


# --- private feed links (group and profile pages) ------------------------------------------------------


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _group_or_404(group_id: int) -> Group | None:
    group = db.session.get(Group, group_id)
    if group is None or not is_member(_me(), group):
        return None
    return group


def _group_page(group: Group) -> str:
    if "groups.detail" in current_app.view_functions:
        return url_for("groups.detail", group_id=group.id)
    return "/"


def _profile_page() -> str:
    return url_for("auth.profile") if "auth.profile" in current_app.view_functions else "/"


def _created(secret: str, title: str, back_url: str) -> Response:
    """The new link, shown this once; never cached, never flashed into the cookie."""
    resp = current_app.make_response(render_template(
        "feeds/created.html", feed_url=svc.private_feed_url(secret), feed_title=title, back_url=back_url,
        private=True))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.post("/feeds/groups/<int:group_id>/regenerate")
@login_required
def regenerate_group(group_id: int) -> Any:
    from .i18n import lang

    group = _group_or_404(group_id)
    if group is None:
        return _not_found()
    try:
        secret = svc.regenerate_token(db.session(), "group", _me(), group, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message(lang()), "error")
        return redirect(_group_page(group))
    return _created(secret, svc.group_feed_info(group, lang()).name, _group_page(group))


@bp.post("/feeds/groups/<int:group_id>/revoke")
@login_required
def revoke_group(group_id: int) -> Any:
    group = _group_or_404(group_id)
    if group is None:
        return _not_found()
    if svc.revoke_token(db.session(), "group", _me(), group, now=utcnow()):
        db.session.commit()
        flash(_("非公開カレンダーのURLを無効にしました。"), "success")
    return redirect(_group_page(group))


@bp.post("/feeds/personal/regenerate")
@login_required
def regenerate_personal() -> Any:
    from .i18n import lang

    secret = svc.regenerate_token(db.session(), "personal", _me(), now=utcnow())
    db.session.commit()
    return _created(secret, svc.personal_feed_info(lang()).name, _profile_page())


@bp.post("/feeds/personal/revoke")
@login_required
def revoke_personal() -> Any:
    if svc.revoke_token(db.session(), "personal", _me(), now=utcnow()):
        db.session.commit()
        flash(_("非公開カレンダーのURLを無効にしました。"), "success")
    return redirect(_profile_page())


# --- for the partials -----------------------------------------------------------------------------


@bp.app_template_global()
def feed_subscribe_links(feed_url: str, feed_title: str | None = None) -> dict[str, str]:
    return subscribe_links(feed_url, feed_title)


@bp.app_template_global()
def feed_add_to_calendar_links(booking: Booking) -> dict[str, str]:
    from .i18n import lang

    return add_to_calendar_links(booking, language=lang(), base_url=_base_url(),
                                 ics_url=url_for("feeds.booking_ics", booking_id=booking.id))


@bp.app_template_global()
def private_feed_token(kind: str, group: Group | None = None) -> FeedToken | None:
    """For the partial: the signed-in user's current token row for a private feed (no secret)."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    if kind == "group" and (group is None or not is_member(_me(), group)):
        return None
    return svc.active_token(db.session(), kind, _me(), group if kind == "group" else None)


@bp.app_template_global()
def public_feed_url(obj: Room | Facility) -> str:
    if isinstance(obj, Room):
        return svc.public_room_feed_url(obj)
    return svc.public_facility_feed_url(obj)
