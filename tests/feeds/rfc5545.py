"""A small, strict RFC 5545 reader written for the tests, independent of ``icalendar``.

It checks the syntax real clients trip over (CRLF after every line, ≤ 75 octets
per physical line, folds that never split a UTF-8 character, no BOM, no blank
lines, no control characters, balanced BEGIN/END, TEXT escaping) and parses
content lines into components, with DATE-TIME values resolved through the
feed's own VTIMEZONEs checked against the tz database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

NAME = re.compile(r"[A-Za-z0-9-]+")
SAFE_PARAM = re.compile(r'[^";:,\x00-\x08\x0a-\x1f\x7f]*')
QUOTED = re.compile(r'"[^"\x00-\x08\x0a-\x1f\x7f]*"')
TEXT_PROPS = {"SUMMARY", "LOCATION", "DESCRIPTION", "COMMENT", "NAME", "X-WR-CALNAME", "X-WR-CALDESC"}


class SyntaxProblem(AssertionError):
    pass


@dataclass
class Line:
    name: str
    params: dict[str, list[str]]
    value: str


@dataclass
class Component:
    name: str
    props: list[Line] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def all(self, name: str) -> list[Line]:
        return [p for p in self.props if p.name == name]

    def one(self, name: str) -> Line:
        found = self.all(name)
        if len(found) != 1:
            raise SyntaxProblem(f"{self.name}: {name} appears {len(found)} times")
        return found[0]

    def value(self, name: str) -> str:
        return self.one(name).value

    def text(self, name: str) -> str:
        return unescape_text(self.value(name))

    def components(self, name: str) -> list[Component]:
        return [c for c in self.children if c.name == name]


def physical_lines(data: bytes) -> list[bytes]:
    """Check the byte-level rules and return the physical lines (without CRLF)."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise SyntaxProblem("BOM")
    if not data.endswith(b"\r\n"):
        raise SyntaxProblem("last line not ended by CRLF")
    lines = data[:-2].split(b"\r\n")
    for n, raw in enumerate(lines, 1):
        if b"\r" in raw or b"\n" in raw:
            raise SyntaxProblem(f"line {n}: bare CR or LF")
        if not raw:
            raise SyntaxProblem(f"line {n}: blank line")
        if len(raw) > 75:
            raise SyntaxProblem(f"line {n}: {len(raw)} octets > 75")
        try:
            text = raw.decode("utf-8")  # each physical line alone: a fold inside a character fails here
        except UnicodeDecodeError as exc:
            raise SyntaxProblem(f"line {n}: not UTF-8 on its own (fold split a character?): {exc}") from exc
        if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in text):
            raise SyntaxProblem(f"line {n}: control character")
    return lines


def unfold(data: bytes) -> list[str]:
    out: list[str] = []
    for raw in physical_lines(data):
        text = raw.decode("utf-8")
        if text[0] in " \t":
            if not out:
                raise SyntaxProblem("continuation before the first line")
            out[-1] += text[1:]
        else:
            out.append(text)
    return out


def parse_line(text: str) -> Line:
    m = NAME.match(text)
    if not m:
        raise SyntaxProblem(f"bad name: {text!r}")
    name, pos = m.group(0).upper(), m.end()
    params: dict[str, list[str]] = {}
    while pos < len(text) and text[pos] == ";":
        m = NAME.match(text, pos + 1)
        if not m or m.end() >= len(text) or text[m.end()] != "=":
            raise SyntaxProblem(f"bad parameter in {text!r}")
        pname, pos = m.group(0).upper(), m.end() + 1
        values: list[str] = []
        while True:
            q = QUOTED.match(text, pos)
            if q:
                values.append(q.group(0)[1:-1])
                pos = q.end()
            else:
                s = SAFE_PARAM.match(text, pos)
                assert s is not None
                values.append(s.group(0))
                pos = s.end()
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        params[pname] = values
    if pos >= len(text) or text[pos] != ":":
        raise SyntaxProblem(f"no ':' after name/parameters in {text!r}")
    return Line(name, params, text[pos + 1:])


