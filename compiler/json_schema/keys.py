"""JSON object keys other than a finite set of names, built directly over their encodings.

Why: ``additionalProperties`` (true by default) needs "any key except the listed names",
and a listed name may not come back through the extra members with an unchecked value.
Writing that complement over *decoded* characters and then encoding it (`json_ast.
encode_content`) maps every "any character but these few" set to its ``\\uXXXX`` escape
ranges (hex-digit interval trees, both cases) at every trie node, and repeats the "anything
after that" tail at every node: ASTs of 10^5 nodes, seconds of DFA construction.

Here the same language is built from small pieces, over encoded *units* (one raw
character, a short escape like ``\\n``, or a ``\\uXXXX`` escape / surrogate pair).  With
``A`` the alphabet of the names (every character in them) and ``C_n`` the characters of
trie node ``n``'s children:

    key  =  " ( E(root) | ( P(root) out(A) | L(root) ) ANY* ) "
    E(n) =  [n is not a name] | enc(c) E(child_c) ...     finite non-name trie paths
    P(n) =  [always]          | enc(c) P(child_c) ...     every trie path
    L(n) =  in(A - C_n)       | enc(c) L(child_c) ...     paths leaving by a character of A

``enc(c)``: every encoding of ``c``; ``out(A)``: every unit whose character is not in ``A``
(`unit_not_in`: its ``\\uXXXX`` part is a hex-digit complement of a few points and the
surrogate block); ``in(S)``: every unit of a character of ``S`` (`units_of`, for ASCII just
``\\u00XX`` trees).  A key leaves the trie at some node ``n`` by a character outside
``C_n``: either outside ``A`` altogether (one shared ``out(A)``) or in ``A - C_n``.  ``ANY*``
(any encoded content) occurs once.  The language is exactly that of ``encode_content``
applied to the decoded complement (tests compare the automata).
"""

from __future__ import annotations

from typing import Any

from automask.compiler.automata._kernels import breadth_first_renumbering
from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.automata.dfa import minimize_byte_dfa
from automask.compiler.json_schema.digits import hex_digits
from automask.compiler.json_schema.json_ast import (
    ENCODED_ANY_CHAR,
    SHORT_ESCAPES,
    SURROGATES,
    UNESCAPED_FORBIDDEN,
    encode_char_set,
    json_string,
    unicode_escapes,
)
from automask.compiler.json_schema.key_automaton import key_not_in_dfa, names_spelling_dfa
from automask.compiler.limits import CompileLimits
from automask.compiler.regex.ast import (
    EMPTY,
    NOTHING,
    CharSet,
    Concat,
    RegexNode,
    TaggedNode,
    alternation,
    char_set,
    complement_ranges,
    concat,
    literal,
    normalize_ranges,
    repeat,
)

_HEX_WIDTH = 4
_BMP_LAST = 0xFFFF
_LATIN1_LAST = 0xFF


class TaggedStrings(TaggedNode):
    """A language of JSON string literals given by decoded ``names``, with a direct DFA.

    A `Concat` to every walker of the AST: ``items`` is the exact regex, built on first
    access (the DFA back-end and the oracle read it).  `ast_to_dfa` instead calls
    `build_dfa`, a direct construction (`key_automaton`) giving the same minimal DFA
    without the regex or the subset construction -- so the CFG back-end, which never reads
    ``items``, never builds the regex.  Equality and hashing look at the class and the
    names only (they determine the language).
    """

    __slots__ = ("names", "_items")

    def __init__(self, names: tuple[str, ...]) -> None:
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "_items", None)

    @property
    def items(self) -> tuple[RegexNode, ...]:  # type: ignore[override]
        if self._items is None:
            plain = self.regex()
            assert isinstance(plain, Concat)
            object.__setattr__(self, "_items", plain.items)  # idempotent: a race builds it twice
        return self._items

    def regex(self) -> RegexNode:
        """The plain regex of the language (a `Concat`)."""
        raise NotImplementedError

    @property
    def tag(self) -> tuple[str, ...]:
        return self.names

    def build_dfa(self, limits: CompileLimits) -> ByteDFA:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(names={self.names!r})"


class KeyNotIn(TaggedStrings):
    """Every JSON string literal whose decoded value is none of ``names`` (sorted, distinct)."""

    __slots__ = ()

    def regex(self) -> RegexNode:
        return _encoded_key_not_in_regex(list(self.names))

    def build_dfa(self, limits: CompileLimits) -> ByteDFA:
        return key_not_in_dfa(self.names, limits)


