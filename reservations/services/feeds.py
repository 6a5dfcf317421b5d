"""Calendar feeds: which bookings a feed holds, its cache validators, and private feed tokens.

A feed covers a window of whole local days, from ``FEED_DAYS_BACK`` days ago to
``BOOKING_HORIZON_DAYS`` ahead, so within one day the same data gives the same
bytes (and ETag). Loading reads plain columns (two queries), not ORM objects;
the validators (:func:`feed_stamp`) come from one index probe per room or
group, so a ``304 Not Modified`` never reads the feed's bookings. Rooms and
facilities carry the time an admin last saved them, groups the time their name
or details last changed (``updated_at``): a feed names rooms and facilities (a
private feed also shows addresses) and groups (a public feed only as far as the
group allows), so those go into the validators too.

Private feed tokens come from ``secrets.token_urlsafe(32)`` (256 bits); only
their SHA-256 is stored, so a URL can be shown once, when it is made, and never
again: a member regenerates it (revoking the old one) to see a new one. Each
member has their own token per group feed, so one member regenerating or
leaving the group never breaks the others' subscriptions, and a token stops
working as soon as its owner leaves the group or is deactivated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, func, select
from sqlalchemy.orm import Session

from ..database import read_rows, write_transaction
from ..feeds.ical import CALENDAR_TZ, FORMAT_VERSION, EventSource, FeedInfo, Place
from ..models import Booking, Facility, FeedToken, Group, Membership, Room, User, room_parts
from . import accounts, audit
from .mapping import UnitMap
from .permissions import NotFound, is_member
from .secret_tokens import hash_secret, new_secret

ROOM_PATH = "/feeds/rooms/{id}.ics"
FACILITY_PATH = "/feeds/facilities/{id}.ics"
PRIVATE_PATH = "/feeds/private/{token}.ics"
TOKEN_KINDS = ("group", "personal")
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,100}$")
# a booking never lasts longer than this: lets the (room|group, start_at) indexes bound the scan
_LONGEST_BOOKING = timedelta(days=2)


# --- window and scope ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, local midnight FEED_DAYS_BACK days ago
    end: datetime  # UTC, local midnight after the last day of the horizon
    day_start: datetime  # UTC, local midnight today: the window last moved then


def feed_window(now: datetime, *, days_back: int, horizon_days: int, tz: str = CALENDAR_TZ) -> Window:
    z = ZoneInfo(tz)
    today = now.astimezone(z).date()

    def midnight(days: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(0), z).astimezone(UTC)

    return Window(midnight(-days_back), midnight(horizon_days + 1), midnight(0))


@dataclass(frozen=True)
class FeedScope:
    """Which bookings a feed holds: by room ids, by facility, or by group ids."""

    kind: str  # room | facility | group | personal
    key: str  # identifies the feed in the ETag
    room_ids: frozenset[int] = frozenset()
    facility_id: int | None = None
    group_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class RoomNames:
    """What a room feed says about its room, read as plain columns."""

    id: int
    facility_id: int
    name_ja: str
    name_en: str
    facility_ja: str
    facility_en: str


@dataclass(frozen=True)
class RoomFeed:
    """A room feed's names, scope and validators, from one statement (:func:`room_feed`).

    ``shown`` is every name and the zone the feed's events show (each event names the related
    room it is in, and the facility; its times are in the facility's zone): they go into the
    ETag, so renaming the whole hall changes it as a booking does."""

    names: RoomNames
    scope: FeedScope
    stamp: FeedStamp
    shown: tuple[str, ...]


def room_feed(session: Session, room_id: int) -> RoomFeed | None:
    """A room's feed scope and validators in ONE statement, so a ``304`` costs about what any
    small request does: every room of the room's facility with its names, direct parts and
    newest (updated_at, id) probe. The feed shows what makes the room busy: its own bookings and
    those of rooms sharing a part (the whole hall when this is part A, every part when this is
    the whole hall), worked out by the same ``UnitMap`` as booking does."""
    rows = [_RoomFeedRow.of(row) for row in read_rows(session, _room_feed_statement(), {"room_id": room_id})]
    first: dict[int, _RoomFeedRow] = {}
    for row in rows:
        first.setdefault(row.names.id, row)
    if room_id not in first:
        return None
    me = first[room_id]
    names = me.names
    related = sorted(UnitMap.from_links((row.names.id, row.part_id) for row in rows).related(room_id))
    places = _latest(*(_aware(first[rid].room_updated) for rid in related), _aware(me.facility_updated))
    stamp = FeedStamp(tuple((rid, _aware(first[rid].updated), first[rid].newest_id) for rid in related), places,
                      _aware(me.groups_updated))
    shown = _shown(names.facility_ja, names.facility_en, me.timezone,
                   ((rid, first[rid].names.name_ja, first[rid].names.name_en) for rid in related))
    return RoomFeed(names, FeedScope("room", f"room:{room_id}", room_ids=frozenset(related)), stamp, shown)


class _RoomFeedRow(NamedTuple):
    """A row of :func:`_room_feed_statement`, as the driver gives it (times may be text): the
    room's names (its first six columns), then its zone, one direct part and the change probes."""

    names: RoomNames
    timezone: str | None
    part_id: int | None
    updated: Any
    newest_id: int | None
    room_updated: Any
    facility_updated: Any
    groups_updated: Any

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> _RoomFeedRow:
        return cls(RoomNames(*row[:6]), *row[6:])


