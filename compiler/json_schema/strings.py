"""``string`` keywords: minLength/maxLength (code points), pattern, format.

Everything is built over the decoded content and encoded by `json_ast.json_string`.
``pattern`` is ECMA-262 and *unanchored* (matches anywhere): each top-level branch is
parsed (ASCII ``\\d \\w``) and padded with "any characters" on each side not pinned by
``^``/``$``.  Length bounds are combined with a pattern or format by `restrict_length`,
which rewrites the AST to the strings of a given length range when that can be done
exactly (fixed-length pieces, one variable piece, or a short enough maximum); otherwise
the combination raises `UnsupportedFeature` -- intersecting two regular languages has no
AST form here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

from automask.compiler.json_schema.formats import EXACT_FORMATS, format_node, is_unknown_format
from automask.compiler.json_schema.internal_keywords import (
    ALSO_PATTERNS,
    NOT_FORMATS,
    NOT_PATTERNS,
    NOT_STRINGS,
)
from automask.compiler.json_schema.json_ast import ANY_CHAR, ANY_STRING_CONTENT
from automask.compiler.regex import parse_regex
from automask.compiler.regex.ast import (
    EMPTY,
    NOTHING,
    Alternation,
    CharSet,
    Concat,
    Empty,
    Product,
    RegexNode,
    Repeat,
    alternation,
    concat,
    difference,
    intersection,
    literal,
    repeat,
)
from automask.errors import UnknownFormatWarning, UnsupportedFeature

MAX_SPLIT_LENGTH = 24
"""Largest remaining length for which a concatenation of several variable-length pieces is
split into every length assignment."""


class StringConstraintError(ValueError):
    """A string keyword that cannot be compiled; the caller adds the JSON pointer."""

    def __init__(self, message: str, keyword: str, unsupported: bool = True):
        super().__init__(message)
        self.keyword = keyword
        self.unsupported = unsupported


_LOOKAROUND = ("(?=", "(?!", "(?<")
"""Group openings that are assertions, not groups whose contents are matched."""


def _structural_chars(pattern: str) -> Iterator[tuple[int, str]]:
    """The characters outside escapes and classes, with their positions: where the groups,
    ``|`` and anchors are."""
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            yield index, char
        index += 1


def _split_top_level(pattern: str) -> list[str]:
    """The pattern's top-level ``|`` branches (outside groups, classes and escapes)."""
    branches, depth, start = [], 0, 0
    for index, char in _structural_chars(pattern):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
    branches.append(pattern[start:])
    return branches


def _structure(branch: str) -> tuple[list[int], dict[int, int], list[int]]:
    """Positions of the unescaped anchors outside classes, each group's closing position by
    its opening one, and the group opening enclosing each ``|`` (-1 at top level)."""
    anchors: list[int] = []
    closing: dict[int, int] = {}
    bar_groups: list[int] = []
    open_groups: list[int] = []
    for index, char in _structural_chars(branch):
        if char == "(":
            open_groups.append(index)
        elif char == ")" and open_groups:
            closing[open_groups.pop()] = index
        elif char == "|":
            bar_groups.append(open_groups[-1] if open_groups else -1)
        elif char in "^$":
            anchors.append(index)
    return anchors, closing, bar_groups


def _distributed(branch: str) -> list[str]:
    """``branch`` as alternatives without an anchored alternation at its ends: ``X(A|B)`` is
    ``X(?:A)|X(?:B)`` and ``(A|B)Y`` is ``(?:A)Y|(?:B)Y`` when the group holds an anchor (and,
    at the start, no quantifier follows it)."""
    anchors, closing, bar_groups = _structure(branch)
    opening = {end: start for start, end in closing.items()}
    last = len(branch) - 1
    candidates = []
    if (
        branch.startswith("(")
        and not branch.startswith(_LOOKAROUND)
        and 0 in closing
        and branch[closing[0] + 1 : closing[0] + 2] not in ("?", "*", "+", "{")
    ):
        candidates.append(0)
    if last in opening and not branch.startswith(_LOOKAROUND, opening[last]):
        candidates.append(opening[last])
    for start in candidates:
        end = closing[start]
        if start not in bar_groups or not any(start < position < end for position in anchors):
            continue
        inner = branch[start + (3 if branch.startswith("(?:", start) else 1) : end]
        prefix, suffix = branch[:start], branch[end + 1 :]
        return [
            alternative
            for part in _split_top_level(inner)
            for alternative in _distributed(f"{prefix}(?:{part}){suffix}")
        ]
    return [branch]


