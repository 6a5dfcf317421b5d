"""Credentials made or used while the account changes in another request.

A password reset must revoke every API token and calendar link, including one being made at that
very moment with the session the reset is meant to end; and a reset link is spent once, even
when it is sent twice at the same moment.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import ApiToken, AuditEvent, FeedToken, PasswordResetToken, User
from reservations.services import accounts, api_tokens
from reservations.services import feeds as feed_service
from tests.concurrency import outcome_once_it_waits
from tests.factories import NOW, PASSWORD, make_user

NEW_PASSWORD = "a-new-long-passphrase-2026"


def _active_credentials(session, user_id: int) -> int:  # type: ignore[no-untyped-def]
    return sum(session.scalar(select(func.count()).select_from(model)
                              .where(model.user_id == user_id, model.revoked_at.is_(None))) or 0
               for model in (ApiToken, FeedToken))


MAKERS = {
    "api_token": lambda session, user: api_tokens.create_token(session, user, name="script", now=NOW),
    "calendar_link": lambda session, user: feed_service.regenerate_token(session, "personal", user, now=NOW),
}


@pytest.mark.both_databases
@pytest.mark.parametrize("credential", sorted(MAKERS))
def test_a_credential_asked_for_after_the_password_changed_elsewhere_is_refused(session, credential) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    session.commit()
    mine = session.get(User, user.id)  # the old login's request has loaded (and checked) the account
    with Session(db.engine) as owner:  # the owner changes the password in another request
        accounts.change_password(owner, owner.get(User, user.id), current=PASSWORD, new=NEW_PASSWORD, now=NOW)
        owner.commit()
    with pytest.raises(DomainError) as refused:
        MAKERS[credential](session, mine)
    session.rollback()
    assert refused.value.codes == ["login_ended"]
    assert _active_credentials(session, user.id) == 0


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_token_made_while_a_reset_commits_waits_and_is_refused(app, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    session.commit()
    user_id = user.id
    token = accounts.request_password_reset(session, user.email, now=NOW, link=lambda t: t)
    session.commit()
    assert token is not None
    resetting = Session(db.engine)
    accounts.reset_password(resetting, token, NEW_PASSWORD, now=NOW + timedelta(minutes=5))  # not committed yet

    def make_token() -> None:
        api_tokens.create_token(db.session, db.session.get(User, user_id), name="script", now=NOW)

    try:
        said = outcome_once_it_waits(app, make_token, query_like="%FOR UPDATE%", then=resetting.commit)
    finally:
        resetting.close()
    assert said == "login_ended"
    assert _active_credentials(session, user_id) == 0


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_reset_link_used_twice_at_once_sets_the_password_once(app, session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    session.commit()
    token = accounts.request_password_reset(session, user.email, now=NOW, link=lambda t: t)
    session.commit()
    assert token is not None
    first = Session(db.engine)  # the first use has spent the link but not committed
    first.execute(update(PasswordResetToken).where(PasswordResetToken.user_id == user.id)
                  .values(used_at=NOW + timedelta(minutes=1)))
    try:
        said = outcome_once_it_waits(
            app, lambda: accounts.reset_password(db.session, token, NEW_PASSWORD, now=NOW + timedelta(minutes=1)),
            query_like="UPDATE password_reset_tokens%", then=first.commit)
    finally:
        first.close()
    assert said == "reset_link_invalid"


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_sign_ups_with_one_address_at_once_make_one_account(app, session) -> None:  # type: ignore[no-untyped-def]
    """Both look the address up before either commits; the unique index decides, and the second
    is told the address is taken (its form shows it) rather than given a server error."""
    def sign_up() -> None:
        accounts.sign_up(db.session, email="twice@example.jp", display_name="二度押し", password=NEW_PASSWORD,
                         language="ja", now=NOW)

    accounts.sign_up(session, email="twice@example.jp", display_name="先", password=NEW_PASSWORD,
                     language="ja", now=NOW)  # inserted, not committed
    assert outcome_once_it_waits(app, sign_up, query_like="%INSERT INTO users%", then=session.commit) == "email_taken"
    assert session.scalar(select(func.count()).select_from(User).where(User.email == "twice@example.jp")) == 1


@pytest.mark.both_databases
def test_a_token_revoked_in_two_tabs_is_recorded_revoked_once(session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    token, _ = api_tokens.create_token(session, user, name="script", now=NOW)
    session.commit()
    mine = session.get(ApiToken, token.id)  # this tab's request has loaded it: not revoked
    with Session(db.engine) as other:
        api_tokens.revoke_token(other, token.id, actor=other.get(User, user.id), now=NOW)
        other.commit()
    api_tokens.revoke_token(session, mine.id, actor=user, now=NOW + timedelta(minutes=1))
    session.commit()
    assert session.scalars(select(AuditEvent.note).where(AuditEvent.action == "api_token.revoked")).all() == [
        f"token {token.id}"]
    assert session.get(ApiToken, token.id).revoked_at is not None