@lru_cache(maxsize=1)
def _room_feed_statement() -> Select[Any]:
    """Built once: the statement is the same for every room, only ``room_id`` changes."""
    this = Room.__table__.alias("this_room")
    updated, newest_id = _newest(Room, Booking.room_id)
    return (
        select(Room.id, Room.facility_id, Room.name_ja, Room.name_en, Facility.name_ja.label("facility_ja"),
               Facility.name_en.label("facility_en"), Facility.timezone,
               room_parts.c.part_id, updated.label("updated"), newest_id.label("newest_id"),
               Room.updated_at.label("room_updated"), Facility.updated_at.label("facility_updated"),
               _groups_changed().label("groups_updated"))
        .join(Facility, Facility.id == Room.facility_id)
        .outerjoin(room_parts, room_parts.c.whole_id == Room.id)
        .where(Room.facility_id == select(this.c.facility_id).where(this.c.id == bindparam("room_id"))
               .scalar_subquery())
    )


def facility_shown(session: Session, facility: Facility) -> tuple[str, ...]:
    """What a facility feed shows besides its bookings (its name, the zone of its times and each
    room's name), for its ETag: renaming a room changes the feed as a booking does."""
    rooms = session.execute(select(Room.id, Room.name_ja, Room.name_en)
                            .where(Room.facility_id == facility.id).order_by(Room.id))
    return _shown(facility.name_ja, facility.name_en, facility.timezone, rooms)


def _shown(facility_ja: str, facility_en: str, timezone: str | None,
           rooms: Iterable[tuple[int, str, str]]) -> tuple[str, ...]:
    """What a public feed's events show besides the bookings, as ETag parts: the facility's names,
    the zone of the times, and each (id, Japanese name, English name) of the rooms it shows."""
    return (facility_ja, facility_en, timezone or "", *(f"{rid}:{ja}:{en}" for rid, ja, en in rooms))


def facility_scope(facility: Facility) -> FeedScope:
    return FeedScope("facility", f"facility:{facility.id}", facility_id=facility.id)


def group_scope(group: Group) -> FeedScope:
    return FeedScope("group", f"group:{group.id}", group_ids=frozenset({group.id}))


def personal_scope(session: Session, user: User) -> FeedScope:
    ids = frozenset(session.scalars(select(Membership.group_id).where(Membership.user_id == user.id)))
    return FeedScope("personal", f"personal:{user.id}:{','.join(str(i) for i in sorted(ids))}", group_ids=ids)


def _where(scope: FeedScope, window: Window) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [
        Booking.start_at < window.end,
        Booking.start_at >= window.start - _LONGEST_BOOKING,
        Booking.end_at > window.start,
    ]
    if scope.kind == "room":
        conds.append(Booking.room_id.in_(sorted(scope.room_ids)) if scope.room_ids else false())
    elif scope.kind == "facility":
        conds.append(Room.facility_id == scope.facility_id)
    else:
        conds.append(Booking.group_id.in_(sorted(scope.group_ids)) if scope.group_ids else false())
    return conds


_SOURCE_COLUMNS = (
    Booking.id, Booking.uid, Booking.status, Booking.sequence, Booking.created_at, Booking.updated_at,
    Booking.start_at, Booking.end_at, Booking.purpose, Booking.attendees, Booking.claim_deadline,
    Booking.fee_total, Booking.contact_name, Group.name, Group.public_name, Group.public_purpose,
    Booking.room_id,
)