def _edge_anchor(branch: str, closing: dict[int, int], bar_groups: list[int], at_start: bool) -> int | None:
    """The position of the anchor that pins every match of ``branch`` to the string's start
    (``^``, possibly inside leading groups: ``(^a)``) or end (``$``), or None."""
    groups: list[int] = []
    if at_start:
        index = 0
        while branch.startswith("(", index) and not branch.startswith(_LOOKAROUND, index):
            groups.append(index)
            index += 3 if branch.startswith("(?:", index) else 1
        found = index if branch.startswith("^", index) else None
    else:
        index = len(branch) - 1
        opening = {end: start for start, end in closing.items()}
        while index in opening:
            groups.append(opening[index])
            index -= 1
        escaped = index > 0 and (index - len(branch[:index].rstrip("\\"))) % 2 == 1
        found = index if index >= 0 and branch[index] == "$" and not escaped else None
    if found is not None and any(group in bar_groups for group in groups):
        return None  # ``(^a|b)``: only some of the group's matches are pinned
    return found


def pattern_node(pattern: str) -> RegexNode:
    """Decoded strings in which the ECMA-262 ``pattern`` matches somewhere.

    A branch is pinned to the start by a leading ``^`` and to the end by a trailing ``$``,
    also inside groups that hold nothing else (``(^\\S+$)``); a group at either end whose
    alternatives hold anchors is distributed first (``^(a|$)`` is ``^(?:a)|^(?:$)``).
    `parse_regex` drops anchors at the edges of its (full-match) language and refuses others; an
    anchor it would drop that still does not pin its whole branch (``(^a|b)c``) is refused, since
    reading it as unanchored would accept strings the pattern does not match.
    """
    options = []
    grouped: dict[tuple[bool, bool], list[RegexNode]] = {}  # (anchored at start, at end) -> bodies
    anything = repeat(ANY_CHAR, 0, None)
    branches = [part for top in _split_top_level(pattern) for part in _distributed(top)]
    for branch in branches:
        body = parse_regex(branch, unicode_classes=False)
        anchors, closing, bar_groups = _structure(branch)
        start = _edge_anchor(branch, closing, bar_groups, at_start=True)
        end = _edge_anchor(branch, closing, bar_groups, at_start=False)
        for position in anchors:
            if position not in (start, end):
                raise UnsupportedFeature(
                    f"anchor {branch[position]} that does not pin its whole pattern branch",
                    branch,
                    position,
                    "only a leading ^ and a trailing $ of a top-level branch are read",
                )
        grouped.setdefault((start is not None, end is not None), []).append(body)
    # Branches with the same anchoring share their ``.*`` ends: ``.*(a|b).*``, not
    # ``.*a.*|.*b.*``, whose subset construction tracks which words have matched (2**n states
    # for n words) before minimisation merges them all.
    for (anchored_start, anchored_end), bodies in grouped.items():
        options.append(
            concat(
                [
                    *([] if anchored_start else [anything]),
                    alternation(bodies),
                    *([] if anchored_end else [anything]),
                ]
            )
        )
    return alternation(options)


def fixed_length(node: RegexNode) -> int | None:
    """The length of every string of ``node`` when they all have one length, else ``None``."""
    if isinstance(node, CharSet):
        return 1
    if isinstance(node, Empty):
        return 0
    if isinstance(node, Concat):
        total = 0
        for item in node.items:
            length = fixed_length(item)
            if length is None:
                return None
            total += length
        return total
    if isinstance(node, Alternation):
        lengths = {fixed_length(option) for option in node.options}
        return lengths.pop() if len(lengths) == 1 else None
    if isinstance(node, Repeat):
        length = fixed_length(node.item)
        if length == 0:
            return 0
        return None if length is None or node.min != node.max else length * node.min
    return None


