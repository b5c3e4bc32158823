"""Products of byte DFAs (`compiler.automata.product`): the numba kernel against its pure-Python
reference, and the minimised product against the language it must have (checked by brute force
on every short string over a small alphabet)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.automata.product import product_dfa, product_states, product_states_reference
from automask.compiler.limits import CompileLimits
from automask.compiler.regex import regex_to_dfa
from automask.errors import CompileLimitExceeded, EmptyLanguage

LIMITS = CompileLimits()
PATTERNS = ["(ab|a)*", "a?b+", "[ab]{2,3}", "b*", "(aa|bb)+a?", "a(ba)*", "", "[abc]*c"]


def _random_dfa(rng: random.Random, states: int) -> ByteDFA:
    """A random (not minimal, possibly partly dead) DFA over the bytes ``a b c``."""
    table = np.full((states, 256), -1, dtype=np.int32)
    for state in range(states):
        for byte in b"abc":
            if rng.random() < 0.7:
                table[state, byte] = rng.randrange(states)
    accepting = np.array([rng.random() < 0.4 for _ in range(states)], dtype=bool)
    return ByteDFA(table, accepting, 0)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mode", ["intersection", "difference", "union"])
def test_kernel_matches_the_reference(seed: int, mode: str) -> None:
    rng = random.Random(seed)
    a, b = _random_dfa(rng, rng.randint(1, 7)), _random_dfa(rng, rng.randint(1, 7))
    table, accepting = product_states(a, b, mode, LIMITS)
    expected_table, expected_accepting = product_states_reference(a, b, mode)
    assert np.array_equal(table, expected_table)
    assert np.array_equal(accepting, expected_accepting)


@pytest.mark.parametrize(("left", "right"), list(itertools.combinations(PATTERNS, 2)))
@pytest.mark.parametrize("mode", ["intersection", "difference", "union"])
def test_product_has_the_combined_language(left: str, right: str, mode: str) -> None:
    a, b = regex_to_dfa(left), regex_to_dfa(right)
    words = [bytes(w) for n in range(6) for w in itertools.product(b"abc", repeat=n)]
    expected = {
        w
        for w in words
        if {
            "intersection": a.matches(w) and b.matches(w),
            "difference": a.matches(w) and not b.matches(w),
            "union": a.matches(w) or b.matches(w),
        }[mode]
    }
    if not expected and mode != "union":
        # Short strings all fail: the language may still be non-empty; check the call agrees.
        try:
            dfa = product_dfa(a, b, mode, LIMITS)
        except EmptyLanguage:
            return
        assert not any(dfa.matches(w) for w in words)
        return
    dfa = product_dfa(a, b, mode, LIMITS)
    assert {w for w in words if dfa.matches(w)} == expected


def test_empty_product_and_limits_are_typed_errors() -> None:
    with pytest.raises(EmptyLanguage):
        product_dfa(regex_to_dfa("a+"), regex_to_dfa("b+"), "intersection", LIMITS)
    with pytest.raises(CompileLimitExceeded) as raised:
        product_dfa(
            regex_to_dfa("[ab]{0,40}"),
            regex_to_dfa("(a|b)*a[ab]{5}"),
            "intersection",
            CompileLimits(max_dfa_states=20),
        )
    assert raised.value.limit == "max_dfa_states"


def test_equal_products_are_built_once_per_top_level_call(monkeypatch) -> None:
    """`built.built_dfa`: inside one `ast_to_dfa` call, equal `Product` nodes (``anyOf``
    branches repeat them) share one automaton; empty ones raise again; nothing outlives it."""
    from automask.compiler.regex import ast_to_dfa, parse_regex
    from automask.compiler.regex.ast import Product, alternation, concat, difference, intersection, literal

    calls: list[Product] = []
    original = Product.build_dfa

    def counting(self, limits):
        calls.append(self)
        return original(self, limits)

    monkeypatch.setattr(Product, "build_dfa", counting)
    inner = lambda: intersection(parse_regex("[a-c]+"), parse_regex("a.*"))  # noqa: E731 - a fresh equal node each time
    empty = lambda: intersection(literal("x"), literal("y"))  # noqa: E731
    node = alternation([concat([literal(str(i)), inner(), empty()]) for i in range(5)] + [inner()])
    dfa = ast_to_dfa(node)
    assert len(calls) == 2  # one product with strings, one empty: each built once
    assert dfa.matches(b"ab") and not dfa.matches(b"0ab") and not dfa.matches(b"ba")
    ast_to_dfa(node)
    assert len(calls) == 4  # a new top-level call builds them again
    with pytest.raises(EmptyLanguage):
        ast_to_dfa(difference(literal("x"), literal("x")))
