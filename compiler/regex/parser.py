r"""Recursive-descent parser: regex source text -> `automask.compiler.regex.ast` nodes.

Dialect: the common subset of Python ``re`` and ECMA-262, with Python's choices where they
differ (``]`` first in a class is literal, ``{`` that does not start a valid quantifier is
literal, ``.`` excludes only ``\n``).  Accepted on top of Python: ``(?<name>...)`` groups and
``\u{hhhh}`` escapes (ECMA).

Matching is *fullmatch*: the whole string must match.  Hence ``^``/``\A`` at the very start
and ``$``/``\Z`` at the very end are accepted and dropped; anywhere else they would need
position-dependent matching and raise `UnsupportedFeature`.

Character-class semantics for ``\d \w \s``: Unicode by default, like Python str patterns
(``\d`` = ``str.isdecimal``, ``\w`` = ``str.isalnum`` or ``_``, ``\s`` = ``str.isspace``);
``unicode_classes=False`` or the inline flag ``(?a)`` selects ASCII (``[0-9]``,
``[A-Za-z0-9_]``, ``[\t\n\v\f\r ]``), which is what JSON Schema / ECMA use for ``\d`` and
``\w``.  Inline flags ``a s m u`` are supported (``m`` changes nothing under fullmatch);
``i`` (case folding), ``x`` (verbose) and ``L`` raise `UnsupportedFeature`.

Errors: malformed input raises `RegexSyntaxError` and constructs that cannot be compiled to
a finite automaton (backreferences, lookaround, ``\b``, atomic groups, possessive
quantifiers, conditionals, ``\p{..}``) raise `UnsupportedFeature`, both with the 0-based
position of the construct.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex import unicode_classes as tables
from automask.compiler.regex.ast import (
    EMPTY,
    Alternation,
    CharSet,
    Concat,
    Empty,
    Ranges,
    RegexNode,
    Repeat,
    alternation,
    char_set,
    concat,
    normalize_ranges,
    repeat,
)
from automask.errors import CompileLimitExceeded, RegexSyntaxError, UnsupportedFeature

MAX_NESTING_DEPTH = 200
"""Deepest group nesting accepted; deeper patterns raise `CompileLimitExceeded` rather than
exhausting Python's recursion limit."""

_SIMPLE_ESCAPES = {"n": 0x0A, "t": 0x09, "r": 0x0D, "f": 0x0C, "v": 0x0B, "a": 0x07}
_OCTAL_DIGITS = "01234567"
_HEX_DIGITS = "0123456789abcdefABCDEF"
_UNSUPPORTED_ESCAPES = {
    "b": "word boundary \\b",
    "B": "non-word-boundary \\B",
    "p": "Unicode property \\p{...}",
    "P": "Unicode property \\P{...}",
    "k": "named backreference \\k<...>",
    "G": "\\G anchor",
    "K": "\\K match reset",
    "X": "extended grapheme \\X",
    "R": "line break \\R",
}


@dataclass(frozen=True, slots=True)
class _Anchor:
    """Parser-internal marker for ``^ $ \\A \\Z``; removed (or rejected) before returning."""

    at_start: bool
    text: str
    position: int


@dataclass(slots=True)
class _Flags:
    dotall: bool
    unicode_classes: bool


def parse_regex(
    pattern: str, limits: CompileLimits = DEFAULT_LIMITS, *, unicode_classes: bool = True
) -> RegexNode:
    """Parse ``pattern`` into an AST whose language is the set of strings it fullmatches."""
    limits.check("max_source_chars", len(pattern))
    parser = _Parser(pattern, limits, unicode_classes)
    node = parser.parse()
    return _resolve_anchors(node, pattern)


