"""``format`` values as regular languages over the *decoded* string content.

Each is exact or a strict subset of what the format allows (never a superset), so an
accepted string always validates: ``time`` refuses leap seconds (``:60``), ``hostname``
caps the number of labels to stay under 253 characters, ``email`` accepts the common
dot-atom form only.  A format the specification defines but this module does not
(`STANDARD_FORMATS` minus `FORMAT_PATTERNS`) raises `UnsupportedFeature` from the caller; a
name the specification does not define (``"path"``, ``"country-code"``) is an annotation
that constrains nothing -- JSON Schema (2020-12 section 7.2, draft 7 section 7.2) has
validators ignore unknown formats -- and the caller warns that it was not enforced.
"""

from __future__ import annotations

from automask.compiler.regex import parse_regex
from automask.compiler.regex.ast import RegexNode

_DATE = (
    r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|02-(?:0[1-9]|1\d|2[0-8]))"
    r"|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
)
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:[zZ]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
_DURATION_TIME = r"T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S)"
_DURATION = rf"P(?:(?:\d+D|\d+M(?:\d+D)?|\d+Y(?:\d+M(?:\d+D)?)?)(?:{_DURATION_TIME})?|{_DURATION_TIME}|\d+W)"


def _label(longest: int) -> str:
    """A hostname label of at most ``longest`` characters, never with ``--`` in positions 3-4
    (reserved for A-labels, whose Punycode is not checked here)."""
    letter, any_char = "[A-Za-z0-9]", "[A-Za-z0-9-]"
    long_tail = f"{any_char}{{0,{longest - 5}}}{letter}"
    return (
        f"(?:{letter}(?:{letter}|{any_char}{letter}|{any_char}{any_char}{letter}"
        f"|{any_char}(?:{letter}{any_char}|-{letter}){long_tail})?)"
    )


_LABEL = _label(63)
_SHORT_LABEL = _label(61)
_HOSTNAME = rf"{_LABEL}(?:\.{_SHORT_LABEL}){{0,3}}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = rf"{_ATOM}(?:\.{_ATOM})*@{_HOSTNAME}"
_HEX = "[0-9a-fA-F]"
_UUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"


def _ipv6() -> str:
    h16 = f"{_HEX}{{1,4}}"
    ls32 = f"(?:{h16}:{h16}|{_IPV4})"
    forms = [f"(?:{h16}:){{6}}{ls32}", f"::(?:{h16}:){{5}}{ls32}", f"(?:{h16})?::(?:{h16}:){{4}}{ls32}"]
    for before, after in ((1, 3), (2, 2), (3, 1)):
        forms.append(f"(?:(?:{h16}:){{0,{before}}}{h16})?::(?:{h16}:){{{after}}}{ls32}")
    forms.append(f"(?:(?:{h16}:){{0,4}}{h16})?::{ls32}")
    forms.append(f"(?:(?:{h16}:){{0,5}}{h16})?::{h16}")
    forms.append(f"(?:(?:{h16}:){{0,6}}{h16})?::")
    return "|".join(f"(?:{form})" for form in forms)


_IPV6 = _ipv6()
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = f"%{_HEX}{_HEX}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_AUTHORITY = (
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
    rf"(?:\[(?:{_IPV6})\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)(?::\d*)?"
)
_HIER = rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)"
_QUERY = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_URI = rf"[A-Za-z][A-Za-z0-9+\-.]*:{_HIER}{_QUERY}"
_SEGMENT_NC = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}@]|{_PCT})"
_RELATIVE = rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_SEGMENT_NC}+(?:/{_PCHAR}*)*|){_QUERY}"

FORMAT_PATTERNS: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": f"(?:{_DATE})[Tt]{_TIME}",
    "duration": _DURATION,
    "email": _EMAIL,
    "hostname": _HOSTNAME,
    "ipv4": _IPV4,
    "ipv6": _IPV6,
    "uuid": _UUID,
    "uri": _URI,
    "uri-reference": f"{_URI}|{_RELATIVE}",
}


STANDARD_FORMATS = frozenset(
    {
        "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
        "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
        "json-pointer", "relative-json-pointer", "regex",
    }
)  # fmt: skip
"""The format names defined by JSON Schema (draft 2020-12 and earlier drafts)."""


EXACT_FORMATS = frozenset({"date", "duration", "ipv4", "ipv6", "uuid"})
"""The formats whose automaton above is exactly the format's language (RFC 3339 ``full-date``
and ``duration``, RFC 2673 dotted quads without leading zeros, RFC 4291 text forms, RFC 4122).
Only these have a complement (``not``, overlapping ``oneOf`` branches): the complement of a
strict subset would hold strings the format allows."""


def is_unknown_format(name: str) -> bool:
    """Whether ``name`` is not a format JSON Schema defines (then it is only an annotation)."""
    return name not in STANDARD_FORMATS


def format_node(name: str) -> RegexNode | None:
    """The decoded-content language of format ``name``, or ``None`` if unknown."""
    pattern = FORMAT_PATTERNS.get(name)
    return None if pattern is None else parse_regex(pattern, unicode_classes=False)
