"""Digit automata: exact regular languages of numerals inside a numeric range.

Three building blocks, all returning `RegexNode`s:

- `fixed_width_range(low, high, width, base, digit_class)`: the ``width``-digit numerals
  (leading zeros kept) whose value lies in ``[low, high]``; used for ``\\uXXXX`` escapes
  (base 16, either case) and by `integer_range`.
- `integer_range(low, high)`: canonical decimal integers (no leading zeros) in
  ``[low, high]``, ``high=None`` meaning unbounded.
- `fraction_range(low, high, ...)`: digit strings ``t`` (possibly empty) such that the value
  ``0.t`` lies between two finite decimals given as digit strings; returned as
  ``(accepts_empty, node_for_nonempty)`` so callers can emit ``"." t`` only when ``t`` is
  non-empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from automask.compiler.regex.ast import (
    EMPTY,
    NOTHING,
    CharSet,
    RegexNode,
    alternation,
    char_set,
    concat,
    repeat,
)

DigitClass = Callable[[int, int], CharSet]


def decimal_digits(first: int, last: int) -> CharSet:
    return char_set([(ord("0") + first, ord("0") + last)])


def _hex_digit_set(first: int, last: int) -> CharSet:
    ranges = []
    for value in range(first, last + 1):
        text = f"{value:x}"
        ranges.append((ord(text), ord(text)))
        ranges.append((ord(text.upper()), ord(text.upper())))
    return char_set(ranges)


_HEX_DIGIT_SETS: tuple[tuple[CharSet, ...], ...] = tuple(
    tuple(_hex_digit_set(first, last) for last in range(16)) for first in range(16)
)
"""``_HEX_DIGIT_SETS[first][last]``: an immutable table (built at import; ``\\u`` escapes ask
for these thousands of times per schema, and building a `CharSet` normalises its ranges)."""


def hex_digits(first: int, last: int) -> CharSet:
    """Hex digit values ``first..last`` in either case (JSON ``\\u`` escapes allow both)."""
    if first > last:
        return char_set(())
    return _HEX_DIGIT_SETS[first][last]


DIGIT = decimal_digits(0, 9)
NONZERO_DIGIT = decimal_digits(1, 9)


def _numeral(value: int, width: int, base: int) -> list[int]:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, base)
        digits.append(digit)
    return digits[::-1]


def fixed_width_range(low: int, high: int, width: int, base: int, digit_class: DigitClass) -> RegexNode:
    """Numerals of exactly ``width`` base-``base`` digits with value in ``[low, high]``."""
    if low > high:
        return NOTHING
    return _fixed(_numeral(low, width, base), _numeral(high, width, base), base, digit_class)


def _fixed(low: list[int], high: list[int], base: int, digit_class: DigitClass) -> RegexNode:
    if not low:
        return EMPTY
    width = len(low)
    if low[0] == high[0]:
        return concat([digit_class(low[0], low[0]), _fixed(low[1:], high[1:], base, digit_class)])
    top = [base - 1] * (width - 1)
    bottom = [0] * (width - 1)
    options: list[RegexNode] = []
    low_full = low[1:] == bottom
    high_full = high[1:] == top
    first_middle = low[0] if low_full else low[0] + 1
    last_middle = high[0] if high_full else high[0] - 1
    if not low_full:
        options.append(concat([digit_class(low[0], low[0]), _fixed(low[1:], top, base, digit_class)]))
    if first_middle <= last_middle:
        options.append(
            concat(
                [
                    digit_class(first_middle, last_middle),
                    repeat(digit_class(0, base - 1), width - 1, width - 1),
                ]
            )
        )
    if not high_full:
        options.append(concat([digit_class(high[0], high[0]), _fixed(bottom, high[1:], base, digit_class)]))
    return alternation(options)


def integer_range(low: int, high: int | None) -> RegexNode:
    """Canonical non-negative decimal integers (``0`` or no leading zero) in ``[low, high]``."""
    low = max(low, 0)
    if high is not None and low > high:
        return NOTHING
    options: list[RegexNode] = []
    low_width = len(str(low))
    last_width = len(str(high)) if high is not None else low_width
    for width in range(low_width, last_width + 1):
        smallest = 0 if width == 1 else 10 ** (width - 1)
        largest = 10**width - 1
        first = max(low, smallest)
        last = largest if high is None else min(high, largest)
        if first <= last:
            options.append(fixed_width_range(first, last, width, 10, decimal_digits))
    if high is None:
        options.append(concat([NONZERO_DIGIT, repeat(DIGIT, low_width, None)]))
    return alternation(options)


def fraction_range(
    low: str | None, high: str | None, low_inclusive: bool = True, high_inclusive: bool = True
) -> tuple[bool, RegexNode]:
    """Digit strings ``t`` with ``low <(=) 0.t <(=) high``.

    ``low``/``high`` are the fractional digits of the bounds without trailing zeros
    (``""`` is 0); ``None`` means no bound (0 <= 0.t < 1 always holds).  Returns whether the
    empty ``t`` qualifies and the node for the non-empty ones.  Comparing ``0.t`` with a
    bound is comparing digit strings padded with zeros, digit by digit: the recursion
    consumes one digit and narrows (or drops) each bound.
    """
    if low == "" and low_inclusive:
        low = None
    if high == "":
        if not high_inclusive or low is not None:
            return False, NOTHING  # 0.t < 0, or 0 < low <= 0.t <= 0
        return True, repeat(decimal_digits(0, 0), 1, None)
    if low is None and high is None:
        return True, repeat(DIGIT, 1, None)
    if low == "" and high is None:  # strictly positive: some non-zero digit
        return False, concat([repeat(decimal_digits(0, 0), 0, None), NONZERO_DIGIT, repeat(DIGIT, 0, None)])
    accepts_empty = low is None  # 0.(empty) = 0; a remaining low here is > 0 (or exclusive 0)
    low_digit = int(low[0]) if low else 0
    high_digit = int(high[0]) if high is not None else 10
    options: list[RegexNode] = []
    groups: list[tuple[int, int, str | None, bool, str | None, bool]] = []
    # Partition first digits 0..9 by how they compare with each bound's first digit.
    cut_points = sorted({0, low_digit, low_digit + 1, min(high_digit, 10), min(high_digit + 1, 10), 10})
    for first, end in itertools.pairwise(cut_points):
        last = end - 1
        if first > last or first > 9:
            continue
        if low is not None and last < low_digit:
            continue
        if high is not None and first > high_digit:
            continue
        if low is None or first > low_digit:
            next_low, next_low_inclusive = None, True
        else:  # first == low_digit == last
            next_low, next_low_inclusive = (low[1:] if low else ""), low_inclusive
        if high is None or last < high_digit:
            next_high, next_high_inclusive = None, True
        else:
            next_high, next_high_inclusive = high[1:], high_inclusive
        groups.append((first, last, next_low, next_low_inclusive, next_high, next_high_inclusive))
    for first, last, next_low, next_low_inclusive, next_high, next_high_inclusive in groups:
        empty_ok, rest = fraction_range(next_low, next_high, next_low_inclusive, next_high_inclusive)
        tail = alternation([EMPTY, rest]) if empty_ok else rest
        options.append(concat([decimal_digits(first, last), tail]))
    return accepts_empty, alternation(options)
