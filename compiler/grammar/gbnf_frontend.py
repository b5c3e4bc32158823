r"""GBNF (llama.cpp grammar syntax, also read by xgrammar) -> grammar IR.

Supported syntax::

    # comment to end of line
    root      ::= "text" | name-with-dashes | ( group ) | [a-z0-9_] | [^"\\] | .
    item      ::= x* | x+ | x? | x{3} | x{2,} | x{2,5} | x{,5}

String literals and classes take the escapes ``\n \r \t \\ \" \' \[ \] \- \^ \/ \xHH
\uHHHH \UHHHHHHHH``; ``.`` is any code point (newline included, as in llama.cpp).  A rule
may span lines: it ends where the next ``name ::=`` begins (a lenient superset of
llama.cpp, which requires continuation lines to be inside parentheses).  ``root`` is the
start symbol.  GBNF is character level and has no ``%ignore``: every literal and class
becomes an anonymous terminal and repetitions become helper rules (via
`automask.compiler.grammar.builder`); merging regular sub-grammars into larger terminals is
left to the later flattening pass.  xgrammar extensions (lookahead ``(= ...)``, tag
dispatch) raise `UnsupportedFeature`; malformed text raises `GrammarSyntaxError` and an
undefined rule `UndefinedSymbolError`, both with line/column.
"""

from __future__ import annotations