def load_bookings(session: Session, scope: FeedScope, window: Window) -> list[EventSource]:
    """The feed's bookings, every status, in start order, as plain event sources.

    Two queries: the bookings' columns (group joined in), then the rooms they are in. ORM
    objects with room, facility and group per booking cost more than rendering the events.
    """
    q = select(*_SOURCE_COLUMNS).outerjoin(Group, Group.id == Booking.group_id)
    if scope.kind == "facility":
        q = q.join(Room, Room.id == Booking.room_id)
    rows = session.execute(q.where(and_(*_where(scope, window))).order_by(Booking.start_at, Booking.id)).all()
    places = _places(session, {r[-1] for r in rows})
    return [EventSource(*r[:-1], place=places[r[-1]]) for r in rows]  # type: ignore[arg-type,misc]


def _places(session: Session, room_ids: set[int]) -> dict[int, Place]:
    if not room_ids:
        return {}
    rows = session.execute(
        select(Room.id, Room.name_ja, Room.name_en, Facility.name_ja, Facility.name_en, Facility.address_ja,
               Facility.address_en, Facility.timezone)
        .join(Facility, Facility.id == Room.facility_id).where(Room.id.in_(sorted(room_ids)))
    ).all()
    return {r[0]: Place(r[1], r[2], r[3], r[4], r[5], r[6], r[7] or CALENDAR_TZ) for r in rows}


@dataclass(frozen=True)
class FeedStamp:
    """The newest change per room (or group) a feed draws on: (key, updated_at, booking id);
    ``places``, the newest time an admin saved a room or facility the feed may name; and
    ``groups``, the newest change of a group's name or details the feed may show (a public feed:
    any group's; a private one: its own groups')."""

    newest: tuple[tuple[int, datetime | None, int | None], ...]
    places: datetime | None = None
    groups: datetime | None = None

    @property
    def max_updated(self) -> datetime | None:
        return _latest(*(u for _, u, _ in self.newest), self.places, self.groups)


def _latest(*instants: datetime | None) -> datetime | None:
    return max((u for u in instants if u is not None), default=None)


def _newest(owner: Any, column: Any) -> tuple[Any, Any]:
    """Correlated probes for the most recently changed booking of ``owner`` (a room or group):
    ``ORDER BY updated_at DESC, id DESC LIMIT 1`` on the (owner, updated_at, id) index."""
    def probe(col: Any) -> Any:
        return (select(col).where(column == owner.id).order_by(Booking.updated_at.desc(), Booking.id.desc())
                .limit(1).correlate(owner).scalar_subquery())
    return probe(Booking.updated_at), probe(Booking.id)


def feed_stamp(session: Session, scope: FeedScope, window: Window | None = None) -> FeedStamp:
    """What the feed's validators need, without reading its bookings: one index probe per room
    (or group). Every change of a booking sets its ``updated_at`` and a new booking has a new id,
    so the newest (updated_at, id) per room changes whenever anything the feed shows does; the
    window is in the ETag itself. (``window`` is accepted for symmetry with ``load_bookings``.)"""
    where: ColumnElement[bool]
    if scope.kind in ("group", "personal"):
        owner: Any = Group
        where = Group.id.in_(sorted(scope.group_ids)) if scope.group_ids else false()
        column = Booking.group_id
    else:
        owner = Room
        where = Room.facility_id == scope.facility_id if scope.kind == "facility" else \
            (Room.id.in_(sorted(scope.room_ids)) if scope.room_ids else false())
        column = Booking.room_id
    updated, newest_id = _newest(owner, column)
    rooms_saved, facilities_saved = _places_saved(scope)
    groups_changed = _groups_changed(scope.group_ids if scope.kind in ("group", "personal") else None)
    rows = session.execute(select(owner.id, updated, newest_id, rooms_saved, facilities_saved, groups_changed)
                           .where(where).order_by(owner.id)).all()
    places = _latest(_aware(rows[0][3]), _aware(rows[0][4])) if rows else None
    groups = _aware(rows[0][5]) if rows else None
    return FeedStamp(tuple((int(key), _aware(u), i) for key, u, i, *_ in rows), places, groups)


