"""Choosing the language: the user's saved choice, then the session, then the browser, then Japanese."""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user
from markupsafe import Markup


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return str(current_user.language)
    chosen = session.get("language")
    if chosen in languages:
        return str(chosen)
    best = request.accept_languages.best_match(languages) if request else None
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def lang() -> str:
    """The current language code, for picking ``name_ja``/``name_en`` and domain messages."""
    from flask_babel import get_locale

    loc = get_locale()
    return "en" if loc is not None and loc.language == "en" else "ja"


def aside(value: object, language: str) -> str:
    """``paren`` as plain text, for labels built in Python (form choices, names)."""
    return f"（{value}）" if language == "ja" else f" ({value})"


def paren(value: object) -> Markup:
    """An aside in brackets as each language writes it: full-width brackets in Japanese,
    a space and ASCII brackets in English ("会議室（中部地区市民センター）", "Room (Chubu Center)")."""
    # the template is our own brackets around %s; ``%`` escapes ``value`` unless it is Markup already
    return Markup(aside("%s", lang())) % value  # noqa: S704


def list_separator() -> str:
    """Between the items of a list written in a sentence: 、 in Japanese, a comma in English."""
    return "、" if lang() == "ja" else ", "
