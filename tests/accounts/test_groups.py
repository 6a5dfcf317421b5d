"""Group application, the group page, members and the representative role, and who may do what."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import AuditEvent, Group, Membership, OutboxMessage, User
from reservations.services import groups as group_service
from tests.factories import NOW, make_group, make_user

from .conftest import login

pytestmark = pytest.mark.usefixtures("fixed_now")

APPLICATION = {
    "name": "四日市子育てネット", "kind": "npo", "representative_name": "山田花子",
    "contact_email": "Contact@Kosodate.example.jp", "contact_phone": "059-000-0000", "member_count": "25",
    "activity_field": "子育て支援", "description": "毎週の交流会", "public_name": "y",
}


def _role(group_id: int, user_id: int) -> str | None:
    return db.session.scalar(select(Membership.role).where(Membership.group_id == group_id,
                                                          Membership.user_id == user_id))


def test_group_application_is_applied_with_me_as_representative(client, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    res = client.post("/groups/new", data=APPLICATION)
    assert res.status_code == 302
    group = session.scalar(select(Group).where(Group.name == "四日市子育てネット"))
    assert group.status == "applied" and group.kind == "npo" and group.member_count == 25
    assert group.contact_email == "contact@kosodate.example.jp"
    assert group.public_name is True and group.public_purpose is False
    assert _role(group.id, user.id) == "representative"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "group.applied"))
    assert event.group_id == group.id and event.actor_id == user.id
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "登録申請中" in page and "山田花子" in page
    listing = client.get("/groups").get_data(as_text=True)
    assert "四日市子育てネット" in listing and "登録申請中" in listing
    # the form sent again: no second application for the desk to find
    again = client.post("/groups/new", data=APPLICATION)
    assert again.status_code == 422 and "この名前の団体は既に申請中です" in again.get_data(as_text=True)
    assert len(session.scalars(select(Group)).all()) == 1


def test_group_application_errors_keep_the_input(client, session) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    session.commit()
    login(client, "m@example.jp")
    res = client.post("/groups/new", data={**APPLICATION, "kind": "pirates", "contact_email": "nope"})
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert 'value="四日市子育てネット"' in html and "毎週の交流会" in html and 'value="nope"' in html
    assert session.scalar(select(Group)) is None


def test_a_non_member_gets_404_on_another_groups_page(client, session) -> None:  # type: ignore[no-untyped-def]
    owner, stranger = make_user(), make_user(email="s@example.jp")
    group = make_group(owner)
    session.commit()
    login(client, "s@example.jp")
    assert client.get(f"/groups/{group.id}").status_code == 404
    assert client.get("/groups/999999").status_code == 404
    assert client.post(f"/groups/{group.id}/members", data={"email": stranger.email}).status_code == 404
    assert client.post(f"/groups/{group.id}/leave").status_code == 404
    assert _role(group.id, stranger.id) is None


def test_only_the_representative_manages_members(client, session) -> None:  # type: ignore[no-untyped-def]
    rep, member, other = make_user(), make_user(email="mem@example.jp"), make_user(email="o@example.jp")
    group = make_group(rep, member)
    session.commit()
    login(client, "mem@example.jp")
    assert client.get(f"/groups/{group.id}").status_code == 200
    assert client.post(f"/groups/{group.id}/members", data={"email": "o@example.jp"}).status_code == 403
    assert client.post(f"/groups/{group.id}/members/{rep.id}/remove").status_code == 403
    assert client.post(f"/groups/{group.id}/members/{member.id}/representative").status_code == 403
    assert _role(group.id, other.id) is None and _role(group.id, rep.id) == "representative"
    assert _role(group.id, member.id) == "member"


def test_an_existing_account_is_invited_not_added_and_joins_only_by_the_link(app, client, session) -> None:  # type: ignore[no-untyped-def]
    """Nobody is made a member, and so nobody can be handed the representative role or sent the
    group's booking mail, by someone who only knows their address; the representative does not
    learn the account's name before its owner joins. Also from a group not registered yet."""
    rep, newcomer = make_user(email="rep@example.jp"), make_user(email="new@example.jp", display_name="新田")
    group = make_group(rep, status="applied")
    session.commit()
    login(client, "rep@example.jp")
    res = client.post(f"/groups/{group.id}/members", data={"email": "NEW@example.jp"}, follow_redirects=True)
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and "new@example.jp に招待メールを送りました" in page and "新田" not in page
    assert _role(group.id, newcomer.id) is None
    assert client.post(f"/groups/{group.id}/members/{newcomer.id}/representative").status_code == 404
    mail = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "group_invite"))
    assert mail.recipient == "new@example.jp" and mail.context["group_id"] == group.id
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "group.member_invited")).group_id == group.id
    client.post("/logout")

    # the invited person logs in from the link and joins
    path = mail.context["url"].removeprefix("http://localhost")
    login(client, "new@example.jp")
    joined = client.post(path, follow_redirects=True)
    assert "団体に参加しました" in joined.get_data(as_text=True)
    assert _role(group.id, newcomer.id) == "member"
    client.post("/logout")
    login(client, "rep@example.jp")
    again = client.post(f"/groups/{group.id}/members", data={"email": "new@example.jp"})
    assert again.status_code == 422 and "既にメンバーです" in again.get_data(as_text=True)