def _groups_changed(group_ids: frozenset[int] | None = None) -> Any:
    """The newest change of a group's details or name: of the feed's own groups for a private
    feed; of any group for a public one. Which groups a public feed shows only its bookings would
    tell, and a group changing its name or what public calendars may show (its name, its purposes)
    changes every public feed it has bookings in; groups change their details rarely."""
    newest = select(func.max(Group.updated_at))
    if group_ids is not None:
        newest = newest.where(Group.id.in_(sorted(group_ids)) if group_ids else false())
    return newest.correlate(None).scalar_subquery()


def _places_saved(scope: FeedScope) -> tuple[Any, Any]:
    """The newest ``updated_at`` of the rooms, and of the facilities, a feed may name. A room or
    facility feed knows its rooms; a group or personal feed names whichever rooms its bookings
    are in, which only reading them would tell, so it takes the newest of all (an admin saving
    any room refreshes every private feed once: rare, and never stale)."""
    rooms = select(func.max(Room.updated_at))
    facilities = select(func.max(Facility.updated_at))
    if scope.kind == "facility":
        rooms = rooms.where(Room.facility_id == scope.facility_id)
        facilities = facilities.where(Facility.id == scope.facility_id)
    elif scope.kind == "room":
        ids = sorted(scope.room_ids)
        rooms = rooms.where(Room.id.in_(ids))
        facilities = facilities.where(Facility.id.in_(select(Room.facility_id).where(Room.id.in_(ids))))
    # correlate(None): the outer query reads rooms too, and these look at their own rows
    return rooms.correlate(None).scalar_subquery(), facilities.correlate(None).scalar_subquery()


def _aware(value: Any) -> datetime | None:
    if isinstance(value, str):  # SQLite's driver gives times as text (read_rows, subqueries)
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]


def validators(scope: FeedScope, window: Window, stamp: FeedStamp, *extra: Any) -> tuple[str, datetime]:
    """(ETag, Last-Modified) for a feed without building it.

    The ETag covers everything the body depends on that can change: the bookings (the newest
    change per room or group — bookings are never deleted), the rooms and facilities it names,
    the groups it may show, the window, and ``extra`` (language, names). Last-Modified is the newest of those changes, or
    the moment the window last moved (local midnight), whichever is later, so If-Modified-Since
    never hides a changed body.
    """
    parts = [FORMAT_VERSION, scope.key, window.start.isoformat(), window.end.isoformat(),
             *(f"{k}:{u.isoformat() if u else '-'}:{i or 0}" for k, u, i in stamp.newest),
             f"places:{stamp.places.isoformat() if stamp.places else '-'}",
             f"groups:{stamp.groups.isoformat() if stamp.groups else '-'}",
             *(str(x) for x in extra)]
    etag = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    latest = stamp.max_updated
    last = max(latest or window.day_start, window.day_start)
    return etag, last.replace(microsecond=0)


# --- names -----------------------------------------------------------------------------------------


def room_feed_info(room: RoomNames, language: str) -> FeedInfo:
    if language == "en":
        return FeedInfo(f"{room.name_en} ({room.facility_en})",
                        "Bookings of this room (busy times). Naya Plaza Reservations")
    return FeedInfo(f"{room.name_ja}（{room.facility_ja}）", "この部屋の予約状況（なやプラザ予約システム）")


def facility_feed_info(facility: Facility, language: str) -> FeedInfo:
    if language == "en":
        return FeedInfo(facility.name("en"), "Bookings of every room of this facility. Naya Plaza Reservations")
    return FeedInfo(facility.name("ja"), "この施設の全部屋の予約状況（なやプラザ予約システム）")


def group_feed_info(group: Group, language: str) -> FeedInfo:
    if language == "en":
        return FeedInfo(f"{group.name}: bookings", "Private feed of this group's bookings")
    return FeedInfo(f"{group.name}の予約", "団体の予約（非公開フィード）")


def personal_feed_info(language: str) -> FeedInfo:
    if language == "en":
        return FeedInfo("My groups' bookings", "Private feed of the bookings of all my groups")
    return FeedInfo("所属団体の予約", "所属するすべての団体の予約（非公開フィード）")


# --- URLs ------------------------------------------------------------------------------------------


def _base_url(base_url: str | None) -> str:
    if base_url is None:
        from flask import current_app

        base_url = str(current_app.config.get("BASE_URL") or "")
    return base_url.rstrip("/")


def public_room_feed_url(room: Room, base_url: str | None = None) -> str:
    return _base_url(base_url) + ROOM_PATH.format(id=room.id)


def public_facility_feed_url(facility: Facility, base_url: str | None = None) -> str:
    return _base_url(base_url) + FACILITY_PATH.format(id=facility.id)


