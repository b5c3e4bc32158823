"""Regex parser: accepted syntax, AST shape, typed errors with positions."""

from __future__ import annotations

import re

import pytest

from automask.compiler.limits import CompileLimits
from automask.compiler.regex import parse_regex
from automask.compiler.regex import unicode_classes as tables
from automask.compiler.regex.ast import (
    EMPTY,
    Alternation,
    CharSet,
    Concat,
    Repeat,
    char_set,
    literal,
)
from automask.compiler.regex.parser import MAX_NESTING_DEPTH
from automask.errors import CompileLimitExceeded, RegexSyntaxError, UnsupportedFeature


def single(char: str) -> CharSet:
    return CharSet(((ord(char), ord(char)),))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", EMPTY),
        ("a", single("a")),
        ("ab", Concat((single("a"), single("b")))),
        ("a|b", Alternation((single("a"), single("b")))),
        ("a*", Repeat(single("a"), 0, None)),
        ("a+", Repeat(single("a"), 1, None)),
        ("a?", Repeat(single("a"), 0, 1)),
        ("a{3}", Repeat(single("a"), 3, 3)),
        ("a{3,}", Repeat(single("a"), 3, None)),
        ("a{,3}", Repeat(single("a"), 0, 3)),
        ("a{2,5}", Repeat(single("a"), 2, 5)),
        ("a{,}", Repeat(single("a"), 0, None)),
        ("a*?", Repeat(single("a"), 0, None)),
        ("a+?", Repeat(single("a"), 1, None)),
        ("a??", Repeat(single("a"), 0, 1)),
        ("a{2,3}?", Repeat(single("a"), 2, 3)),
        ("a{1}", single("a")),
        ("a{0}", EMPTY),
        ("(?:ab)", literal("ab")),
        ("(?P<n>ab)", literal("ab")),
        ("(?<n>ab)", literal("ab")),
        ("(a)(b)", literal("ab")),
        ("a(?#a comment)b", literal("ab")),
        ("[a-c]", char_set([(ord("a"), ord("c"))])),
        ("[]a]", char_set([(ord("]"), ord("]")), (ord("a"), ord("a"))])),
        ("[a-]", char_set([(ord("a"), ord("a")), (ord("-"), ord("-"))])),
        ("[^a]", char_set([(ord("a"), ord("a"))], negate=True)),
        ("[\\]\\-\\\\]", char_set([(ord("]"), ord("]")), (ord("-"), ord("-")), (ord("\\"), ord("\\"))])),
        ("[\\b]", single("\b")),
        ("[\\n\\x41-\\x43]", char_set([(10, 10), (0x41, 0x43)])),
        (".", char_set([(10, 10)], negate=True)),
        ("(?s).", char_set([(0, 0x10FFFF)])),
        ("(?s:.)", char_set([(0, 0x10FFFF)])),
        ("(?s:a)(?-s:.)", Concat((single("a"), char_set([(10, 10)], negate=True)))),
        ("\\n\\t\\r\\f\\v\\0\\a", literal("\n\t\r\f\v\0\a")),
        ("\\x41\\u00e9\\U0001F600\\u{1F600}", literal("Aé😀😀")),
        ("\\N{LATIN SMALL LETTER E WITH ACUTE}", single("é")),
        ("\\012\\101", literal("\nA")),
        ("\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\/\\-", literal(".*+?()[]{}|^$\\/-")),
        ("\\d", CharSet(tables.UNICODE_DIGIT)),
        ("(?a)\\d", char_set([(ord("0"), ord("9"))])),
        ("(?a)\\w", CharSet(tables.ASCII_WORD)),
        ("(?a)\\s", char_set([(9, 13), (32, 32)])),
        ("(?a)\\S", char_set([(9, 13), (32, 32)], negate=True)),
        ("a{", literal("a{")),
        ("a{1", literal("a{1")),
        ("a{x}", literal("a{x}")),
        ("a{1,2", literal("a{1,2")),
        ("a{ 1}", literal("a{ 1}")),
        ("a{}", literal("a{}")),
        ("}", single("}")),
        ("]", single("]")),
        ("^a$", single("a")),
        ("\\Aa\\Z", single("a")),
        ("^a|^b$", Alternation((single("a"), single("b")))),
        ("^(a|b)$", Alternation((single("a"), single("b")))),
        ("(^a)b", literal("ab")),
        ("^$", EMPTY),
        ("(?m)^a$", single("a")),
        ("(?u)a", single("a")),
        ("é中😀", literal("é中😀")),
    ],
)
def test_accepts(pattern: str, expected: object) -> None:
    assert parse_regex(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "position", "message"),
    [
        ("(a", 0, "missing )"),
        ("a)", 1, "unbalanced parenthesis"),
        ("((a)", 0, "missing )"),
        ("[a", 0, "unterminated character set"),
        ("[^", 0, "unterminated character set"),
        ("[z-a]", 1, "bad character range z-a"),
        ("[\\d-z]", 1, "bad character range"),
        ("[a-\\w]", 1, "bad character range"),
        ("*a", 0, "nothing to repeat"),
        ("a|*", 2, "nothing to repeat"),
        ("(+)", 1, "nothing to repeat"),
        ("{1}", 0, "nothing to repeat"),
        ("^*", 1, "nothing to repeat"),
        ("a**", 2, "multiple repeat"),
        ("a{2}{3}", 4, "multiple repeat"),
        ("a{3,2}", 2, "min repeat greater than max repeat"),
        ("a\\", 1, "bad escape (end of pattern)"),
        ("\\q", 0, "bad escape \\q"),
        ("[\\q]", 1, "bad escape \\q"),
        ("[\\8]", 1, "bad escape \\8"),
        ("\\x4", 0, "incomplete escape"),
        ("\\u12", 0, "incomplete escape"),
        ("\\U00110000", 0, "beyond U+10FFFF"),
        ("\\u{110000}", 0, "beyond U+10FFFF"),
        ("\\u{}", 0, "bad escape"),
        ("\\777", 0, "octal escape value"),
        ("\\N{NO SUCH CHARACTER NAME}", 0, "undefined character name"),
        ("(?P<1>a)", 4, "bad group name"),
        ("(?<>a)", 3, "bad group name"),
        ("(?Q)", 2, "unknown flag"),
        ("(?%)", 1, "unknown extension"),
        ("a(?s)b", 1, "global flags not at the start"),
        ("(?-s)", 4, "missing :"),
        ("(?#unterminated", 0, "unterminated comment"),
    ],
)
def test_rejects_malformed_with_position(pattern: str, position: int, message: str) -> None:
    with pytest.raises(RegexSyntaxError) as info:
        parse_regex(pattern)
    assert info.value.position == position
    assert message in info.value.reason


