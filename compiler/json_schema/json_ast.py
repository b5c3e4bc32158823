"""JSON building blocks as regex AST: whitespace, escaped strings, numbers, generic values.

String content is built over *decoded* code points and then mapped to its JSON encodings
by `encode_content`: every `CharSet` is replaced by the alternation of the raw characters
JSON allows unescaped (not ``"``, ``\\`` or U+0000..U+001F), the short escapes (``\\"``
``\\\\`` ``\\/`` ``\\b`` ``\\f`` ``\\n`` ``\\r`` ``\\t``) and ``\\uXXXX`` escapes (either hex
case; astral characters as surrogate pairs) of the characters in the set.  That character
substitution maps the language of decoded strings onto exactly the language of their JSON
encodings, so length and pattern constraints keep counting decoded code points.
"""

from __future__ import annotations

import functools

from automask.compiler.json_schema.digits import DIGIT, NONZERO_DIGIT, fixed_width_range, hex_digits
from automask.compiler.json_schema.options import JsonSchemaOptions
from automask.compiler.regex.ast import (
    EMPTY,
    MAX_CODE_POINT,
    NOTHING,
    Alternation,
    CharSet,
    Concat,
    Empty,
    Product,
    RegexNode,
    Repeat,
    alternation,
    char_set,
    concat,
    literal,
    repeat,
)

ANY_CHAR = CharSet(((0, MAX_CODE_POINT),))
UNESCAPED_FORBIDDEN = ((0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C))
SHORT_ESCAPES = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
SURROGATES = (0xD800, 0xDFFF)


def whitespace(options: JsonSchemaOptions) -> RegexNode:
    """Optional JSON whitespace, at most ``max_whitespace`` characters (none when compact).

    One shared node per bound (`_bounded_whitespace`): it sits between every two tokens of a
    schema, and the grammar lowering recognises it by identity first."""
    if options.whitespace == "compact" or options.max_whitespace == 0:
        return EMPTY
    return _bounded_whitespace(options.max_whitespace)


@functools.lru_cache(maxsize=64)
def _bounded_whitespace(max_whitespace: int) -> RegexNode:
    return repeat(char_set([(0x20, 0x20), (0x09, 0x0A), (0x0D, 0x0D)]), 0, max_whitespace)


def token(text: str, options: JsonSchemaOptions) -> RegexNode:
    """A structural token (``:`` ``,``) with optional whitespace on both sides."""
    space = whitespace(options)
    return concat([space, literal(text), space])


def _intersect(ranges: tuple[tuple[int, int], ...], first: int, last: int) -> list[tuple[int, int]]:
    return [(max(a, first), min(b, last)) for a, b in ranges if a <= last and b >= first]


def _contains(ranges: tuple[tuple[int, int], ...], code: int) -> bool:
    return any(a <= code <= b for a, b in ranges)


def _hex4(low: int, high: int) -> RegexNode:
    return fixed_width_range(low, high, 4, 16, hex_digits)


def unicode_escapes(ranges: tuple[tuple[int, int], ...]) -> list[RegexNode]:
    """``\\uXXXX`` forms of the code points in ``ranges`` (no lone surrogates)."""
    escape = literal("\\u")
    options: list[RegexNode] = []
    bmp = [
        piece
        for low, high in ((0, SURROGATES[0] - 1), (SURROGATES[1] + 1, 0xFFFF))
        for piece in _intersect(ranges, low, high)
    ]
    for low, high in bmp:
        options.append(concat([escape, _hex4(low, high)]))
    for low, high in _intersect(ranges, 0x10000, MAX_CODE_POINT):
        high_a, low_a = 0xD800 + ((low - 0x10000) >> 10), 0xDC00 + ((low - 0x10000) & 0x3FF)
        high_b, low_b = 0xD800 + ((high - 0x10000) >> 10), 0xDC00 + ((high - 0x10000) & 0x3FF)
        if high_a == high_b:
            options.append(concat([escape, _hex4(high_a, high_a), escape, _hex4(low_a, low_b)]))
            continue
        options.append(concat([escape, _hex4(high_a, high_a), escape, _hex4(low_a, 0xDFFF)]))
        if high_a + 1 <= high_b - 1:
            options.append(concat([escape, _hex4(high_a + 1, high_b - 1), escape, _hex4(0xDC00, 0xDFFF)]))
        options.append(concat([escape, _hex4(high_b, high_b), escape, _hex4(0xDC00, low_b)]))
    return options