from automask.compiler.grammar.builder import (
    Alt,
    CharClass,
    Expr,
    GrammarBuilder,
    Lit,
    Ref,
    Rep,
    Seq,
)
from automask.compiler.grammar.errors import UndefinedSymbolError
from automask.compiler.grammar.ir import Grammar, SourceLocation
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import MAX_CODE_POINT, CharSet, char_set
from automask.errors import GrammarSyntaxError, UnsupportedFeature

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "[": "[", "]": "]"}
_SIMPLE_ESCAPES |= {"-": "-", "^": "^", "/": "/"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def grammar_from_gbnf(text: str, *, start: str = "root", limits: CompileLimits = DEFAULT_LIMITS) -> Grammar:
    """The IR of GBNF grammar ``text``; unreachable rules are dropped (with a `GrammarWarning`)."""
    limits.check("max_source_chars", len(text))
    return _GbnfParser(text, start, limits).parse()


class _GbnfParser:
    def __init__(self, text: str, start: str, limits: CompileLimits):
        self.text = text
        self.pos = 0
        self.builder = GrammarBuilder(start, limits=limits)
        self.limits = limits
        self.refs: list[Ref] = []

    # ------------------------------------------------------------ top level

    def parse(self) -> Grammar:
        defined: dict[str, int] = {}
        self._skip_space()
        while self.pos < len(self.text):
            name_offset = self.pos
            name = self._name()
            if name in defined:
                self._fail(f"rule {name!r} defined more than once", name_offset)
            defined[name] = name_offset
            self._skip_space()
            if not self.text.startswith("::=", self.pos):
                self._fail("expected '::=' after rule name")
            self.pos += 3
            body = self._alternation(top_level=True)
            self.builder.rule(name, body, location=SourceLocation.at(self.text, name_offset))
            self._skip_space()
        for reference in self.refs:
            if reference.name not in defined:
                used_in = self._rule_containing(reference.offset or 0, defined)
                raise UndefinedSymbolError(reference.name, self.text, reference.offset, used_in=used_in)
        if self.builder.start not in defined:
            raise UndefinedSymbolError(self.builder.start, self.text, None, used_in="<start>")
        return self.builder.build(source=self.text)

    @staticmethod
    def _rule_containing(offset: int, defined: dict[str, int]) -> str:
        before = [(start, name) for name, start in defined.items() if start <= offset]
        return max(before)[1] if before else ""

    # ----------------------------------------------------------- expressions

    def _alternation(self, top_level: bool) -> Expr:
        options = [self._sequence(top_level)]
        while self._peek() == "|":
            self.pos += 1
            options.append(self._sequence(top_level))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def _sequence(self, top_level: bool) -> Expr:
        items: list[Expr] = []
        while True:
            char = self._peek()
            if char in ("", "|", ")") or (top_level and self._at_rule_head()):
                break
            items.append(self._postfix(self._atom()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def _atom(self) -> Expr:
        char = self.text[self.pos]
        if char == '"':
            return self._string()
        if char == "[":
            return self._class()
        if char == ".":
            self.pos += 1
            return CharClass(CharSet(((0, MAX_CODE_POINT),)), r"[\s\S]")
        if char == "(":
            opening = self.pos
            self.pos += 1
            if self._peek() == "=" and self.text[self.pos] == "=":
                raise UnsupportedFeature("GBNF lookahead assertion (= ...)", self.text, opening)
            inner = self._alternation(top_level=False)
            if self._peek() != ")":
                self._fail("expected ')' to close the group opened here", opening)
            self.pos += 1
            return inner
        if char in _NAME_CHARS:
            offset = self.pos
            reference = Ref(self._name(), offset)
            self.refs.append(reference)
            return reference
        self._fail(f"unexpected character {char!r}")
        raise AssertionError  # pragma: no cover - _fail raises

    def _postfix(self, atom: Expr) -> Expr:
        while True:
            char = self._peek()
            if char == "*":
                atom, self.pos = Rep(atom, 0, None), self.pos + 1
            elif char == "+":
                atom, self.pos = Rep(atom, 1, None), self.pos + 1
            elif char == "?":
                atom, self.pos = Rep(atom, 0, 1), self.pos + 1
            elif char == "{":
                atom = self._braces(atom)
            else:
                return atom

    def _braces(self, atom: Expr) -> Expr:
        opening = self.pos
        close = self.text.find("}", opening)
        if close < 0:
            self._fail("unclosed '{' repetition", opening)
        body = self.text[opening + 1 : close].replace(" ", "")
        low, comma, high = body.partition(",")
        if not (low.isdigit() or (comma and not low)) or (high and not high.isdigit()) or not body:
            self._fail(f"bad repetition {{{body}}}: expected {{m}}, {{m,}}, {{m,n}} or {{,n}}", opening)
        minimum = int(low) if low else 0
        maximum = int(high) if high else (None if comma else minimum)
        if maximum is not None and maximum < minimum:
            self._fail(f"repetition maximum {maximum} is below minimum {minimum}", opening)
        self.limits.check("max_repeat", maximum if maximum is not None else minimum)
        self.pos = close + 1
        return Rep(atom, minimum, maximum)

    def _string(self) -> Lit:
        opening = self.pos
        self.pos += 1
        chars: list[str] = []
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                self._fail("unterminated string literal", opening)
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return Lit("".join(chars))
            chars.append(self._char())

    def _class(self) -> CharClass:
        opening = self.pos
        self.pos += 1
        negate = self.pos < len(self.text) and self.text[self.pos] == "^"
        if negate:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while True:
            if self.pos >= len(self.text):
                self._fail("unterminated character class", opening)
            if self.text[self.pos] == "]":
                self.pos += 1
                break
            first = ord(self._char())
            last = first
            if self.text.startswith("-", self.pos) and not self.text.startswith("-]", self.pos):
                self.pos += 1
                last = ord(self._char())
                if last < first:
                    self._fail("character range out of order", opening)
            ranges.append((first, last))
        node = char_set(ranges, negate=negate)
        return CharClass(node, _class_pattern(node))

    def _char(self) -> str:
        """One (possibly escaped) character of a string or class."""
        char = self.text[self.pos]
        if char != "\\":
            self.pos += 1
            return char
        escape_at = self.pos
        kind = self.text[self.pos + 1 : self.pos + 2]
        if kind in _SIMPLE_ESCAPES:
            self.pos += 2
            return _SIMPLE_ESCAPES[kind]
        if kind in _HEX_ESCAPES:
            digits = self.text[self.pos + 2 : self.pos + 2 + _HEX_ESCAPES[kind]]
            if len(digits) != _HEX_ESCAPES[kind] or any(d not in "0123456789abcdefABCDEF" for d in digits):
                self._fail(f"bad \\{kind} escape: expected {_HEX_ESCAPES[kind]} hex digits", escape_at)
            code = int(digits, 16)
            if code > MAX_CODE_POINT:
                self._fail(f"code point U+{code:X} is out of range", escape_at)
            self.pos += 2 + len(digits)
            return chr(code)
        self._fail(f"unknown escape \\{kind}", escape_at)
        raise AssertionError  # pragma: no cover - _fail raises

    # ------------------------------------------------------------- lexing

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NAME_CHARS:
            self.pos += 1
        if self.pos == start:
            self._fail("expected a rule name")
        return self.text[start : self.pos]

    def _at_rule_head(self) -> bool:
        """True if a ``name ::=`` starts at the current position."""
        end = self.pos
        while end < len(self.text) and self.text[end] in _NAME_CHARS:
            end += 1
        if end == self.pos:
            return False
        saved, self.pos = self.pos, end
        self._skip_space()
        head = self.text.startswith("::=", self.pos)
        self.pos = saved
        return head

    def _peek(self) -> str:
        """Skip blanks and comments; the next character or ``""`` at the end."""
        self._skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_space(self) -> None:
        text = self.text
        while self.pos < len(text):
            if text[self.pos] in " \t\r\n":
                self.pos += 1
            elif text[self.pos] == "#":
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline + 1
            else:
                return

    def _fail(self, message: str, offset: int | None = None) -> None:
        raise GrammarSyntaxError(
            f"malformed GBNF: {message}", self.text, self.pos if offset is None else offset
        )


def _class_pattern(node: CharSet) -> str:
    """Python ``re`` source for a `CharSet` (``[^\\s\\S]`` when empty)."""
    if not node.ranges:
        return r"[^\s\S]"

    def escape(code: int) -> str:
        return (
            f"\\U{code:08x}"
            if code > 0xFFFF
            else f"\\u{code:04x}"
            if code > 0x7E or code < 0x20
            else ("\\" + chr(code) if chr(code) in "\\]^-[" else chr(code))
        )

    parts = [escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in node.ranges]
    return "[" + "".join(parts) + "]"