class StringIn(TaggedStrings):
    """Every spelling of the string literals ``names``: a declared key, ``enum``/``const`` strings."""

    __slots__ = ()

    def regex(self) -> RegexNode:
        if len(self.names) == 1:
            return json_string(literal(self.names[0]))
        return Concat((alternation(json_string(literal(name)) for name in self.names),))

    def build_dfa(self, limits: CompileLimits) -> ByteDFA:
        spelled = names_spelling_dfa(self.names)
        if len(self.names) > 1 or not self.names[0].isascii():
            return minimize_byte_dfa(spelled)  # shared tails: hex-case variants, common suffixes
        # One ASCII name: already minimal -- every state reads a different suffix of the name (or
        # of one character's spelling before it) -- so only the canonical numbering is missing.
        return ByteDFA(*breadth_first_renumbering(spelled.transitions, spelled.accepting, spelled.start), 0)


def strings_in(names: list[str] | tuple[str, ...]) -> RegexNode:
    """Every JSON spelling of the strings ``names`` (quotes included), as a `StringIn` node."""
    return StringIn(tuple(sorted(set(names))))


def key_literal(name: str) -> RegexNode:
    """Every JSON spelling of the key ``name`` (quotes included)."""
    return strings_in((name,))


def encoded_key_not_in(names: list[str]) -> RegexNode:
    """Every JSON string literal (quotes included) whose decoded value is none of ``names``.

    Returned as a `KeyNotIn` node, whose DFA `ast_to_dfa` builds directly.
    """
    return KeyNotIn(tuple(sorted(set(names))))


def _encoded_key_not_in_regex(names: list[str]) -> RegexNode:
    trie: dict[str, Any] = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}
    alphabet = tuple(sorted({ord(char) for name in names for char in name}))
    builder = _KeyBuilder(alphabet)
    anything = repeat(ENCODED_ANY_CHAR, 0, None)
    finite = builder.non_names(trie)
    outside_alphabet = concat([builder.all_paths(trie), unit_not_in(list(alphabet))])
    leaving = concat([alternation([outside_alphabet, builder.leaving(trie)]), anything])
    body = leaving if finite is None else alternation([finite, leaving])
    return concat([literal('"'), body, literal('"')])


class _KeyBuilder:
    """One `encoded_key_not_in` call: the trie walks and their memos (each character's
    encodings, each child set's leaving units -- trie nodes repeat both)."""

    def __init__(self, alphabet: tuple[int, ...]) -> None:
        self.alphabet = alphabet
        self.encodings: dict[str, RegexNode] = {}
        self.units: dict[frozenset[str], RegexNode] = {}

    def encoding(self, char: str) -> RegexNode:
        found = self.encodings.get(char)
        if found is None:
            found = encode_char_set(CharSet(((ord(char), ord(char)),)))
            self.encodings[char] = found
        return found

    def alphabet_unit(self, children: frozenset[str]) -> RegexNode:
        """Encodings of one character of the names' alphabet that is not in ``children``."""
        found = self.units.get(children)
        if found is None:
            codes = [code for code in self.alphabet if chr(code) not in children]
            found = units_of(codes) if codes else NOTHING
            self.units[children] = found
        return found

    def non_names(self, trie: dict[str, Any]) -> RegexNode | None:
        """Encodings of the trie paths from here that end at a node which is not a name (None: none)."""
        options: list[RegexNode] = [] if "" in trie else [EMPTY]
        for char, child in trie.items():
            if char:
                rest = self.non_names(child)
                if rest is not None:
                    options.append(concat([self.encoding(char), rest]))
        return alternation(options) if options else None

    def all_paths(self, trie: dict[str, Any]) -> RegexNode:
        """Encodings of every trie path from here (to any node)."""
        options: list[RegexNode] = [EMPTY]
        for char, child in trie.items():
            if char:
                options.append(concat([self.encoding(char), self.all_paths(child)]))
        return alternation(options)

    def leaving(self, trie: dict[str, Any]) -> RegexNode:
        """Encodings of a trie path from here, then one character of the alphabet that leaves
        the trie (leaving by a character outside the alphabet is `all_paths` + one unit)."""
        children = frozenset(char for char in trie if char)
        options = [self.alphabet_unit(children)]
        for char in children:
            options.append(concat([self.encoding(char), self.leaving(trie[char])]))
        return alternation(option for option in options if option != NOTHING)