def unescape_text(value: str) -> str:
    """A single TEXT value: only \\\\ \\; \\, \\n \\N escapes; unescaped ; or , are errors."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if i + 1 >= len(value):
                raise SyntaxProblem(f"dangling backslash in {value!r}")
            nxt = value[i + 1]
            if nxt in "nN":
                out.append("\n")
            elif nxt in "\\;,":
                out.append(nxt)
            else:
                raise SyntaxProblem(f"bad escape \\{nxt} in {value!r}")
            i += 2
            continue
        if c in ";,":
            raise SyntaxProblem(f"unescaped {c!r} in TEXT {value!r}")
        out.append(c)
        i += 1
    return "".join(out)


def parse(data: bytes) -> Component:
    """The VCALENDAR, with every structural and TEXT rule checked."""
    stack: list[Component] = []
    root: Component | None = None
    for text in unfold(data):
        line = parse_line(text)
        if line.name == "BEGIN":
            comp = Component(line.value.upper())
            if stack:
                stack[-1].children.append(comp)
            elif root is not None:
                raise SyntaxProblem("content after the calendar")
            else:
                root = comp
            stack.append(comp)
        elif line.name == "END":
            if not stack or stack[-1].name != line.value.upper():
                raise SyntaxProblem(f"END:{line.value} does not close {stack[-1].name if stack else None}")
            stack.pop()
        else:
            if not stack:
                raise SyntaxProblem(f"property outside a component: {text!r}")
            if line.name in TEXT_PROPS:
                unescape_text(line.value)
            stack[-1].props.append(line)
    if stack or root is None or root.name != "VCALENDAR":
        raise SyntaxProblem("unbalanced or missing VCALENDAR")
    check_calendar(root)
    return root


def _offset(value: str) -> timedelta:
    m = re.fullmatch(r"([+-])(\d\d)(\d\d)(\d\d)?", value)
    if not m:
        raise SyntaxProblem(f"bad UTC offset {value}")
    sign = 1 if m.group(1) == "+" else -1
    return sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)), seconds=int(m.group(4) or 0))


def check_calendar(cal: Component) -> None:
    if cal.value("VERSION") != "2.0":
        raise SyntaxProblem("VERSION must be 2.0")
    cal.one("PRODID")
    zones = {z.value("TZID"): z for z in cal.components("VTIMEZONE")}
    for ev in cal.components("VEVENT"):
        ev.one("UID")
        stamp = ev.value("DTSTAMP")
        if not re.fullmatch(r"\d{8}T\d{6}Z", stamp):
            raise SyntaxProblem(f"DTSTAMP not UTC: {stamp}")
        start, end = event_time(cal, ev, "DTSTART"), event_time(cal, ev, "DTEND")
        if not end > start:
            raise SyntaxProblem("DTEND must be after DTSTART")
    for tzid, zone in zones.items():
        tz = ZoneInfo(tzid)  # an IANA name
        for sub in zone.children:
            to = _offset(sub.value("TZOFFSETTO"))
            probe = datetime(2027, 6, 1, tzinfo=tz)
            if sub.name == "STANDARD" and tz.utcoffset(probe) != to and not zone.components("DAYLIGHT"):
                raise SyntaxProblem(f"VTIMEZONE {tzid} offset {to} differs from the tz database")


def event_time(cal: Component, ev: Component, name: str) -> datetime:
    """An aware DATE-TIME: UTC (…Z) or TZID defined by a VTIMEZONE in the same calendar."""
    line = ev.one(name)
    m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(Z?)", line.value)
    if not m:
        raise SyntaxProblem(f"{name} is not a DATE-TIME: {line.value}")
    y, mo, d, hh, mi, ss = (int(x) for x in m.groups()[:6])
    if m.group(7):
        if "TZID" in line.params:
            raise SyntaxProblem(f"{name} has both TZID and Z")
        return datetime(y, mo, d, hh, mi, ss, tzinfo=UTC)
    tzid = line.params.get("TZID", [None])[0]
    if tzid is None:
        raise SyntaxProblem(f"{name} is floating (no TZID, no Z)")
    if tzid not in {z.value("TZID") for z in cal.components("VTIMEZONE")}:
        raise SyntaxProblem(f"TZID {tzid} has no VTIMEZONE")
    return datetime(y, mo, d, hh, mi, ss, tzinfo=ZoneInfo(tzid))
