"""``integer`` / ``number`` with minimum, maximum, exclusiveMinimum/Maximum and multipleOf.

Bounds are exact: the value range ``[low, high]`` is split into a negative part (``-`` and
a magnitude range) and a non-negative part, and each magnitude range into integer-part
ranges (`digits.integer_range`) and fraction ranges (`digits.fraction_range`).  With a
bound, exponent notation is accepted only in the form ``json.dumps`` writes small floats,
``d(.d+)?e-NN`` with ``NN >= 5`` (a magnitude in (0, 1e-4)), and only when every such value
is in range (`tiny_exponent_numerals`); other exponent forms (``0.5e-5``, ``1e+16``) are
refused although they may be in range -- an under-approximation, never an
over-approximation.  (The set of in-range exponent numerals is not regular in general.)

``multipleOf``: bounded ranges with at most `MAX_ENUMERATED_MULTIPLES` multiples are
enumerated; an unbounded integer multiple of ``2**a * 5**b`` is a condition on its last
digits; any other step is a residue automaton (`multiples`), intersected with the bounds,
unless it would exceed `multiples.MAX_RESIDUE_STATES` (then `UnsupportedFeature`).  The
internal keyword `NOT_MULTIPLES` (the complement of ``multipleOf``, and of ``integer`` inside
``number``) removes the multiples of its steps; both produce plain numerals only (no exponent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from automask.compiler.json_schema.digits import (
    DIGIT,
    NONZERO_DIGIT,
    decimal_digits,
    fraction_range,
    integer_range,
)
from automask.compiler.json_schema.internal_keywords import NOT_MULTIPLES
from automask.compiler.json_schema.json_ast import INTEGER_DIGITS, MINUS, any_integer, any_number
from automask.compiler.json_schema.multiples import (
    MAX_RESIDUE_STATES,
    multiples,
    non_multiples,
    residue_states,
)
from automask.compiler.regex.ast import (
    EMPTY,
    NOTHING,
    RegexNode,
    alternation,
    concat,
    intersection,
    literal,
    repeat,
)

MAX_ENUMERATED_MULTIPLES = 2000


class NumberError(ValueError):
    """A malformed or unsupported numeric keyword; the caller adds the JSON pointer."""

    def __init__(self, message: str, keyword: str, unsupported: bool = False):
        super().__init__(message)
        self.keyword = keyword
        self.unsupported = unsupported


@dataclass(frozen=True)
class Bound:
    value: Fraction
    inclusive: bool


def _to_fraction(value: object, keyword: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NumberError(f"{keyword} must be a number, not {value!r}", keyword)
    if isinstance(value, float) and not math.isfinite(value):
        raise NumberError(f"{keyword} must be finite", keyword)
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


def _decimal_text(value: Fraction) -> tuple[int, str]:
    """Integer part and fractional digits (no trailing zeros) of a non-negative finite decimal."""
    integer = value.numerator // value.denominator
    rest = value - integer
    digits = ""
    while rest:
        rest *= 10
        digit = rest.numerator // rest.denominator
        digits += str(digit)
        rest -= digit
        if len(digits) > 400:
            raise NumberError("bound is not a finite decimal", "minimum", unsupported=True)
    return integer, digits


def _fraction_node(low: tuple[str, bool] | None, high: tuple[str, bool] | None) -> RegexNode:
    low_digits, low_inclusive = low if low is not None else (None, True)
    high_digits, high_inclusive = high if high is not None else (None, True)
    empty_ok, digits = fraction_range(low_digits, high_digits, low_inclusive, high_inclusive)
    options = [concat([literal("."), digits])]
    if empty_ok:
        options.append(EMPTY)
    return alternation(options)


def magnitude_range(low: Bound, high: Bound | None) -> RegexNode:
    """Unsigned JSON numerals (no exponent) whose value is within ``low`` .. ``high``."""
    if high is not None and (
        low.value > high.value or (low.value == high.value and not (low.inclusive and high.inclusive))
    ):
        return NOTHING
    low_int, low_frac = _decimal_text(low.value)
    options: list[RegexNode] = []
    if high is None:
        options.append(
            concat([integer_range(low_int, low_int), _fraction_node((low_frac, low.inclusive), None)])
        )
        options.append(concat([integer_range(low_int + 1, None), _fraction_node(None, None)]))
        return alternation(options)
    high_int, high_frac = _decimal_text(high.value)
    if low_int == high_int:
        fraction = _fraction_node((low_frac, low.inclusive), (high_frac, high.inclusive))
        return concat([integer_range(low_int, low_int), fraction])
    options.append(concat([integer_range(low_int, low_int), _fraction_node((low_frac, low.inclusive), None)]))
    if low_int + 1 <= high_int - 1:
        options.append(concat([integer_range(low_int + 1, high_int - 1), _fraction_node(None, None)]))
    options.append(
        concat([integer_range(high_int, high_int), _fraction_node(None, (high_frac, high.inclusive))])
    )
    return alternation(options)


def value_range(low: Bound | None, high: Bound | None) -> RegexNode:
    """Signed JSON numerals (no exponent) within the bounds (``None``: unbounded)."""
    zero = Fraction(0)
    options: list[RegexNode] = []
    if low is None or low.value <= 0:  # negative (and -0) numbers: magnitude in [max(0, -high), -low]
        if high is not None and high.value <= 0:
            magnitude_low = Bound(-high.value, high.inclusive)
        else:
            magnitude_low = Bound(zero, True)
        magnitude_high = None if low is None else Bound(-low.value, low.inclusive)
        options.append(concat([literal("-"), magnitude_range(magnitude_low, magnitude_high)]))
    if high is None or high.value >= 0:
        magnitude_low = low if low is not None and low.value >= 0 else Bound(zero, True)
        options.append(magnitude_range(magnitude_low, high))
    return alternation(options)


def _bounds(schema: dict) -> tuple[Bound | None, Bound | None]:
    """The tightest lower and upper bounds.  Draft 4's boolean ``exclusiveMinimum`` /
    ``exclusiveMaximum`` (``true``: ``minimum`` / ``maximum`` itself is excluded) are read as such."""
    low: Bound | None = None
    high: Bound | None = None
    draft4_exclusive = {
        paired: bool(schema[keyword])
        for keyword, paired in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum"))
        if isinstance(schema.get(keyword), bool)
    }
    for keyword, inclusive, is_low in (
        ("minimum", True, True),
        ("exclusiveMinimum", False, True),
        ("maximum", True, False),
        ("exclusiveMaximum", False, False),
    ):
        if keyword not in schema:
            continue
        raw = schema[keyword]
        if isinstance(raw, bool) and keyword.startswith("exclusive"):
            continue  # draft 4: it qualifies its `minimum` / `maximum` (`draft4_exclusive`)
        inclusive = inclusive and not draft4_exclusive.get(keyword, False)
        bound = Bound(_to_fraction(raw, keyword), inclusive)
        if is_low:
            if low is None or bound.value > low.value or (bound.value == low.value and not inclusive):
                low = bound
        elif high is None or bound.value < high.value or (bound.value == high.value and not inclusive):
            high = bound
    return low, high


def _integer_bounds(low: Bound | None, high: Bound | None) -> tuple[int | None, int | None]:
    first = None
    if low is not None:
        first = math.ceil(low.value) if low.inclusive else math.floor(low.value) + 1
    last = None
    if high is not None:
        last = math.floor(high.value) if high.inclusive else math.ceil(high.value) - 1
    return first, last


def _numeral_for(value: Fraction, integer: bool) -> RegexNode:
    """Every positional notation of exactly ``value`` (``2``, ``2.0``, ``-0.50`` ...)."""
    bound = Bound(value, True)
    node = value_range(bound, bound)
    return node if not integer else concat([integer_node(value.numerator, value.numerator)])


def integer_node(first: int | None, last: int | None) -> RegexNode:
    """Integral values in ``[first, last]`` written ``-?digits`` optionally with ``.0+``."""
    low = None if first is None else Bound(Fraction(first), True)
    high = None if last is None else Bound(Fraction(last), True)
    zeros = repeat(concat([literal("."), repeat(literal("0"), 1, None)]), 0, 1)
    options: list[RegexNode] = []
    if first is None or first <= 0:
        magnitude_low = max(0, -last) if last is not None and last <= 0 else 0
        magnitude_high = None if first is None else -first
        options.append(concat([literal("-"), integer_range(magnitude_low, magnitude_high)]))
    if last is None or last >= 0:
        options.append(integer_range(max(first or 0, 0), last))
    del low, high
    return concat([alternation(options), zeros])


def _suffix_multiples(divisor: int) -> RegexNode | None:
    """Unbounded integers divisible by ``divisor = 2**a * 5**b``: a condition on the last digits."""
    rest, twos, fives = divisor, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return None
    width = max(twos, fives)
    if width > 3:
        return None
    short = [literal(str(value)) for value in range(0, 10**width) if value % divisor == 0]
    endings = [literal(f"{value:0{width}d}") for value in range(0, 10**width) if value % divisor == 0]
    long = concat([integer_range(1, None), alternation(endings)]) if width else integer_range(0, None)
    magnitude = alternation([*short, long]) if width else long
    zeros = repeat(concat([literal("."), repeat(literal("0"), 1, None)]), 0, 1)
    return concat([repeat(literal("-"), 0, 1), magnitude, zeros])


def number_node(schema: dict, integer: bool, zero_fraction: bool = True) -> RegexNode:
    """The numerals an ``integer`` (``integer=True``) or ``number`` schema accepts.

    ``zero_fraction``: whether an unbounded ``integer`` may be written ``3.0`` (draft 6 on; a
    draft-4 document's integers are numerals without a fraction).
    """
    node = _numerals(schema, integer, zero_fraction)
    excluded = schema.get(NOT_MULTIPLES)
    if not excluded:
        return node
    if not isinstance(excluded, list):
        raise NumberError(f"{NOT_MULTIPLES} must be a list of steps", NOT_MULTIPLES)
    steps = [_positive_step(value, NOT_MULTIPLES) for value in excluded]
    for step in steps:
        _check_residue_states(step, NOT_MULTIPLES)
    return intersection(node, non_multiples(steps))


def _numerals(schema: dict, integer: bool, zero_fraction: bool) -> RegexNode:
    """`number_node` without `NOT_MULTIPLES`."""
    low, high = _bounds(schema)
    divisor_raw = schema.get("multipleOf")
    if divisor_raw is not None:
        divisor = _positive_step(divisor_raw, "multipleOf")
        return _multiples(divisor, low, high, integer, zero_fraction)
    if integer:
        if low is None and high is None:
            return any_integer(zero_fraction)
        first, last = _integer_bounds(low, high)
        if first is not None and last is not None and first > last:
            return NOTHING
        return integer_node(first, last)
    if low is None and high is None:
        return any_number()
    return alternation([value_range(low, high), *tiny_exponent_numerals(low, high)])


TINY = Fraction(1, 10_000)
"""``d(.d+)?e-NN`` with ``NN >= 5`` has a magnitude in (0, TINY)."""


def tiny_exponent_numerals(low: Bound | None, high: Bound | None) -> list[RegexNode]:
    """``[-]d(.d+)?[eE]-NN`` (``NN >= 5``, leading zeros allowed) when the bounds hold them all.

    Positive ones lie in (0, TINY): all in range iff ``low <= 0`` and ``high >= TINY``;
    negative ones lie in (-TINY, 0): iff ``low <= -TINY`` and ``high >= 0``.
    """
    mantissa = concat([NONZERO_DIGIT, repeat(concat([literal("."), repeat(DIGIT, 1, None)]), 0, 1)])
    at_least_five = alternation([decimal_digits(5, 9), concat([NONZERO_DIGIT, repeat(DIGIT, 1, None)])])
    exponent = concat(
        [
            alternation([literal("e"), literal("E")]),
            literal("-"),
            repeat(literal("0"), 0, None),
            at_least_five,
        ]
    )
    tiny = concat([mantissa, exponent])
    forms: list[RegexNode] = []
    if (low is None or low.value <= 0) and (high is None or high.value >= TINY):
        forms.append(tiny)
    if (low is None or low.value <= -TINY) and (high is None or high.value >= 0):
        forms.append(concat([literal("-"), tiny]))
    return forms


def _decimal_places(step: Fraction) -> int | None:
    """``k`` when ``step`` is ``10**-k`` (``multipleOf: 0.01``), else None."""
    if step.numerator != 1:
        return None
    places, rest = 0, step.denominator
    while rest % 10 == 0:
        rest //= 10
        places += 1
    return places if rest == 1 else None


def _decimal_multiples(places: int, low: Bound | None, high: Bound | None) -> RegexNode:
    """Multiples of ``10**-places``: numerals with at most ``places`` fractional digits before
    trailing zeros (``1.25``, ``1.2500``, ``3``), within the bounds (an intersection of automata
    when bounded).  Exponent forms (``125e-2``) are not produced: a subset, never a superset."""
    fraction = concat([literal("."), repeat(DIGIT, 1, places), repeat(literal("0"), 0, None)])
    numerals = concat([MINUS, INTEGER_DIGITS, repeat(fraction, 0, 1)])
    if low is None and high is None:
        return numerals
    return intersection(value_range(low, high), numerals)


def _positive_step(value: object, keyword: str) -> Fraction:
    step = _to_fraction(value, keyword)
    if step <= 0:
        raise NumberError(f"{keyword} must be > 0", keyword)
    return step


def _check_residue_states(step: Fraction, keyword: str, divisor: Fraction | None = None) -> None:
    states = residue_states(step)
    if states > MAX_RESIDUE_STATES:
        what = f"multipleOf {_spelled(step)}"
        if divisor is not None and divisor != step:
            what = f"multipleOf {_spelled(divisor)} on integers (multiples of {_spelled(step)})"
        raise NumberError(
            f"{what} needs a residue automaton of {states:,} states (more than {MAX_RESIDUE_STATES:,})",
            keyword,
            unsupported=True,
        )


def _spelled(value: Fraction) -> str:
    """``value`` as a decimal where one is exact (``0.123456789``), else as a fraction."""
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    return str(decimal) if Fraction(decimal) == value else str(value)


def _multiples(
    divisor: Fraction, low: Bound | None, high: Bound | None, integer: bool, zero_fraction: bool = True
) -> RegexNode:
    step = divisor
    if integer:  # multiples of the divisor that are also integers: multiples of lcm(p/q, 1) = p
        step = Fraction(divisor.numerator)
    decimals = _decimal_places(step)
    if decimals is not None and decimals > 0:
        return _decimal_multiples(decimals, low, high)
    if low is not None and high is not None:
        first = math.ceil(low.value / step)
        if not low.inclusive and first * step == low.value:
            first += 1
        last = math.floor(high.value / step)
        if not high.inclusive and last * step == high.value:
            last -= 1
        if first > last:
            return NOTHING
        if last - first + 1 <= MAX_ENUMERATED_MULTIPLES:
            return alternation(_numeral_for(k * step, integer) for k in range(first, last + 1))
    if (
        step.denominator == 1
        and (low is None or (low.value <= 0 and integer))
        and high is None
        and low is None
    ):
        node = _suffix_multiples(step.numerator)
        if node is not None:
            return node
    if step == 1 and not integer:
        first, last = _integer_bounds(low, high)
        return integer_node(first, last)
    _check_residue_states(step, "multipleOf", divisor)
    node = multiples(step)
    if integer:
        node = intersection(any_integer(zero_fraction), node)
    if low is not None or high is not None:
        node = intersection(value_range(low, high), node)
    return node
