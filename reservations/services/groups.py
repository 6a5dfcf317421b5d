"""Groups from a member's side: apply for registration, members, the representative role.

Staff register, suspend and renew groups elsewhere; here a group starts as
``applied`` with its creator as representative. Every change writes an audit
event with the group's id. Functions flush, never commit.

Adding a member by email is an invitation: a mail with a one-time link (valid 14
days) that makes whoever opens it while logged in a member, after logging in or
signing up. Nobody becomes a member without following that link, so nobody is made a
group's representative, and sent its booking mail, by a stranger who typed their
address; and the representative never sees an account's name before its owner joins.
Addresses without an account are invited only by registered groups (staff have seen the
group's name, which the mail carries). Every invitation is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..domain.errors import DomainError, RuleFailure
from ..models import Group, GroupInvitation, Membership, User
from ..models.group import GROUP_KINDS
from . import audit, notify
from .accounts import check_email, find_by_email, normalize_email
from .permissions import Forbidden, NotFound
from .secret_tokens import hash_secret, new_secret

INVITATION_VALID_FOR = timedelta(days=14)
REPRESENTATIVE = "representative"
MEMBER = "member"


@dataclass
class GroupApplication:
    name: str
    kind: str
    representative_name: str
    contact_email: str
    contact_phone: str = ""
    member_count: int = 1
    activity_field: str = ""
    description: str = ""
    public_name: bool = False
    public_purpose: bool = False


def _fail(code: str, ja: str, en: str, field: str | None = None, *, details: dict[str, Any] | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=field, details=details or {})


def check_identity(name: str, kind: str) -> list[RuleFailure]:
    """What a group is registered as: its name and kind (applying; the front desk renames)."""
    out: list[RuleFailure] = []
    if not name:
        out.append(_fail("name_required", "団体名を入力してください。", "Please enter the group's name.", "name"))
    elif len(name) > 200:
        out.append(_fail("name_too_long", "団体名は200文字以内にしてください。",
                         "The name must be at most 200 characters long.", "name"))
    if kind not in GROUP_KINDS:
        out.append(_fail("kind_invalid", "団体の種類を選んでください。", "Please choose the kind of group.", "kind"))
    return out


def _check_details(a: GroupApplication) -> list[RuleFailure]:
    """Everything else: what the representative can change later (``EDITABLE``)."""
    out: list[RuleFailure] = []
    if not a.representative_name:
        out.append(_fail("representative_required", "代表者名を入力してください。",
                         "Please enter the representative's name.", "representative_name"))
    elif len(a.representative_name) > 100:
        out.append(_fail("representative_too_long", "代表者名は100文字以内にしてください。",
                         "The representative's name must be at most 100 characters long.", "representative_name"))
    out += check_email(a.contact_email, field="contact_email")
    if len(a.contact_phone) > 40:
        out.append(_fail("phone_too_long", "電話番号は40文字以内にしてください。",
                         "The phone number must be at most 40 characters long.", "contact_phone"))
    if not 1 <= a.member_count <= 100000:
        out.append(_fail("member_count_invalid", "会員数は1以上の数で入力してください。",
                         "The number of members must be 1 or more.", "member_count"))
    if len(a.activity_field) > 200:
        out.append(_fail("activity_too_long", "活動分野は200文字以内にしてください。",
                         "The field of activity must be at most 200 characters long.", "activity_field"))
    if len(a.description) > 2000:
        out.append(_fail("description_too_long", "活動内容は2000文字以内にしてください。",
                         "The description must be at most 2000 characters long.", "description"))
    return out


def _normalized(a: GroupApplication, *, identity: bool = True) -> GroupApplication:
    """Trimmed text and a normalized address; refused with every failure found (the name and kind
    too unless ``identity`` is False)."""
    a.name, a.representative_name = a.name.strip(), a.representative_name.strip()
    a.contact_email, a.contact_phone = normalize_email(a.contact_email), a.contact_phone.strip()
    a.activity_field, a.description = a.activity_field.strip(), a.description.strip()
    failures = (check_identity(a.name, a.kind) if identity else []) + _check_details(a)
    if failures:
        raise DomainError(failures)
    return a


def apply_for_group(session: Session, user: User, application: GroupApplication, *, now: datetime) -> Group:
    """A new group in status ``applied``; ``user`` becomes its representative. The same user
    applying again under the same name while that application is open (a form sent twice) is
    refused rather than made a second group for the desk to find and discard."""
    a = _normalized(application)
    with write_transaction(session, user):  # the same form sent twice at once: the second waits, then finds the first
        again = session.scalar(
            select(Group.id).join(Membership, Membership.group_id == Group.id)
            .where(Membership.user_id == user.id, Group.status == "applied", Group.name == a.name))
        if again is not None:
            raise DomainError(_fail(
                "already_applied", "この名前の団体は既に申請中です。団体の一覧から確認できます。",
                "You have already applied for a group of this name. It is in your list of groups.", "name",
                details={"group_id": again}))
        group = Group(name=a.name, kind=a.kind, status="applied", representative_name=a.representative_name,
                      contact_email=a.contact_email, contact_phone=a.contact_phone, member_count=a.member_count,
                      activity_field=a.activity_field, description=a.description, public_name=a.public_name,
                      public_purpose=a.public_purpose, created_at=now, is_sample=False)
        session.add(group)
        session.add(Membership(user=user, group=group, role=REPRESENTATIVE))
        session.flush()
        audit.record(session, "group.applied", now=now, actor=user, group_id=group.id,
                     after={"name": group.name, "kind": group.kind, "status": group.status})
        session.flush()
    return group


# what a representative may change after applying; the name and kind are what the group was
# registered as, so changing them goes through the front desk
EDITABLE = ("representative_name", "contact_email", "contact_phone", "member_count", "activity_field",
            "description", "public_name", "public_purpose")


def details_of(group: Group) -> GroupApplication:
    """The group's details as the form to change them starts."""
    return GroupApplication(group.name, group.kind, **{k: getattr(group, k) for k in EDITABLE})


