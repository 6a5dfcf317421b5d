"""Mapping a ``DomainError`` onto a WTForms form and a flash, in the user's language.

The one place where rule failures from the domain and the services meet the
web UI (STYLE.md point 5). A failure whose ``field`` names a form field is shown
beside that field; every other failure is flashed. When only field errors were
found, a short summary is flashed too, so the top of the page says something
went wrong (screen readers and small screens see the flash first).

Usage in a view::

    try:
        services.thing.do(db.session, ..., now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return render_template(..., form=form), 422
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import ValidationError

from ..domain.calendar import EARLIEST_DAY, LATEST_DAY
from ..domain.errors import DomainError
from .i18n import lang

CHECK_FIELDS = ("入力内容を確認してください。", "Please check the marked fields.")


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[1] if language == "en" else pair[0]


def apply_domain_error(
    form: FlaskForm | None,
    error: DomainError,
    *,
    field_map: Mapping[str, str] | None = None,
    language: str | None = None,
    category: str = "error",
) -> list[str]:
    """Put each failure on its form field, flash the others; return the flashed messages.

    ``field_map`` renames a failure's field to the form's field name when they
    differ (e.g. ``{"slot": "slot_code"}``). ``language`` defaults to the
    request's language (``web.i18n.lang()``).
    """
    language = language or lang()
    renames = dict(field_map or {})
    flashed: list[str] = []
    on_fields = 0
    for failure in error.failures:
        text = failure.message(language)
        name = renames.get(failure.field, failure.field) if failure.field else None
        field = form._fields.get(name) if (form is not None and name) else None
        if field is not None:
            errors = list(field.errors) if not isinstance(field.errors, dict) else []
            if text not in errors:
                errors.append(text)
            field.errors = errors
            on_fields += 1
        elif text not in flashed:
            flashed.append(text)
    if on_fields and not flashed:
        flashed.append(_pick(CHECK_FIELDS, language))
    for text in flashed:
        flash(text, category)
    return flashed


def flash_form_errors(form: FlaskForm, *, language: str | None = None, category: str = "error") -> None:
    """After a failed ``validate_on_submit``: one summary flash (the details sit beside the fields)."""
    if form.errors:
        flash(_pick(CHECK_FIELDS, language or lang()), category)


class DayField(DateField):
    """A date input that refuses days outside 2000–2099 with a message, before any view
    computes "the day after" a year-9999 date and overflows."""

    def pre_validate(self, form: Any) -> None:
        if self.data is not None and not (EARLIEST_DAY <= self.data <= LATEST_DAY):
            raise ValidationError(str(_l("2000年から2099年までの日付を入力してください。")))
