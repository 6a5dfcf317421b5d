"""The shared DomainError → form mapping."""

from __future__ import annotations

from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from reservations.domain.errors import DomainError, RuleFailure
from reservations.web.forms_util import apply_domain_error


class _Form(FlaskForm):
    name = StringField("name")
    slot_code = StringField("slot")


def test_failures_go_to_their_fields_and_the_rest_is_flashed(app) -> None:  # type: ignore[no-untyped-def]
    error = DomainError([
        RuleFailure("a", "名前が違います", "Bad name", field="name"),
        RuleFailure("b", "枠が違います", "Bad slot", field="slot"),
        RuleFailure("c", "全体の問題", "General problem"),
        RuleFailure("d", "不明な欄", "Unknown field", field="nope"),
    ])
    with app.test_request_context("/", method="POST"):
        form = _Form(meta={"csrf": False})
        flashed = apply_domain_error(form, error, field_map={"slot": "slot_code"}, language="en")
        assert form.name.errors == ["Bad name"]
        assert form.slot_code.errors == ["Bad slot"]
        assert flashed == ["General problem", "Unknown field"]
        assert get_flashed_messages() == flashed


def test_only_field_failures_flash_a_summary_in_japanese(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/", method="POST"):
        form = _Form(meta={"csrf": False})
        flashed = apply_domain_error(form, DomainError(RuleFailure("a", "名前が違います", "Bad name", field="name")),
                                     language="ja")
        assert form.name.errors == ["名前が違います"]
        assert flashed == ["入力内容を確認してください。"]


def test_without_a_form_everything_is_flashed(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/", method="POST"):
        assert apply_domain_error(None, DomainError(RuleFailure("a", "だめ", "No", field="name")),
                                  language="en") == ["No"]
