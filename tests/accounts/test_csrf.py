"""With CSRF protection on (as in production), a POST without the token is refused and writes nothing."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from reservations.extensions import db
from reservations.models import Group, User
from tests.factories import PASSWORD, make_user


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count(model.id))) or 0


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "form without a CSRF token"
    return match.group(1)


def test_posts_without_a_token_are_rejected(csrf_app) -> None:  # type: ignore[no-untyped-def]
    client = csrf_app.test_client()
    res = client.post("/signup", data={"email": "x@example.jp", "display_name": "x",
                                       "password": "a long enough pw", "language": "ja"})
    assert res.status_code == 400
    assert _count(User) == 0
    make_user(email="m@example.jp")
    db.session.commit()
    assert client.post("/login", data={"email": "m@example.jp", "password": PASSWORD}).status_code == 400


def test_with_the_token_it_works_and_group_posts_need_it_too(csrf_app) -> None:  # type: ignore[no-untyped-def]
    make_user(email="m@example.jp")
    db.session.commit()
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    res = client.post("/login", data={"email": "m@example.jp", "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 302
    res = client.post("/groups/new", data={"name": "団体", "kind": "npo", "representative_name": "代表",
                                           "contact_email": "g@example.jp", "member_count": "3"})
    assert res.status_code == 400
    assert _count(Group) == 0
    assert client.post("/logout").status_code == 400
    assert client.get("/profile").status_code == 200  # still logged in