def unit_not_in(excluded: list[int]) -> RegexNode:
    """Every JSON encoding of one character whose code point is not in ``excluded``.

    The same language as ``encode_char_set(char_set(excluded points, negate=True))``, but
    the ``\\uXXXX`` part is a hex-digit complement of a few points, not interval trees.
    """
    points = normalize_ranges((code, code) for code in excluded)
    allowed = complement_ranges(points)
    raw = complement_ranges(normalize_ranges(list(UNESCAPED_FORBIDDEN) + list(points)))
    options: list[RegexNode] = [char_set(raw)] if raw else []
    for code, letter in SHORT_ESCAPES.items():
        if not any(first <= code <= last for first, last in points):
            options.append(literal("\\" + letter))
    bmp_excluded = normalize_ranges([*(r for r in points if r[0] <= _BMP_LAST), SURROGATES])
    bmp = hex_excluding(bmp_excluded, _HEX_WIDTH)
    if bmp != NOTHING:
        options.append(concat([literal("\\u"), bmp]))
    astral = tuple((max(first, 0x10000), last) for first, last in allowed if last >= 0x10000)
    options.extend(unicode_escapes(astral))
    return alternation(options)


def units_of(codes: list[int]) -> RegexNode:
    """Every JSON encoding of one of the code points ``codes`` (a few, sparse): the language
    of `encode_char_set`, with the ``\\uXXXX`` part as one hex-digit tree instead of one
    interval tree per run of consecutive code points."""
    points = normalize_ranges((code, code) for code in codes)
    excluded = complement_ranges(points)
    raw = complement_ranges(normalize_ranges(list(UNESCAPED_FORBIDDEN) + list(excluded)))
    options: list[RegexNode] = [char_set(raw)] if raw else []
    for code, letter in SHORT_ESCAPES.items():
        if any(first <= code <= last for first, last in points):
            options.append(literal("\\" + letter))
    if points and points[-1][1] <= _LATIN1_LAST:  # names are mostly ASCII: only \\u00XX
        options.append(concat([literal("\\u00"), hex_excluding(_clipped(excluded, _LATIN1_LAST), 2)]))
    else:
        bmp_excluded = normalize_ranges([*_clipped(excluded, _BMP_LAST), SURROGATES])
        bmp = hex_excluding(bmp_excluded, _HEX_WIDTH)
        if bmp != NOTHING:
            options.append(concat([literal("\\u"), bmp]))
    astral = tuple((max(first, 0x10000), last) for first, last in points if last >= 0x10000)
    options.extend(unicode_escapes(astral))
    return alternation(options)


def _clipped(ranges: tuple[tuple[int, int], ...], last: int) -> tuple[tuple[int, int], ...]:
    return tuple((first, min(end, last)) for first, end in ranges if first <= last)


def hex_excluding(excluded: tuple[tuple[int, int], ...], width: int) -> RegexNode:
    """``width`` hex digits (either case) whose value is in none of the ``excluded`` intervals
    (normalised, within ``0 .. 16**width - 1``): one digit position at a time."""
    any_digit = hex_digits(0, 15)
    if not excluded:
        return repeat(any_digit, width, width)
    span = 16 ** (width - 1)
    partial: dict[int, list[tuple[int, int]]] = {}  # leading digit -> excluded rest (relative)
    covered: set[int] = set()
    for first, last in excluded:
        for digit in range(first // span, min(last // span, 15) + 1):
            low = digit * span
            piece = (max(first, low) - low, min(last, low + span - 1) - low)
            if piece == (0, span - 1):
                covered.add(digit)
            else:
                partial.setdefault(digit, []).append(piece)
    options: list[RegexNode] = []
    free = [digit for digit in range(16) if digit not in covered and digit not in partial]
    if free:
        digits = char_set((ord(case), ord(case)) for digit in free for case in {f"{digit:x}", f"{digit:X}"})
        options.append(concat([digits, repeat(any_digit, width - 1, width - 1)]))
    for digit in sorted(partial):
        if digit not in covered:
            rest = normalize_ranges(partial[digit])
            if rest != ((0, span - 1),):
                options.append(concat([hex_digits(digit, digit), hex_excluding(rest, width - 1)]))
    return alternation(options)
