r"""Python ``re`` source -> `automask.compiler.regex.ast`, for grammar terminals.

Lark terminals are Python regexes (flags inlined as ``(?i:...)``), so this reads them with
Python's own parser (``re._parser``) rather than a second parser of Python syntax, and maps
its tree onto the five AST node types.  Matching is *full-match* semantics: lazy and greedy
quantifiers denote the same language; anchors, lookarounds, backreferences and
conditionals have no regular full-match meaning here and raise `UnsupportedFeature`.

Case-insensitive sets (``i`` flag) are closed under ``str.lower``/``str.upper`` per code
point for ranges up to `CASE_FOLD_RANGE_LIMIT` code points; larger ranges (``[^x]``-style
sets) are taken as they are, since they almost always contain both cases already.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse

from automask.compiler.regex import unicode_classes as uc
from automask.compiler.regex.ast import (
    MAX_CODE_POINT,
    CharSet,
    RegexNode,
    alternation,
    char_set,
    complement_ranges,
    concat,
    normalize_ranges,
    repeat,
)
from automask.errors import RegexSyntaxError, UnsupportedFeature

CASE_FOLD_RANGE_LIMIT = 5000

_CATEGORIES: dict[object, tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...], bool]] = {
    # category -> (unicode ranges, ascii ranges, negated)
    sre.CATEGORY_DIGIT: (uc.UNICODE_DIGIT, uc.ASCII_DIGIT, False),
    sre.CATEGORY_NOT_DIGIT: (uc.UNICODE_DIGIT, uc.ASCII_DIGIT, True),
    sre.CATEGORY_SPACE: (uc.UNICODE_SPACE, uc.ASCII_SPACE, False),
    sre.CATEGORY_NOT_SPACE: (uc.UNICODE_SPACE, uc.ASCII_SPACE, True),
    sre.CATEGORY_WORD: (uc.UNICODE_WORD, uc.ASCII_WORD, False),
    sre.CATEGORY_NOT_WORD: (uc.UNICODE_WORD, uc.ASCII_WORD, True),
}


def python_regex_to_ast(pattern: str, flags: int = 0) -> RegexNode:
    """The AST of Python regex ``pattern`` (``re`` flags in ``flags`` or inline)."""
    try:
        tree = sre_parse.parse(pattern, flags)
    except re.error as error:
        raise RegexSyntaxError(str(error.msg), pattern, error.pos) from None
    return _convert(tree, tree.state.flags, pattern)


def _convert(sub: sre_parse.SubPattern, flags: int, pattern: str) -> RegexNode:
    return concat(_convert_item(op, arg, flags, pattern) for op, arg in sub)


def _convert_item(op: object, arg: object, flags: int, pattern: str) -> RegexNode:
    if op is sre.LITERAL:
        return _char_set([(arg, arg)], flags)
    if op is sre.NOT_LITERAL:
        return CharSet(complement_ranges(_fold(normalize_ranges([(arg, arg)]), flags)))
    if op is sre.ANY:
        everything = ((0, MAX_CODE_POINT),)
        return CharSet(everything) if flags & re.DOTALL else char_set([(10, 10)], negate=True)
    if op is sre.IN:
        return _class(arg, flags)
    if op is sre.BRANCH:
        return alternation(_convert(option, flags, pattern) for option in arg[1])
    if op is sre.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        return _convert(body, (flags | add_flags) & ~del_flags, pattern)
    if op is sre.ATOMIC_GROUP:
        return _convert(arg, flags, pattern)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, high, body = arg
        return repeat(_convert(body, flags, pattern), low, None if high == sre.MAXREPEAT else high)
    feature = {
        sre.AT: "anchor (^, $, \\b, \\A, \\Z) in a grammar terminal",
        sre.ASSERT: "lookaround assertion in a grammar terminal",
        sre.ASSERT_NOT: "lookaround assertion in a grammar terminal",
        sre.GROUPREF: "backreference in a grammar terminal",
        sre.GROUPREF_EXISTS: "conditional group in a grammar terminal",
    }.get(op, f"regex construct {op}")
    raise UnsupportedFeature(feature, pattern, hint="terminals must be regular languages under full matching")


def _class(items: list[tuple[object, object]], flags: int) -> CharSet:
    negate = False
    ranges: list[tuple[int, int]] = []
    for op, arg in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            ranges.append((arg, arg))
        elif op is sre.RANGE:
            ranges.append(arg)
        elif op is sre.CATEGORY:
            ranges.extend(_category(arg, flags))
        else:  # pragma: no cover - re._parser emits nothing else inside a class
            raise UnsupportedFeature(f"character-class item {op}")
    folded = _fold(normalize_ranges(ranges), flags)
    return CharSet(complement_ranges(folded) if negate else folded)


def _category(category: object, flags: int) -> tuple[tuple[int, int], ...]:
    if category not in _CATEGORIES:
        raise UnsupportedFeature(f"character category {category}")
    unicode_ranges, ascii_ranges, negated = _CATEGORIES[category]
    ranges = ascii_ranges if flags & re.ASCII else unicode_ranges
    return complement_ranges(ranges) if negated else ranges


def _char_set(ranges: list[tuple[int, int]], flags: int) -> CharSet:
    return CharSet(_fold(normalize_ranges(ranges), flags))


def _fold(ranges: tuple[tuple[int, int], ...], flags: int) -> tuple[tuple[int, int], ...]:
    """Close ``ranges`` under case conversion when the IGNORECASE flag is set."""
    if not flags & re.IGNORECASE:
        return ranges
    extra: list[tuple[int, int]] = []
    for first, last in ranges:
        if last - first >= CASE_FOLD_RANGE_LIMIT:
            continue
        for code in range(first, last + 1):
            char = chr(code)
            for variant in (char.lower(), char.upper(), char.casefold()):
                if len(variant) == 1:
                    extra.append((ord(variant), ord(variant)))
    return normalize_ranges([*ranges, *extra])
