"""Enumerate a small finite regex language as UTF-8 byte strings (the literal fast path).

``ast_to_dfa`` asks `small_finite_language` first; when the AST denotes at most
``max_words`` strings (a literal, an alternation of literals, a short counted class such
as ``[0-9]{2}``) the minimal DFA is built directly from the strings by
`automask.compiler.automata.finite.finite_language_dfa`.  Anything larger, unbounded or
empty returns ``None`` and takes the general NFA path.
"""

from __future__ import annotations

from automask.compiler.regex.ast import Alternation, CharSet, Concat, Empty, RegexNode, Repeat

MAX_WORDS = 64
_SURROGATES = (0xD800, 0xDFFF)


class _TooLarge(Exception):
    """Internal: the language has more than ``max_words`` strings (or is not finite)."""


def small_finite_language(node: RegexNode, max_words: int = MAX_WORDS) -> set[bytes] | None:
    """The UTF-8 encodings of ``node``'s strings if there are 1..``max_words`` of them, else None."""
    try:
        words = _words(node, max_words)
    except (_TooLarge, RecursionError):
        return None
    return words or None


def _words(node: RegexNode, max_words: int) -> set[bytes]:
    if hasattr(node, "build_dfa"):  # a tagged node or a `Product`: built as automata
        raise _TooLarge
    if isinstance(node, CharSet):
        return _char_set_words(node, max_words)
    if isinstance(node, Concat):
        result = {b""}
        for item in node.items:
            result = _product(result, _words(item, max_words), max_words)
        return result
    if isinstance(node, Alternation):
        result: set[bytes] = set()
        for option in node.options:
            result |= _words(option, max_words)
            if len(result) > max_words:
                raise _TooLarge
        return result
    if isinstance(node, Repeat):
        if node.max is None:
            raise _TooLarge
        item = _words(node.item, max_words)
        if not item:
            return {b""} if node.min == 0 else set()
        if node.max > max_words and item != {b""}:
            raise _TooLarge
        result = set()
        power = {b""}
        for count in range(node.max + 1):
            if count >= node.min:
                result |= power
                if len(result) > max_words:
                    raise _TooLarge
            if count < node.max:
                power = _product(power, item, max_words)
        return result
    if isinstance(node, Empty):
        return {b""}
    raise TypeError(f"not a regex AST node: {node!r}")  # pragma: no cover - defensive


def _char_set_words(node: CharSet, max_words: int) -> set[bytes]:
    words: set[bytes] = set()
    for first, last in node.ranges:
        if len(words) + (last - first + 1) > max_words + 2048:  # surrogates may be dropped
            raise _TooLarge
        for code in range(first, last + 1):
            if not _SURROGATES[0] <= code <= _SURROGATES[1]:
                words.add(chr(code).encode("utf-8"))
        if len(words) > max_words:
            raise _TooLarge
    return words


def _product(left: set[bytes], right: set[bytes], max_words: int) -> set[bytes]:
    if len(left) * len(right) > max_words:
        raise _TooLarge
    return {a + b for a in left for b in right}