class _Parser:
    def __init__(self, pattern: str, limits: CompileLimits, unicode_classes: bool):
        self.pattern = pattern
        self.limits = limits
        self.pos = 0
        self.depth = 0
        self.flags = _Flags(dotall=False, unicode_classes=unicode_classes)
        self.only_flags_so_far = True
        self.quantifier_start = 0

    # -- helpers ---------------------------------------------------------------------------

    def error(self, message: str, position: int | None = None) -> RegexSyntaxError:
        return RegexSyntaxError(message, self.pattern, self.pos if position is None else position)

    def unsupported(self, feature: str, position: int, hint: str = "") -> UnsupportedFeature:
        return UnsupportedFeature(feature, self.pattern, position, hint)

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.pattern[index] if index < len(self.pattern) else ""

    def startswith(self, text: str) -> bool:
        return self.pattern.startswith(text, self.pos)

    # -- grammar -----------------------------------------------------------------------------

    def parse(self) -> RegexNode:
        node = self.parse_alternation()
        if self.pos < len(self.pattern):  # only a stray ')' stops the top-level alternation
            raise self.error("unbalanced parenthesis")
        return node

    def parse_alternation(self) -> RegexNode:
        options = [self.parse_sequence()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.parse_sequence())
        return options[0] if len(options) == 1 else Alternation(tuple(options))

    def parse_sequence(self) -> RegexNode:
        items: list[RegexNode] = []
        while self.pos < len(self.pattern) and self.peek() not in "|)":
            atom = self.parse_atom()
            if atom is None:  # a comment or an inline flag group
                continue
            self.only_flags_so_far = False
            quantified = False
            while True:
                bounds = self.parse_quantifier()
                if bounds is None:
                    break
                if quantified:
                    raise self.error("multiple repeat", self.quantifier_start)
                if isinstance(atom, _Anchor):
                    raise self.error("nothing to repeat", self.quantifier_start)
                atom = repeat(atom, *bounds)
                quantified = True
            items.append(atom)
        if len(items) == 1:
            return items[0]
        return Concat(tuple(items)) if items else EMPTY

    def parse_quantifier(self) -> tuple[int, int | None] | None:
        """Consume a quantifier (with a lazy ``?`` suffix) and return its bounds, else None."""
        start = self.pos
        char = self.peek()
        if char == "*":
            bounds: tuple[int, int | None] = (0, None)
            self.pos += 1
        elif char == "+":
            bounds = (1, None)
            self.pos += 1
        elif char == "?":
            bounds = (0, 1)
            self.pos += 1
        elif char == "{":
            counted = self.parse_counted_bounds()
            if counted is None:
                return None
            bounds = counted
        else:
            return None
        self.quantifier_start = start
        if self.peek() == "?":  # lazy: same language under fullmatch
            self.pos += 1
        elif self.peek() == "+":
            raise self.unsupported("possessive quantifier", start, "it can change the language")
        return bounds

    def parse_counted_bounds(self) -> tuple[int, int | None] | None:
        """``{m}``, ``{m,}``, ``{,n}``, ``{m,n}``; None (and nothing consumed) if not a quantifier."""
        start = self.pos
        end = self.pattern.find("}", start)
        if end < 0:
            return None
        body = self.pattern[start + 1 : end]
        low_text, comma, high_text = body.partition(",")
        if not all(part == "" or (part.isascii() and part.isdigit()) for part in (low_text, high_text)):
            return None
        if not comma and not low_text:
            return None
        low = int(low_text) if low_text else 0
        high = (int(high_text) if high_text else None) if comma else low
        for count in (low, high):
            if count is not None and count > self.limits.max_repeat:
                self.limits.check("max_repeat", count)
        if high is not None and low > high:
            raise self.error("min repeat greater than max repeat", start + 1)
        self.pos = end + 1
        return low, high

    def parse_atom(self) -> RegexNode | _Anchor | None:
        start = self.pos
        char = self.peek()
        if char in "*+?" or (char == "{" and self.parse_counted_bounds_peek()):
            raise self.error("nothing to repeat")
        self.pos += 1
        if char == "(":
            return self.parse_group(start)
        if char == "[":
            return self.parse_class(start)
        if char == ".":
            if self.flags.dotall:
                return char_set([(0, 0x10FFFF)])
            return char_set([(0x0A, 0x0A)], negate=True)
        if char == "^":
            return _Anchor(True, "^", start)
        if char == "$":
            return _Anchor(False, "$", start)
        if char == "\\":
            return self.parse_escape(start)
        return CharSet(((ord(char), ord(char)),))

    def parse_counted_bounds_peek(self) -> bool:
        saved = self.pos
        try:
            return self.parse_counted_bounds() is not None
        finally:
            self.pos = saved

    # -- groups ------------------------------------------------------------------------------

    def parse_group(self, start: int) -> RegexNode | None:
        saved_flags = _Flags(self.flags.dotall, self.flags.unicode_classes)
        if self.peek() == "?":
            self.pos += 1
            kind = self.peek()
            if kind == ":":
                self.pos += 1
            elif kind == "#":
                end = self.pattern.find(")", self.pos)
                if end < 0:
                    raise self.error("missing ), unterminated comment", start)
                self.pos = end + 1
                return None
            elif kind == "P" and self.peek(1) == "<":
                self.pos += 2
                self.parse_group_name(start)
            elif kind == "P" and self.peek(1) == "=":
                raise self.unsupported("named backreference (?P=...)", start)
            elif kind == "<" and self.peek(1) in ("=", "!"):
                raise self.unsupported("lookbehind assertion", start)
            elif kind == "<":
                self.pos += 1
                self.parse_group_name(start)
            elif kind in ("=", "!"):
                raise self.unsupported("lookahead assertion", start)
            elif kind == ">":
                raise self.unsupported("atomic group", start)
            elif kind == "(":
                raise self.unsupported("conditional group", start)
            elif kind == "R" or kind.isdigit() or kind in "&+":
                raise self.unsupported("recursive pattern", start)
            elif kind.isalpha() or kind == "-":
                if self.parse_inline_flags(start):
                    return None  # a global flag group such as (?s)
            else:
                raise self.error(f"unknown extension ?{kind}", start + 1)
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise CompileLimitExceeded("regex nesting depth", self.depth, MAX_NESTING_DEPTH)
        self.only_flags_so_far = False
        node = self.parse_alternation()
        if self.peek() != ")":
            raise self.error("missing ), unterminated subpattern", start)
        self.pos += 1
        self.depth -= 1
        self.flags = saved_flags
        return node

    def parse_group_name(self, start: int) -> None:
        end = self.pattern.find(">", self.pos)
        name = self.pattern[self.pos : end] if end >= 0 else ""
        if end < 0 or not name.isidentifier():
            raise self.error("bad group name", self.pos)
        self.pos = end + 1

    def parse_inline_flags(self, start: int) -> bool:
        """Parse ``(?flags)`` or ``(?flags-flags:``; True for a global flag group (consumed)."""
        turn_on = True
        while True:
            char = self.peek()
            if char == ")":
                if not turn_on:
                    raise self.error("missing :", self.pos)
                if not self.only_flags_so_far:
                    raise self.error("global flags not at the start of the expression", start)
                self.pos += 1
                return True
            if char == ":":
                self.pos += 1
                return False
            if char == "-" and turn_on:
                turn_on = False
            elif char in ("s", "m", "a", "u"):
                if char == "s":
                    self.flags.dotall = turn_on
                elif char == "a":
                    self.flags.unicode_classes = not turn_on
                elif char == "u":
                    self.flags.unicode_classes = turn_on
            elif char in ("i", "x", "L"):
                names = {"i": "case-insensitive flag (?i)", "x": "verbose flag (?x)", "L": "locale flag (?L)"}
                raise self.unsupported(names[char], start)
            elif char == "":
                raise self.error("missing -, : or )", self.pos)
            else:
                raise self.error(f"unknown flag {char!r}", self.pos)
            self.pos += 1

    # -- character classes -------------------------------------------------------------------

    def parse_class(self, start: int) -> CharSet:
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            char = self.peek()
            if char == "":
                raise self.error("unterminated character set", start)
            if char == "]" and not first:
                self.pos += 1
                break
            first = False
            item_start = self.pos
            low = self.parse_class_item()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.parse_class_item()
                if isinstance(low, tuple) or isinstance(high, tuple):
                    text = self.pattern[item_start : self.pos]
                    raise self.error(f"bad character range {text}", item_start)
                if low > high:
                    text = self.pattern[item_start : self.pos]
                    raise self.error(f"bad character range {text}", item_start)
                ranges.append((low, high))
            elif isinstance(low, tuple):
                ranges.extend(low)
            else:
                ranges.append((low, low))
        return char_set(ranges, negate=negate)

    def parse_class_item(self) -> int | Ranges:
        """One class member: a code point, or the ranges of a class escape like ``\\d``."""
        start = self.pos
        char = self.peek()
        self.pos += 1
        if char != "\\":
            return ord(char)
        escape = self.peek()
        if escape == "":
            raise self.error("bad escape (end of pattern)", start)
        if escape == "b":
            self.pos += 1
            return 0x08
        if escape in "dDwWsS":
            self.pos += 1
            return self.class_escape_ranges(escape)
        if escape.isdigit():
            if _is_octal(escape):
                return self.parse_octal(start)
            raise self.error(f"bad escape \\{escape}", start)
        return self.parse_code_point_escape(start)

    def class_escape_ranges(self, escape: str) -> Ranges:
        table = {
            "d": tables.UNICODE_DIGIT if self.flags.unicode_classes else tables.ASCII_DIGIT,
            "w": tables.UNICODE_WORD if self.flags.unicode_classes else tables.ASCII_WORD,
            "s": tables.UNICODE_SPACE if self.flags.unicode_classes else tables.ASCII_SPACE,
        }[escape.lower()]
        return char_set(table, negate=escape.isupper()).ranges

    # -- escapes -----------------------------------------------------------------------------

    def parse_escape(self, start: int) -> RegexNode | _Anchor:
        escape = self.peek()
        if escape == "":
            raise self.error("bad escape (end of pattern)", start)
        if escape in "dDwWsS":
            self.pos += 1
            return CharSet(self.class_escape_ranges(escape))
        if escape == "A":
            self.pos += 1
            return _Anchor(True, "\\A", start)
        if escape == "Z":
            self.pos += 1
            return _Anchor(False, "\\Z", start)
        if escape in _UNSUPPORTED_ESCAPES:
            raise self.unsupported(_UNSUPPORTED_ESCAPES[escape], start)
        if escape.isdigit():
            if escape == "0" or (_is_octal(escape) and _is_octal(self.peek(1)) and _is_octal(self.peek(2))):
                code = self.parse_octal(start)
                return CharSet(((code, code),))
            raise self.unsupported("backreference", start)
        code = self.parse_code_point_escape(start)
        return CharSet(((code, code),))

    def parse_octal(self, start: int) -> int:
        """Up to three octal digits after the backslash (the cursor is on the first)."""
        digits = ""
        while len(digits) < 3 and _is_octal(self.peek()):
            digits += self.peek()
            self.pos += 1
        value = int(digits, 8)
        if value > 0o377:
            raise self.error(f"octal escape value \\{digits} outside of range 0-0o377", start)
        return value

    def parse_code_point_escape(self, start: int) -> int:
        """A single-code-point escape (cursor on the letter after the backslash)."""
        escape = self.peek()
        self.pos += 1
        if escape in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[escape]
        if escape == "x":
            return self.parse_hex(start, 2)
        if escape == "u" and self.peek() == "{":
            end = self.pattern.find("}", self.pos)
            digits = self.pattern[self.pos + 1 : end] if end >= 0 else ""
            if not digits or len(digits) > 6 or any(d not in _HEX_DIGITS for d in digits):
                raise self.error("bad escape \\u{...}", start)
            self.pos = end + 1
            return self.checked_code_point(int(digits, 16), start)
        if escape == "u":
            return self.parse_hex(start, 4)
        if escape == "U":
            return self.parse_hex(start, 8)
        if escape == "N":
            if self.peek() != "{":
                raise self.error("missing {", self.pos)
            end = self.pattern.find("}", self.pos)
            name = self.pattern[self.pos + 1 : end] if end >= 0 else ""
            try:
                character = unicodedata.lookup(name)
            except KeyError:
                raise self.error(f"undefined character name {name!r}", start) from None
            self.pos = end + 1
            return ord(character)
        if escape.isascii() and escape.isalnum():
            raise self.error(f"bad escape \\{escape}", start)
        return ord(escape)  # escaped metacharacter or any other non-alphanumeric character

    def parse_hex(self, start: int, count: int) -> int:
        digits = self.pattern[self.pos : self.pos + count]
        if len(digits) < count or any(d not in _HEX_DIGITS for d in digits):
            raise self.error(f"incomplete escape {self.pattern[start : self.pos + len(digits)]}", start)
        self.pos += count
        return self.checked_code_point(int(digits, 16), start)

    def checked_code_point(self, value: int, start: int) -> int:
        if value > 0x10FFFF:
            raise self.error(f"bad escape {self.pattern[start : self.pos]}: beyond U+10FFFF", start)
        return value