def update_details(session: Session, group: Group, actor: User, details: GroupApplication, *,
                   now: datetime) -> Group:
    """The representative changes the group's contact details, description and what public
    calendars may show (a new representative's name, a new address). The same rules as applying;
    ``details.name`` and ``details.kind`` are ignored. NotFound for outsiders, Forbidden for members."""
    _require_representative(group, actor)
    a = _normalized(replace(details, name=group.name, kind=group.kind), identity=False)
    with _as_representative(session, group, actor):
        before = {k: getattr(group, k) for k in EDITABLE}
        after = {k: getattr(a, k) for k in EDITABLE}
        if after == before:
            return group
        for k, v in after.items():
            setattr(group, k, v)
        group.updated_at = now  # public feeds show its name and purpose as it allows
        session.flush()
        changed = sorted(k for k in EDITABLE if before[k] != after[k])
        audit.record(session, "group.details_updated", now=now, actor=actor, group_id=group.id,
                     before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
        old_email = str(before["contact_email"] or "")
        if old_email and old_email != after["contact_email"]:
            # the group's mail now goes elsewhere: whoever read the old address hears of it
            notify.queue_to_address(session, "group_contact_changed", old_email, "ja", now=now,
                                    key=f"{group.id}:{now.isoformat()}:{old_email}",
                                    context={"group_name": group.name, "changed_by": actor.display_name,
                                             "new_email": after["contact_email"]})
        session.flush()
    return group


def memberships_of(session: Session, user: User) -> list[Membership]:
    """The user's memberships with their groups, by group name."""
    return list(session.scalars(
        select(Membership).join(Group).where(Membership.user_id == user.id).order_by(Group.name, Group.id)))


def get_group_for(session: Session, group_id: int, user: User) -> Group:
    """The group if ``user`` is a member; ``NotFound`` otherwise, so ids reveal nothing."""
    group = session.get(Group, group_id)
    if group is None or _membership(group, user.id) is None:
        raise NotFound()
    return group


def _membership(group: Group, user_id: int) -> Membership | None:
    return next((m for m in group.memberships if m.user_id == user_id), None)


def is_representative(group: Group, user: User) -> bool:
    m = _membership(group, user.id)
    return m is not None and m.role == REPRESENTATIVE


def _require_representative(group: Group, actor: User) -> None:
    m = _membership(group, actor.id)
    if m is None:
        raise NotFound()
    if m.role != REPRESENTATIVE:
        raise Forbidden()


def _representatives(group: Group) -> list[Membership]:
    return [m for m in group.memberships if m.role == REPRESENTATIVE]


def _members_now(session: Session, group: Group) -> None:
    """Inside ``write_transaction(session, group)``: the group's memberships as they are now.
    A check such as "the last representative cannot leave" must hold against another member's
    change committed since this request loaded them (a hand-over, someone leaving), and the group
    row stays locked until the transaction ends, so no such change can slip in after the check."""
    session.expire(group, ["memberships"])
    session.scalars(select(Membership).where(Membership.group_id == group.id)
                    .execution_options(populate_existing=True)).all()


@contextmanager
def _as_representative(session: Session, group: Group, actor: User) -> Iterator[Session]:
    """A write transaction on ``group`` in which ``actor`` is still its representative, checked
    on the members as they are now (``_members_now``): one who handed over a moment ago is refused."""
    with write_transaction(session, group):
        _members_now(session, group)
        _require_representative(group, actor)
        yield session


def _drop(session: Session, m: Membership) -> None:
    group, user = m.group, m.user
    session.delete(m)
    session.flush()
    session.expire(group, ["memberships"])
    session.expire(user, ["memberships"])


def remove_member(session: Session, group: Group, actor: User, user_id: int, *, now: datetime) -> None:
    """The representative removes someone else (to leave yourself, use ``leave``)."""
    _require_representative(group, actor)
    if user_id == actor.id:
        raise DomainError(_fail("remove_self", "自分自身は「団体を抜ける」から外れてください。",
                                "To remove yourself, use “Leave this group”."))
    with _as_representative(session, group, actor):
        m = _membership(group, user_id)
        if m is None:
            raise NotFound()
        before = {"user_id": user_id, "role": m.role}
        _drop(session, m)
        audit.record(session, "group.member_removed", now=now, actor=actor, group_id=group.id, before=before)
        session.flush()


def hand_over(session: Session, group: Group, actor: User, user_id: int, *, now: datetime) -> None:
    """The representative makes another member the representative and becomes a member."""
    _require_representative(group, actor)
    with _as_representative(session, group, actor):
        target = _membership(group, user_id)
        if target is None or user_id == actor.id:
            raise NotFound()
        mine = _membership(group, actor.id)
        assert mine is not None
        target.role = REPRESENTATIVE
        mine.role = MEMBER
        audit.record(session, "group.representative_changed", now=now, actor=actor, group_id=group.id,
                     before={"representative": actor.id}, after={"representative": user_id})
        session.flush()


def _refuse_last_representative(group: Group, m: Membership) -> None:
    if m.role == REPRESENTATIVE and len(_representatives(group)) <= 1:
        raise DomainError(_fail(
            "last_representative",
            "代表者は抜けられません。先に他のメンバーに代表者を引き継いでください。",
            "The representative cannot leave. Hand the role over to another member first."))


def leave(session: Session, group: Group, user: User, *, now: datetime) -> None:
    """A member leaves; the last representative must hand the role over first."""
    m = _membership(group, user.id)
    if m is None:
        raise NotFound()
    _refuse_last_representative(group, m)  # before taking the write lock, for the common case
    with write_transaction(session, group):
        _members_now(session, group)
        m = _membership(group, user.id)
        if m is None:
            raise NotFound()
        _refuse_last_representative(group, m)
        before = {"user_id": user.id, "role": m.role}
        _drop(session, m)
        audit.record(session, "group.member_left", now=now, actor=user, group_id=group.id, before=before)
        session.flush()


def invite_by_email(session: Session, group: Group, actor: User, email: str, *, now: datetime,
                    base_url: str) -> GroupInvitation:
    """The representative invites someone by email; they join by the mailed link.

    An address without an account is invited only by a registered group; an address has at
    most one open invitation per group: a new one replaces it."""
    _require_representative(group, actor)
    email = normalize_email(email)
    failures = check_email(email)
    if failures:
        raise DomainError(failures)
    user = find_by_email(session, email)
    if user is not None and not user.active:
        raise DomainError(_fail(
            "inactive_account", "このメールアドレスのアカウントは現在利用できません。窓口にお問い合わせください。",
            "The account with this email address is not active. Please contact the front desk.", "email"))
    if user is not None and _membership(group, user.id) is not None:
        raise DomainError(_fail("already_member", "この方は既にメンバーです。",
                                "This person is already a member.", "email"))
    if user is None and group.status != "registered":
        raise DomainError(_fail(
            "group_not_registered",
            "アカウントをお持ちでない方に招待メールを送れるのは、登録済みの団体だけです。"
            "先にアカウントを登録してもらうと、登録前でも招待できます。",
            "Only registered groups can invite people who have no account yet. Once they have signed up, "
            "they can be invited before the group is registered.",
            "email"))
    token = new_secret()
    with _as_representative(session, group, actor):
        session.execute(
            update(GroupInvitation)
            .where(GroupInvitation.group_id == group.id, GroupInvitation.email == email,
                   GroupInvitation.accepted_at.is_(None), GroupInvitation.expires_at > now)
            .values(expires_at=now).execution_options(synchronize_session=False))
        inv = GroupInvitation(group_id=group.id, email=email, token_hash=hash_secret(token),
                              invited_by_id=actor.id, created_at=now, expires_at=now + INVITATION_VALID_FOR)
        session.add(inv)
        session.flush()
        notify.queue_to_address(
            session, "group_invite", email, actor.language, now=now, key=f"{group.id}:{inv.id}",
            context={"group_id": group.id, "group_name": group.name, "invited_by": actor.display_name,
                     "url": f"{base_url.rstrip('/')}/invitations/{token}"})
        audit.record(session, "group.member_invited", now=now, actor=actor, group_id=group.id,
                     after={"invitation_id": inv.id, "email": email})
        session.flush()
    return inv


def find_invitation(session: Session, token: str, *, now: datetime) -> GroupInvitation | None:
    """The open invitation behind ``token``: not accepted and not expired."""
    inv = session.scalar(select(GroupInvitation).where(GroupInvitation.token_hash == hash_secret(token or "")))
    if inv is None or inv.accepted_at is not None or inv.expires_at <= now:
        return None
    return inv


def accept_invitation(session: Session, token: str, user: User, *, now: datetime) -> Group:
    """``user`` joins the invitation's group as a member; the link is used up."""
    with write_transaction(session):
        inv = find_invitation(session, token, now=now)
        if inv is None:
            raise DomainError(_fail(
                "invitation_invalid", "この招待のリンクは無効か、期限が切れているか、既に使われています。代表者にもう一度招待してもらってください。",
                "This invitation link is invalid, expired or already used. Ask the representative to invite you again.",
            ))
        group = inv.group
        # the link is used up by whoever sets accepted_at first (also under PostgreSQL's
        # concurrent transactions, where reading it above does not lock the row)
        used: Any = session.execute(
            update(GroupInvitation)
            .where(GroupInvitation.id == inv.id, GroupInvitation.accepted_at.is_(None))
            .values(accepted_at=now, accepted_by_id=user.id).execution_options(synchronize_session=False))
        if used.rowcount != 1:
            raise DomainError(_fail(
                "invitation_invalid", "この招待のリンクは既に使われています。",
                "This invitation link has already been used."))
        if _membership(group, user.id) is None:
            session.add(Membership(user=user, group=group, role=MEMBER))
            audit.record(session, "group.member_joined", now=now, actor=user, group_id=group.id,
                         after={"user_id": user.id, "role": MEMBER, "invitation_id": inv.id})
        session.flush()
        session.expire(group, ["memberships"])
        session.expire(user, ["memberships"])
    return group