def encode_char_set(chars: CharSet) -> RegexNode:
    """Every JSON encoding (raw or escaped) of one character of ``chars``."""
    if not chars.ranges:
        return NOTHING
    if chars == ANY_CHAR:
        return ENCODED_ANY_CHAR
    if len(chars.ranges) == 1 and chars.ranges[0][0] == chars.ranges[0][1]:
        return _encode_code_point(chars.ranges[0][0])
    return _encode_char_set(chars)


@functools.lru_cache(maxsize=4096)
def _encode_code_point(code: int) -> RegexNode:
    """Every JSON encoding of the one character ``code`` (the common case: literal text;
    memoised like `_encode_char_set`)."""
    options: list[RegexNode] = []
    if not any(low <= code <= high for low, high in UNESCAPED_FORBIDDEN):
        options.append(CharSet(((code, code),)))
    letter = SHORT_ESCAPES.get(code)
    if letter is not None:
        options.append(literal("\\" + letter))
    if code <= 0xFFFF:
        if not SURROGATES[0] <= code <= SURROGATES[1]:
            options.append(concat([literal("\\u"), _hex4_of(code)]))
    else:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        options.append(concat([literal("\\u"), _hex4_of(high), literal("\\u"), _hex4_of(low)]))
    return alternation(options)


def _hex4_of(value: int) -> RegexNode:
    return concat(
        [
            hex_digits(digit, digit)
            for digit in (value >> 12, (value >> 8) & 15, (value >> 4) & 15, value & 15)
        ]
    )


@functools.lru_cache(maxsize=4096)
def _encode_char_set(chars: CharSet) -> RegexNode:
    """Every JSON encoding of one character of ``chars`` (several ranges): raw where JSON
    allows it, short escapes, and ``\\uXXXX`` escapes of every range (surrogate pairs past
    U+FFFF).  Memoised (the nodes are immutable): the escapes of a class take about 0.2 ms to
    spell, and the same classes (``[a-z]``, ``[0-9]``, a format's) come back in every pattern
    and schema; the 65 MaskBench schemas of the compile tail spelled 7,528 of them."""
    raw = list(chars.ranges)
    for low, high in UNESCAPED_FORBIDDEN:
        raw = [
            piece
            for a, b in raw
            for piece in ((a, min(b, low - 1)), (max(a, high + 1), b))
            if piece[0] <= piece[1]
        ]
    options: list[RegexNode] = [char_set(raw)] if raw else []
    for code, letter in SHORT_ESCAPES.items():
        if _contains(chars.ranges, code):
            options.append(literal("\\" + letter))
    options.extend(unicode_escapes(chars.ranges))
    return alternation(options)


ENCODED_ANY_CHAR = _encode_char_set(ANY_CHAR)
"""Every JSON encoding of any one character: a constant, as every unconstrained string
content uses it (built once at import instead of once per string)."""


def encode_content(node: RegexNode) -> RegexNode:
    """Map a language of decoded string contents onto the language of its JSON encodings."""
    if isinstance(node, CharSet):
        return encode_char_set(node)
    if isinstance(node, Concat):
        return concat(encode_content(item) for item in node.items)
    if isinstance(node, Alternation):
        return alternation(encode_content(option) for option in node.options)
    if isinstance(node, Repeat):
        return repeat(encode_content(node.item), node.min, node.max)
    if isinstance(node, Product):  # distinct characters' encodings are disjoint prefix codes,
        left, right = encode_content(node.left), encode_content(node.right)  # so encoding
        return Product(left, right, node.mode)  # commutes with intersection and difference
    assert isinstance(node, Empty)
    return node