@pytest.mark.parametrize(
    ("pattern", "position", "feature"),
    [
        ("(a)\\1", 3, "backreference"),
        ("(?P<x>a)(?P=x)", 8, "backreference"),
        ("(?<x>a)\\k<x>", 7, "backreference"),
        ("a(?=b)", 1, "lookahead"),
        ("a(?!b)", 1, "lookahead"),
        ("(?<=a)b", 0, "lookbehind"),
        ("(?<!a)b", 0, "lookbehind"),
        ("\\bword\\b", 0, "word boundary"),
        ("a\\B", 1, "word-boundary"),
        ("(?>a+)b", 0, "atomic group"),
        ("(a)?(?(1)b|c)", 4, "conditional"),
        ("\\p{L}", 0, "Unicode property"),
        ("\\P{Lu}", 0, "Unicode property"),
        ("(?R)", 0, "recursive"),
        ("a*+", 1, "possessive"),
        ("a{2}+", 1, "possessive"),
        ("(?i)a", 0, "case-insensitive"),
        ("(?i:a)", 0, "case-insensitive"),
        ("(?x)a b", 0, "verbose"),
        ("a^b", 1, "anchor ^"),
        ("a$b", 1, "anchor $"),
        ("(^a)*", 1, "anchor ^"),
        ("a|b^", 3, "anchor ^"),
        ("$a", 0, "anchor $"),
        ("a\\Ab", 1, "anchor \\A"),
    ],
)
def test_rejects_unsupported_with_position(pattern: str, position: int, feature: str) -> None:
    with pytest.raises(UnsupportedFeature) as info:
        parse_regex(pattern)
    assert info.value.position == position
    assert feature in info.value.feature


def test_limits() -> None:
    with pytest.raises(CompileLimitExceeded) as info:
        parse_regex("a{100000}")
    assert info.value.limit == "max_repeat"
    with pytest.raises(CompileLimitExceeded):
        parse_regex("a{2,20}", CompileLimits(max_repeat=10))
    with pytest.raises(CompileLimitExceeded) as info:
        parse_regex("abcd", CompileLimits(max_source_chars=3))
    assert info.value.limit == "max_source_chars"
    deep = "(" * (MAX_NESTING_DEPTH + 1) + "a" + ")" * (MAX_NESTING_DEPTH + 1)
    with pytest.raises(CompileLimitExceeded):
        parse_regex(deep)
    fine = "(" * MAX_NESTING_DEPTH + "a" + ")" * MAX_NESTING_DEPTH
    assert parse_regex(fine) == single("a")


def test_unicode_class_flag() -> None:
    assert parse_regex(r"\w", unicode_classes=False) == CharSet(tables.ASCII_WORD)
    assert parse_regex(r"(?u)\w", unicode_classes=False) == CharSet(tables.UNICODE_WORD)


@pytest.mark.parametrize(("escape", "table"), [("d", "DIGIT"), ("w", "WORD"), ("s", "SPACE")])
def test_unicode_tables_match_running_python(escape: str, table: str) -> None:
    # Checks every code point against ``re`` (the tables are generated; Unicode versions drift).
    compiled = re.compile(f"\\{escape}")
    ranges = getattr(tables, f"UNICODE_{table}")
    inside = bytearray(0x110000)
    for first, last in ranges:
        inside[first : last + 1] = b"\x01" * (last - first + 1)
    mismatches = [c for c in range(0x110000) if bool(inside[c]) != (compiled.fullmatch(chr(c)) is not None)]
    assert mismatches == []