def test_an_unknown_email_is_invited_and_joins_by_the_link_after_signing_up(client, session) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from reservations.models import GroupInvitation

    rep = make_user(email="rep@example.jp")
    group = make_group(rep)
    session.commit()
    login(client, "rep@example.jp")
    res = client.post(f"/groups/{group.id}/members", data={"email": "Stranger@example.jp"}, follow_redirects=True)
    assert res.status_code == 200 and "招待メールを送りました" in res.get_data(as_text=True)
    mail = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "group_invite"))
    assert mail.recipient == "stranger@example.jp" and mail.context["group_name"] == group.name
    url = mail.context["url"]
    assert url.startswith("http://localhost/invitations/")
    path = url.removeprefix("http://localhost")
    token = path.rsplit("/", 1)[1]
    inv = session.scalar(select(GroupInvitation))
    assert inv.token_hash != token and len(token) >= 43  # only a hash is stored; 256-bit secret
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "group.member_invited")).group_id == group.id
    client.post("/logout")

    # not logged in: the page offers sign-up that comes back here
    page = client.get(path)
    assert page.status_code == 200 and group.name in page.get_data(as_text=True)
    signup = client.post("/signup", data={"email": "stranger@example.jp", "display_name": "新人",
                                          "password": "long enough password", "language": "ja", "next": path})
    assert signup.status_code == 302 and signup.headers["Location"].endswith(path)
    joined = client.post(path, follow_redirects=True)
    assert "団体に参加しました" in joined.get_data(as_text=True)
    newcomer = session.scalar(select(Membership).where(Membership.group_id == group.id, Membership.role == "member"))
    assert newcomer is not None and newcomer.user.email == "stranger@example.jp"
    # the link is used up; an expired one is refused too
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
    other = group_service.invite_by_email(session, group, rep, "late@example.jp", now=NOW - timedelta(days=15),
                                          base_url="http://localhost")
    session.commit()
    assert group_service.find_invitation(session, "whatever", now=NOW) is None
    assert other.expires_at < NOW


def test_only_the_representative_invites(client, session) -> None:  # type: ignore[no-untyped-def]
    rep, member = make_user(), make_user(email="mem@example.jp")
    group = make_group(rep, member)
    session.commit()
    with pytest.raises(group_service.Forbidden):
        group_service.invite_by_email(session, group, member, "x@example.jp", now=NOW, base_url="http://localhost")
    login(client, "mem@example.jp")
    assert client.post(f"/groups/{group.id}/members", data={"email": "x@example.jp"}).status_code == 403
    assert session.scalar(select(OutboxMessage)) is None