def restrict_length(node: RegexNode, low: int, high: int | None) -> RegexNode | None:
    """``node``'s strings whose length is in ``[low, high]``, or ``None`` if not expressible."""
    low = max(low, 0)
    if high is not None and low > high:
        return NOTHING
    if isinstance(node, Product):
        return None
    if isinstance(node, (CharSet, Empty)):
        length = 1 if isinstance(node, CharSet) else 0
        return node if low <= length and (high is None or length <= high) else NOTHING
    if isinstance(node, Alternation):
        options = [restrict_length(option, low, high) for option in node.options]
        return None if any(option is None for option in options) else alternation(options)  # type: ignore[misc]
    if isinstance(node, Repeat):
        step = fixed_length(node.item)
        if step is None:
            return None
        if step == 0:
            return node if low == 0 else NOTHING
        first = max(node.min, math.ceil(low / step))
        last_candidates = [
            bound for bound in (node.max, None if high is None else high // step) if bound is not None
        ]
        last = min(last_candidates) if last_candidates else None
        if last is not None and first > last:
            return NOTHING
        return repeat(node.item, first, last)
    assert isinstance(node, Concat)
    fixed_total, variable = 0, []
    for position, item in enumerate(node.items):
        length = fixed_length(item)
        if length is None:
            variable.append(position)
        else:
            fixed_total += length
    if not variable:
        return node if low <= fixed_total and (high is None or fixed_total <= high) else NOTHING
    if len(variable) == 1:
        position = variable[0]
        inner = restrict_length(
            node.items[position], low - fixed_total, None if high is None else high - fixed_total
        )
        if inner is None:
            return None
        return concat([*node.items[:position], inner, *node.items[position + 1 :]])
    if high is None or high - fixed_total > MAX_SPLIT_LENGTH:
        return None
    head, tail = node.items[0], concat(node.items[1:])
    options = []
    for head_length in range(0, high + 1):
        head_part = restrict_length(head, head_length, head_length)
        if head_part is None:
            return None
        if head_part == NOTHING:
            continue
        tail_part = restrict_length(tail, low - head_length, high - head_length)
        if tail_part is None:
            return None
        options.append(concat([head_part, tail_part]))
    return alternation(options)


def _length_keyword(schema: dict, keyword: str) -> int | None:
    value = schema.get(keyword)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StringConstraintError(
            f"{keyword} must be a non-negative integer, not {value!r}", keyword, False
        )
    return value


def string_content(schema: dict) -> RegexNode:
    """The decoded contents a ``string`` schema accepts (before JSON encoding)."""
    low = _length_keyword(schema, "minLength") or 0
    high = _length_keyword(schema, "maxLength")
    if high is not None and low > high:  # no string has that length (e.g. after an allOf)
        return NOTHING
    shapes: list[tuple[str, RegexNode]] = []
    if "pattern" in schema:
        pattern = schema["pattern"]
        if not isinstance(pattern, str):
            raise StringConstraintError(f"pattern must be a string, not {pattern!r}", "pattern", False)
        try:
            shapes.append(("pattern", pattern_node(pattern)))
        except UnsupportedFeature as error:  # the caller adds the keyword's JSON pointer
            raise StringConstraintError(f"pattern {pattern!r}: {error}", "pattern") from None
    if "format" in schema:
        name = schema["format"]
        node = format_node(name) if isinstance(name, str) else None
        if node is None and isinstance(name, str) and is_unknown_format(name):
            warnings.warn(
                f"format {name!r} is not a JSON Schema format: an annotation, not enforced",
                UnknownFormatWarning,
                stacklevel=2,
            )
        elif node is None:
            raise StringConstraintError(f"format {name!r}", "format")
        else:
            shapes.append(("format", node))
    for also in schema.get(ALSO_PATTERNS, []):  # allOf of several patterns: each must match
        try:
            shapes.append(("pattern", pattern_node(also)))
        except UnsupportedFeature as error:
            raise StringConstraintError(f"pattern {also!r}: {error}", "pattern") from None
    while len(shapes) > 1:  # patterns and format: all must hold
        shapes = [("pattern", intersection(shapes[0][1], shapes[1][1])), *shapes[2:]]
    excluded = schema.get(NOT_PATTERNS, [])
    if excluded:  # strings no excluded pattern matches
        try:
            matching = alternation([pattern_node(pattern) for pattern in excluded])
        except UnsupportedFeature as error:
            raise StringConstraintError(f"not pattern {excluded!r}: {error}", "not") from None
        allowed = shapes[0][1] if shapes else ANY_STRING_CONTENT
        shapes = [("pattern", difference(allowed, matching))]
    if schema.get(NOT_FORMATS):  # strings outside the excluded (exact) formats
        allowed = shapes[0][1] if shapes else ANY_STRING_CONTENT
        shapes = [
            (
                "pattern",
                difference(allowed, alternation([_exact_format(name) for name in schema[NOT_FORMATS]])),
            )
        ]
    if schema.get(NOT_STRINGS):  # strings other than the excluded values
        allowed = shapes[0][1] if shapes else ANY_STRING_CONTENT
        shapes = [
            ("pattern", difference(allowed, alternation([literal(text) for text in schema[NOT_STRINGS]])))
        ]
    if not shapes:
        return repeat(ANY_CHAR, low, high) if (low or high is not None) else ANY_STRING_CONTENT
    keyword, shape = shapes[0]
    if low == 0 and high is None:
        return shape
    restricted = restrict_length(shape, low, high)
    if restricted is None:  # the pattern's structure does not split: intersect the automata
        return intersection(shape, repeat(ANY_CHAR, low, high))
    return restricted


def _exact_format(name: Any) -> RegexNode:
    """The language of an excluded format: only an exact one (`EXACT_FORMATS`) may be excluded."""
    if name not in EXACT_FORMATS:
        raise StringConstraintError(f"not format {name!r}: the format's automaton is not exact", "not")
    node = format_node(name)
    assert node is not None  # every exact format has an automaton
    return node


__all__ = ["StringConstraintError", "string_content", "pattern_node", "restrict_length", "EMPTY"]