def private_feed_url(token: str, base_url: str | None = None) -> str:
    return _base_url(base_url) + PRIVATE_PATH.format(token=token)


# --- tokens ----------------------------------------------------------------------------------------


def _active_q(kind: str, user: User, group: Group | None) -> Any:
    q = select(FeedToken).where(FeedToken.kind == kind, FeedToken.user_id == user.id,
                                FeedToken.revoked_at.is_(None))
    return q.where(FeedToken.group_id == group.id) if group is not None else q.where(FeedToken.group_id.is_(None))


def _check(kind: str, user: User, group: Group | None) -> None:
    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown feed kind {kind}")
    if kind == "group" and (group is None or not is_member(user, group)):
        raise NotFound()
    if kind == "personal" and group is not None:
        raise ValueError("a personal feed has no group")


def active_token(session: Session, kind: str, user: User, group: Group | None = None) -> FeedToken | None:
    """The user's current token row for this feed (the secret itself is not recoverable)."""
    return session.scalars(_active_q(kind, user, group).order_by(FeedToken.id.desc())).first()


def _revoke_all(session: Session, kind: str, user: User, group: Group | None, now: datetime) -> int:
    rows = list(session.scalars(_active_q(kind, user, group)))
    for t in rows:
        t.revoked_at = now
    return len(rows)


def regenerate_token(session: Session, kind: str, user: User, group: Group | None = None, *,
                     now: datetime) -> str:
    """Revoke the user's token for this feed (if any) and issue a new one; returns the secret.

    Raises NotFound when ``user`` is not a member of ``group``.
    """
    _check(kind, user, group)
    with accounts.hold_account(session, user):  # a password change meanwhile revokes it, or refuses this
        revoked = _revoke_all(session, kind, user, group, now)
        secret = new_secret()
        session.add(FeedToken(token_hash=hash_secret(secret), kind=kind, user_id=user.id,
                              group_id=group.id if group is not None else None, created_at=now))
        session.flush()
        audit.record(session, "feed_token.regenerated" if revoked else "feed_token.created", now=now,
                     actor=user, group_id=group.id if group is not None else None, after={"kind": kind})
    return secret


def revoke_token(session: Session, kind: str, user: User, group: Group | None = None, *, now: datetime) -> bool:
    """Revoke the user's token for this feed; False when there was none."""
    _check(kind, user, group)
    with write_transaction(session):
        revoked = _revoke_all(session, kind, user, group, now)
        if revoked:
            session.flush()
            audit.record(session, "feed_token.revoked", now=now, actor=user,
                         group_id=group.id if group is not None else None, after={"kind": kind})
    return bool(revoked)


def group_feed_url(session: Session, group: Group, now: datetime, *, user: User,
                   base_url: str | None = None) -> str | None:
    """Create ``user``'s private feed link for ``group`` on first use and return it; None when a
    link already exists (it is stored hashed and cannot be shown again: regenerate instead)."""
    if active_token(session, "group", user, group) is not None:
        _check("group", user, group)
        return None
    return private_feed_url(regenerate_token(session, "group", user, group, now=now), base_url)


def personal_feed_url(session: Session, user: User, now: datetime, *, base_url: str | None = None) -> str | None:
    """As :func:`group_feed_url`, for the personal feed (all bookings of all the user's groups)."""
    if active_token(session, "personal", user) is not None:
        return None
    return private_feed_url(regenerate_token(session, "personal", user, now=now), base_url)


@dataclass(frozen=True)
class PrivateFeed:
    token: FeedToken
    user: User
    group: Group | None
    scope: FeedScope


def resolve_token(session: Session, token: str) -> PrivateFeed | None:
    """The feed a secret opens, or None for unknown, revoked or orphaned tokens (owner inactive or
    no longer a member of the group)."""
    if not _TOKEN_SHAPE.match(token):
        return None
    row = session.scalars(select(FeedToken).where(FeedToken.token_hash == hash_secret(token),
                                                  FeedToken.revoked_at.is_(None))).first()
    if row is None or row.user_id is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if row.kind == "group":
        group = session.get(Group, row.group_id) if row.group_id is not None else None
        if group is None or not is_member(user, group):
            return None
        return PrivateFeed(row, user, group, group_scope(group))
    if row.kind == "personal":
        return PrivateFeed(row, user, None, personal_scope(session, user))
    return None