def test_remove_hand_over_and_leave(client, session) -> None:  # type: ignore[no-untyped-def]
    rep, a, b = make_user(email="rep@example.jp"), make_user(email="a@example.jp"), make_user()
    group = make_group(rep, a, b)
    session.commit()
    login(client, "rep@example.jp")
    assert client.post(f"/groups/{group.id}/members/{b.id}/remove").status_code == 302
    assert _role(group.id, b.id) is None
    res = client.post(f"/groups/{group.id}/leave", follow_redirects=True)
    assert "代表者は抜けられません" in res.get_data(as_text=True)
    assert _role(group.id, rep.id) == "representative"
    assert client.post(f"/groups/{group.id}/members/{a.id}/representative").status_code == 302
    assert (_role(group.id, a.id), _role(group.id, rep.id)) == ("representative", "member")
    assert client.post(f"/groups/{group.id}/leave").status_code == 302
    assert _role(group.id, rep.id) is None
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.group_id == group.id)))
    assert {"group.member_removed", "group.representative_changed", "group.member_left"} <= actions


def test_service_refuses_the_last_representative_leaving(session) -> None:  # type: ignore[no-untyped-def]
    rep = make_user()
    group = make_group(rep)
    session.commit()
    with pytest.raises(DomainError) as exc:
        group_service.leave(session, group, rep, now=NOW)
    assert exc.value.codes == ["last_representative"]


def test_my_groups_lists_only_mine_with_status(client, session) -> None:  # type: ignore[no-untyped-def]
    me = make_user(email="me@example.jp")
    make_group(me, name="わたしの団体", status="registered")
    make_group(make_user(), me, name="もう一つ", status="suspended")
    make_group(make_user(), name="他人の団体")
    session.commit()
    login(client, "me@example.jp")
    html = client.get("/groups").get_data(as_text=True)
    assert "わたしの団体" in html and "もう一つ" in html and "他人の団体" not in html
    assert "登録済み" in html and "登録停止" in html


def test_invitations_only_from_registered_groups_and_one_open_link_per_address(client, session) -> None:  # type: ignore[no-untyped-def]
    from reservations.models import GroupInvitation

    rep = make_user(email="rep@example.jp")
    applied = make_group(rep, status="applied", name="Click http://evil.example now")
    registered = make_group(rep)
    session.commit()
    login(client, "rep@example.jp")
    res = client.post(f"/groups/{applied.id}/members", data={"email": "victim@example.org"})
    assert res.status_code == 422 and "登録済みの団体だけです" in res.get_data(as_text=True)
    assert session.scalar(select(OutboxMessage)) is None
    first = group_service.invite_by_email(session, registered, rep, "x@example.jp", now=NOW, base_url="http://h")
    session.commit()
    second = group_service.invite_by_email(session, registered, rep, "x@example.jp", now=NOW, base_url="http://h")
    session.commit()
    session.refresh(first)
    assert first.expires_at == NOW and second.expires_at > NOW  # the older link no longer works
    open_ones = session.scalars(select(GroupInvitation).where(GroupInvitation.expires_at > NOW)).all()
    assert [i.id for i in open_ones] == [second.id]
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "group.member_invited")
                            .order_by(AuditEvent.id)).all()[-1]
    assert event.after["email"] == "x@example.jp"


def test_invitation_tokens_are_masked_in_the_request_log(app) -> None:  # type: ignore[no-untyped-def]
    import logging

    from reservations.web.feeds import MaskFeedTokens

    for name in ("werkzeug", "gunicorn.access"):  # flask run, and gunicorn's access log
        assert any(isinstance(f, MaskFeedTokens) for f in logging.getLogger(name).filters), name

    for line in ('"GET /invitations/AbC-123_xyz HTTP/1.1" 200',
                 '"GET /login?next=%2Finvitations%2FAbC-123_xyz HTTP/1.1" 200'):
        record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", (line,), None)
        MaskFeedTokens().filter(record)
        assert "AbC-123_xyz" not in record.getMessage() and "***" in record.getMessage()


