"""Plain JSON numerals whose value is a multiple of a rational step: a residue automaton.

Why: ``multipleOf: 7`` (or 30, or 1.5) over an unbounded or wide range has no small regex.
Enumerating multiples only works for a few thousand of them, and a condition on the last
digits only for steps ``2**a * 5**b``.  The numerals divisible by ``K`` are still regular:
read left to right, a numeral's value modulo ``K`` is a function of the previous residue and
the next digit (``r -> (10 r + d) mod K``), so a DFA whose states are residues recognises them.

A rational step ``p/q`` is reduced to that case.  A finite decimal that is a multiple of
``p/q`` is a multiple of ``p/q25``, where ``q25`` is the largest divisor of ``q`` of the form
``2**a * 5**b`` (the rest of ``q`` must divide the multiplier for the decimal to terminate).
Such multiples have at most ``F = max(a, b)`` significant fractional digits, and ``x`` is one
iff ``x * 10**F`` is an integer divisible by ``K = p * 10**F / q25``.  The automaton reads the
integer digits and up to ``F`` fractional digits into the residue; beyond them only zeros may
follow; it accepts where the residue, scaled by the fractional digits still missing, is 0.

The language is the multiples among the *plain* numerals ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?``:
exponent notation (``21e0``) is not produced.  Every JSON number has a plain spelling, so every
multiple is reachable and no non-multiple is: an under-approximation of spellings only, as for
bounded numbers (`numbers`).  `non_multiples` is the complement within the same plain numerals
(the complement of ``multipleOf``, and of ``integer`` inside ``number``, for ``not`` and
``oneOf``); being computed against plain numerals, it never admits an exponent spelling of a
multiple.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.automata.dfa import minimize_byte_dfa
from automask.compiler.json_schema.json_ast import PLAIN_NUMERALS
from automask.compiler.limits import CompileLimits
from automask.compiler.regex.ast import RegexNode, TaggedNode, alternation, difference

MAX_RESIDUE_STATES = 20_000
"""Most states a residue automaton may have before minimisation (``multipleOf`` beyond that
is refused as unsupported, naming the keyword)."""

_DIGITS = np.arange(10, dtype=np.int64)
_DIGIT_BYTES = np.arange(ord("0"), ord("9") + 1)


def residue_modulus(step: Fraction) -> tuple[int, int]:
    """``(K, F)``: a finite decimal ``x`` is a multiple of ``step`` iff ``x * 10**F`` is an
    integer divisible by ``K`` (see the module docstring)."""
    if step <= 0:
        raise ValueError("the step of a multiple must be positive")
    rest, twos, fives = step.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    places = max(twos, fives)
    decimal_part = step.denominator // rest  # q25
    return step.numerator * 10**places // decimal_part, places


def residue_states(step: Fraction) -> int:
    """States of the automaton for ``step`` before minimisation (`residue_table`)."""
    modulus, places = residue_modulus(step)
    return 3 + (2 + max(places, 1)) * modulus


class Multiples(TaggedNode):
    """The plain numerals whose value is a multiple of ``step`` (a `Fraction`), as a tagged
    node: `ast_to_dfa` builds it with `build_dfa`; no regex spells it, so ``items`` (read only
    by walkers that need a plain regex) refuses."""

    __slots__ = ("step",)

    def __init__(self, step: Fraction) -> None:
        object.__setattr__(self, "step", Fraction(step))

    @property
    def items(self) -> tuple[RegexNode, ...]:  # type: ignore[override]
        raise TypeError(f"{self!r} has no plain regex (a residue automaton)")

    @property
    def tag(self) -> Fraction:
        return self.step

    def mentions(self, code: int) -> bool:
        """Whether a string of the language can hold the character ``code`` (its alphabet is
        the plain numerals')."""
        return chr(code) in "-.0123456789"

    def build_dfa(self, limits: CompileLimits) -> ByteDFA:
        transitions, accepting = residue_table(self.step)
        return minimize_byte_dfa(ByteDFA(transitions, accepting, 0))


def multiples(step: Fraction) -> RegexNode:
    """The plain numerals that are multiples of ``step`` (`Multiples`)."""
    return Multiples(step)


def non_multiples(steps: list[Fraction]) -> RegexNode:
    """The plain numerals that are a multiple of none of ``steps``."""
    return difference(PLAIN_NUMERALS, alternation([Multiples(step) for step in steps]))


def residue_table(step: Fraction) -> tuple[np.ndarray, np.ndarray]:
    """``(transitions int32 [n, 256], accepting bool [n])`` of the residue automaton (start 0),
    untrimmed: states that can no longer accept are left for minimisation to drop.

    States: 0 start, 1 after ``-``, 2 after an integer part ``0``; then blocks of ``K``
    residues: the integer part (``INT``), right after ``.`` (``DOT``), and after ``f``
    fractional digits for ``f = 1 .. F`` (``FRAC_f``; with ``F = 0``, one block of trailing
    zeros).  The residue is that of the digits read so far, as one integer.
    """
    modulus, places = residue_modulus(step)
    count = residue_states(step)
    residues = np.arange(modulus, dtype=np.int64)
    integer_part = 3
    after_dot = integer_part + modulus
    fraction = after_dot + modulus  # block f (1-based) starts at fraction + (f - 1) * K
    table = np.full((count, 256), DEAD, dtype=np.int32)
    accepting = np.zeros(count, dtype=np.bool_)

    # Start and sign: '-' once, then "0" or a non-zero leading digit.
    for state in (0, 1):
        table[state, ord("0")] = 2
        table[state, _DIGIT_BYTES[1:]] = integer_part + (_DIGITS[1:] % modulus)
    table[0, ord("-")] = 1
    accepting[2] = True
    table[2, ord(".")] = after_dot  # residue 0
    # Integer part: r -> 10 r + d; '.' keeps the residue.
    following = (10 * residues[:, None] + _DIGITS[None, :]) % modulus  # [K, 10]
    table[integer_part + residues[:, None], _DIGIT_BYTES[None, :]] = integer_part + following
    table[integer_part + residues, ord(".")] = after_dot + residues
    accepting[integer_part + residues] = (residues * 10**places) % modulus == 0
    if places == 0:  # only zeros after the point: the value is the integer part's
        zeros = fraction
        table[after_dot + residues, ord("0")] = zeros + residues
        table[zeros + residues, ord("0")] = zeros + residues
        accepting[zeros + residues] = residues == 0
        return table, accepting
    table[after_dot + residues[:, None], _DIGIT_BYTES[None, :]] = fraction + following
    for read in range(1, places + 1):
        block = fraction + (read - 1) * modulus
        accepting[block + residues] = (residues * 10 ** (places - read)) % modulus == 0
        if read < places:
            table[block + residues[:, None], _DIGIT_BYTES[None, :]] = block + modulus + following
        else:  # every significant digit read: only trailing zeros may follow
            table[block + residues, ord("0")] = block + residues
    return table, accepting


def is_multiple_reference(text: str, step: Fraction) -> bool:
    """Pure-Python specification: whether the plain numeral ``text`` is a multiple of ``step``."""
    return (Fraction(text) / step).denominator == 1