def json_string(content: RegexNode) -> RegexNode:
    """A JSON string literal whose decoded content is in the language ``content``."""
    return concat([literal('"'), encode_content(content), literal('"')])


def string_literal(text: str) -> RegexNode:
    """Every JSON encoding of the string ``text`` (raw or escaped characters)."""
    return json_string(literal(text))


ANY_STRING_CONTENT = repeat(ANY_CHAR, 0, None)

INTEGER_DIGITS = alternation([literal("0"), concat([NONZERO_DIGIT, repeat(DIGIT, 0, None)])])
FRACTION = concat([literal("."), repeat(DIGIT, 1, None)])
EXPONENT = concat(
    [
        char_set([(ord("e"), ord("e")), (ord("E"), ord("E"))]),
        repeat(char_set([(ord("+"), ord("+")), (ord("-"), ord("-"))]), 0, 1),
        repeat(DIGIT, 1, None),
    ]
)
MINUS = repeat(literal("-"), 0, 1)
PLAIN_NUMERALS = concat([MINUS, INTEGER_DIGITS, repeat(FRACTION, 0, 1)])
"""JSON numerals without exponent: every JSON number's value has such a spelling."""


def any_number() -> RegexNode:
    """Every JSON number."""
    return concat([PLAIN_NUMERALS, repeat(EXPONENT, 0, 1)])


def any_integer(zero_fraction: bool = True) -> RegexNode:
    """Every JSON number with an integral value written without exponent (``3``, ``-0``, and
    with ``zero_fraction`` ``3.00``: an integer since draft 6, not in drafts 3 and 4)."""
    if not zero_fraction:
        return concat([MINUS, INTEGER_DIGITS])
    return concat(
        [MINUS, INTEGER_DIGITS, repeat(concat([literal("."), repeat(literal("0"), 1, None)]), 0, 1)]
    )


def array_of(items: RegexNode, options: JsonSchemaOptions) -> RegexNode:
    """``[ item, item, ... ]`` with any number (including zero) of ``items``."""
    space = whitespace(options)
    more = repeat(concat([token(",", options), items]), 0, None)
    return concat([literal("["), space, repeat(concat([items, more]), 0, 1), space, literal("]")])


def object_of(key: RegexNode, value: RegexNode, options: JsonSchemaOptions) -> RegexNode:
    """``{ key: value, ... }`` with any number of members whose keys are JSON strings in ``key``."""
    space = whitespace(options)
    member = concat([key, token(":", options), value])
    more = repeat(concat([token(",", options), member]), 0, None)
    return concat([literal("{"), space, repeat(concat([member, more]), 0, 1), space, literal("}")])


SCALAR_TYPES = ("null", "boolean", "number", "string")


def any_value(depth: int, options: JsonSchemaOptions, types: frozenset[str] | None = None) -> RegexNode:
    """Any JSON value (of ``types``, default all) nested at most ``depth`` containers deep.

    The bound is the regular engine's honest approximation of "any JSON": at ``depth`` 0
    only scalars and empty containers are produced.
    """
    kinds = (
        types if types is not None else frozenset(("null", "boolean", "number", "string", "array", "object"))
    )
    found: list[RegexNode] = []
    if "null" in kinds:
        found.append(literal("null"))
    if "boolean" in kinds:
        found.extend([literal("true"), literal("false")])
    if "number" in kinds:
        found.append(any_number())
    elif "integer" in kinds:
        found.append(any_integer())
    if "string" in kinds:
        found.append(json_string(ANY_STRING_CONTENT))
    space = whitespace(options)
    if depth <= 0:
        if "array" in kinds:
            found.append(concat([literal("["), space, literal("]")]))
        if "object" in kinds:
            found.append(concat([literal("{"), space, literal("}")]))
        return alternation(found)
    inner = any_value(depth - 1, options) if kinds & {"array", "object"} else EMPTY
    if "array" in kinds:
        found.append(array_of(inner, options))
    if "object" in kinds:
        found.append(object_of(json_string(ANY_STRING_CONTENT), inner, options))
    return alternation(found)