def test_the_representative_changes_the_groups_details_and_members_cannot(client, session) -> None:  # type: ignore[no-untyped-def]
    rep = make_user(email="rep@example.jp")
    make_user(email="mem@example.jp")
    make_user(email="s@example.jp")
    group = make_group(rep, session.scalar(select(User).where(User.email == "mem@example.jp")))
    group.public_name, group.public_purpose = False, True
    session.commit()
    name, kind, contact = group.name, group.kind, group.contact_email
    login(client, "rep@example.jp")
    assert "団体の情報を変更する" in client.get(f"/groups/{group.id}").get_data(as_text=True)
    form = client.get(f"/groups/{group.id}/edit").get_data(as_text=True)
    assert f'value="{group.contact_email}"' in form and "団体名と種類の変更は" in form
    changes = {"representative_name": "鈴木一郎", "contact_email": "New@Example.jp", "contact_phone": "059-111-2222",
               "member_count": "30", "activity_field": "まちづくり", "description": "月1回の清掃",
               "public_name": "y", "name": "別の団体", "kind": "company"}  # public_purpose unticked
    bad = client.post(f"/groups/{group.id}/edit", data={**changes, "contact_email": "nope"})
    assert bad.status_code == 422  # the service's rule, as when applying
    html = bad.get_data(as_text=True)
    assert "メールアドレスの形式が正しくありません" in html
    zero = client.post(f"/groups/{group.id}/edit", data={**changes, "member_count": "0"}).get_data(as_text=True)
    assert "数値は 1 以上, 100000 以下でなければいけません" in zero and "このフィールドは必須です" not in zero
    assert 'value="nope"' in html and "鈴木一郎" in html and "月1回の清掃" in html  # nothing entered is lost
    session.expire_all()
    assert session.get(Group, group.id).representative_name != "鈴木一郎"

    res = client.post(f"/groups/{group.id}/edit", data=changes)
    assert res.status_code == 302
    session.expire_all()
    g = session.get(Group, group.id)
    assert (g.name, g.kind) == (name, kind)  # the name and kind are the front desk's
    assert (g.representative_name, g.contact_email, g.contact_phone, g.member_count) == (
        "鈴木一郎", "new@example.jp", "059-111-2222", 30)
    assert g.public_name is True and g.public_purpose is False and g.updated_at == NOW
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "group.details_updated"))
    assert event.group_id == g.id and event.actor_id == rep.id
    assert event.after["contact_email"] == "new@example.jp" and event.before["public_name"] is False
    assert "name" not in event.after and "kind" not in event.after
    assert "団体の情報を変更しました" in client.get(res.headers["Location"]).get_data(as_text=True)
    told = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "group_contact_changed")).all()
    assert [(m.recipient, m.context["new_email"]) for m in told] == [(contact, "new@example.jp")]  # the old one

    client = client.application.test_client()
    login(client, "mem@example.jp")
    assert "団体の情報を変更する" not in client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert client.get(f"/groups/{group.id}/edit").status_code == 403
    assert client.post(f"/groups/{group.id}/edit", data=changes | {"contact_email": "m@x.jp"}).status_code == 403
    client = client.application.test_client()
    login(client, "s@example.jp")
    assert client.get(f"/groups/{group.id}/edit").status_code == 404
    staff = client.application.test_client()
    make_user("staff", email="staff@example.jp")
    session.commit()
    login(staff, "staff@example.jp")  # the desk renames (desk tests); it does not edit as the group
    assert staff.get(f"/groups/{group.id}/edit").status_code == 404
    assert client.post(f"/groups/{group.id}/edit", data=changes | {"contact_email": "s@x.jp"}).status_code == 404
    session.expire_all()
    assert session.get(Group, group.id).contact_email == "new@example.jp"


def test_saving_unchanged_details_writes_nothing(session) -> None:  # type: ignore[no-untyped-def]
    rep = make_user()
    group = make_group(rep, representative_name="山田花子")
    session.commit()
    group_service.update_details(session, group, rep, group_service.details_of(group), now=NOW)
    session.commit()
    assert group.updated_at is None
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "group.details_updated")) is None


def test_update_details_keeps_the_name_and_kind_and_ignores_a_stored_kind_no_longer_offered(session) -> None:  # type: ignore[no-untyped-def]
    """The name and kind are what the group is registered as: the service never takes them from
    the representative, and never refuses a change of details over them."""
    from dataclasses import replace

    rep = make_user()
    group = make_group(rep, kind="retired-kind", representative_name="山田花子")
    session.commit()
    details = replace(group_service.details_of(group), name="別の団体", kind="company", contact_phone="059-1")
    group_service.update_details(session, group, rep, details, now=NOW)
    session.commit()
    assert (group.kind, group.contact_phone) == ("retired-kind", "059-1") and group.name != "別の団体"
