"""The English catalogs: each one loads, none is fuzzy, and every message the code and the
templates mark for translation has an English text in one of them (English pages in English)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = sorted((ROOT / "reservations" / "translations").glob("*/en/LC_MESSAGES/messages.po"))


def _read(po: Path):  # type: ignore[no-untyped-def]
    with po.open("rb") as f:
        return read_po(f)


def test_catalogs_load_and_none_is_fuzzy() -> None:
    assert CATALOGS
    for po in CATALOGS:
        catalog = _read(po)
        assert not catalog.fuzzy, f"{po} is marked fuzzy: pybabel compile would skip it"
        empty = [m.id for m in catalog if m.id and not m.string]
        assert not empty, f"{po}: untranslated {empty[:5]}"


def test_every_marked_message_has_an_english_text() -> None:
    known: set[str] = set()
    for po in CATALOGS:
        known |= {m.id if isinstance(m.id, str) else m.id[0] for m in _read(po) if m.id and m.string}
    method_map = [("reservations/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    missing = set()
    for dirname in ("reservations", "templates"):
        for filename, _lineno, message, _comments, _context in extract_from_dir(
                ROOT / dirname, [(p.split("/", 1)[1], m) for p, m in method_map if p.startswith(dirname)],
                keywords={"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}):
            msgid = message if isinstance(message, str) else message[0]
            if msgid and msgid not in known and not filename.startswith("mail/"):
                missing.add(f"{dirname}/{filename}: {msgid}")
    assert not missing, "\n".join(sorted(missing))


def test_one_japanese_text_has_one_english_text() -> None:
    """The areas' catalogs are merged into one at run time, so a message in two catalogs with two
    English texts shows one of them everywhere (QA saw the desk's "Closures" for a closed weekday
    on the public facility page). A text that needs two translations needs two Japanese messages."""
    texts: dict[str, dict[str, str]] = {}
    for po in CATALOGS:
        for m in _read(po):
            if m.id:
                msgid = m.id if isinstance(m.id, str) else m.id[0]
                texts.setdefault(msgid, {})[po.parts[-4]] = m.string if isinstance(m.string, str) else m.string[0]
    clashes = {k: v for k, v in texts.items() if len(set(v.values())) > 1}
    assert not clashes, "\n".join(f"{k}: {v}" for k, v in sorted(clashes.items()))