def _is_octal(char: str) -> bool:
    return char != "" and char in _OCTAL_DIGITS


# -- anchors --------------------------------------------------------------------------------


def _resolve_anchors(node: RegexNode | _Anchor, pattern: str) -> RegexNode:
    """Drop anchors at the very start/end of the pattern; reject any other anchor."""
    node = _strip_edge(node, at_start=True)
    node = _strip_edge(node, at_start=False)
    return _rebuild(node, pattern)


def _strip_edge(node: RegexNode | _Anchor, at_start: bool) -> RegexNode | _Anchor:
    if isinstance(node, _Anchor):
        return EMPTY if node.at_start == at_start else node
    if isinstance(node, Alternation):
        return Alternation(tuple(_strip_edge(option, at_start) for option in node.options))
    if isinstance(node, Concat):
        items = list(node.items) if at_start else list(reversed(node.items))
        for index, item in enumerate(items):
            stripped = _strip_edge(item, at_start)
            items[index] = stripped
            if not isinstance(stripped, Empty):
                break
        return Concat(tuple(items if at_start else reversed(items)))
    return node


def _rebuild(node: RegexNode | _Anchor, pattern: str) -> RegexNode:
    """Re-normalise through the AST constructors, rejecting anchors left in the middle."""
    if isinstance(node, _Anchor):
        where = "start" if node.at_start else "end"
        raise UnsupportedFeature(
            f"anchor {node.text} that is not at the very {where} of the pattern",
            pattern,
            node.position,
            "matching is fullmatch; anchors are only accepted at the ends",
        )
    if isinstance(node, Concat):
        return concat(_rebuild(item, pattern) for item in node.items)
    if isinstance(node, Alternation):
        return alternation(_rebuild(option, pattern) for option in node.options)
    if isinstance(node, Repeat):
        return repeat(_rebuild(node.item, pattern), node.min, node.max)
    if isinstance(node, CharSet):
        return CharSet(normalize_ranges(node.ranges)) if node.ranges else node
    return node
