"""Products of byte DFAs: intersection, difference and union without an NFA.

Why: some languages are much cheaper as a product of two small automata than as a regex.
The JSON-Schema key "any string other than these names" is the product of the generic JSON
string DFA (22 states) and the DFA of the names' spellings (a trie), while its regex, in
which every character of every name has its escaped spellings, took the general Thompson +
subset path hundreds of milliseconds.  The product runs in one numba kernel
(`_kernels.product_states`, reference `product_states_reference`) and is then minimised
and canonically numbered like every other DFA, so equal languages give equal tables.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from automask.compiler.automata import _kernels
from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.automata.dfa import ClassDFA, minimize_class_dfa
from automask.compiler.limits import CompileLimits
from automask.errors import CompileLimitExceeded, EmptyLanguage

MAX_PAIR_TABLE = 1 << 24
"""Most ``(a, b)`` pairs the kernel's dense pair -> state table may span (64 MiB of int32)."""

ProductMode = Literal["intersection", "difference", "union"]
_MODES = {
    "intersection": _kernels.PRODUCT_INTERSECTION,
    "difference": _kernels.PRODUCT_DIFFERENCE,
    "union": _kernels.PRODUCT_UNION,
}


def product_dfa(a: ByteDFA, b: ByteDFA, mode: ProductMode, limits: CompileLimits) -> ByteDFA:
    """The minimal DFA of ``L(a) ∩ L(b)``, ``L(a) \\ L(b)`` or ``L(a) ∪ L(b)``.

    Raises `EmptyLanguage` when the result is empty and `CompileLimitExceeded` when the
    reachable product has more than ``limits.max_dfa_states`` states.
    """
    table, accepting, class_of_byte = _product_over_classes(a, b, mode, limits)
    if not accepting.any():
        raise EmptyLanguage("the product of the two automata accepts no string")
    return minimize_class_dfa(ClassDFA(table, accepting, 0, class_of_byte))


def product_states(
    a: ByteDFA, b: ByteDFA, mode: ProductMode, limits: CompileLimits
) -> tuple[np.ndarray, np.ndarray]:
    """The reachable product (not minimised, possibly with dead states): table and accepting."""
    table, accepting, class_of_byte = _product_over_classes(a, b, mode, limits)
    return np.ascontiguousarray(table[:, class_of_byte]), accepting


def _product_over_classes(
    a: ByteDFA, b: ByteDFA, mode: ProductMode, limits: CompileLimits
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reachable product over the bytes' joint classes: ``(table [states, classes],
    accepting, class_of_byte)``.

    Why classes: bytes on which both automata agree everywhere (a key's letters aside, most of
    them) lead to the same pair, so the kernel steps each class once instead of each byte.
    Classes are numbered by their first byte, so pairs are discovered in the same order as a
    byte-by-byte walk and the states are numbered exactly as `product_states_reference`'s.
    """
    code = _MODES[mode]
    pairs = (a.num_states + 1) * (b.num_states + 1)
    if pairs > MAX_PAIR_TABLE:
        raise CompileLimitExceeded(
            "product pair table", pairs, MAX_PAIR_TABLE, hint="the two automata are too large to multiply"
        )
    both = np.concatenate(
        (np.asarray(a.transitions, dtype=np.int32), np.asarray(b.transitions, dtype=np.int32))
    )
    class_of_byte = _kernels.equal_column_classes(both)
    first_byte = np.full(int(class_of_byte.max()) + 1, 256, dtype=np.int64)
    np.minimum.at(first_byte, class_of_byte, np.arange(256))
    a_table = np.ascontiguousarray(both[: a.num_states, first_byte])
    b_table = np.ascontiguousarray(both[a.num_states :, first_byte])
    a_accepting = np.ascontiguousarray(a.accepting, dtype=np.bool_)
    b_accepting = np.ascontiguousarray(b.accepting, dtype=np.bool_)
    capacity = min(a.num_states + b.num_states + 1, limits.max_dfa_states)
    while True:
        table = np.empty((capacity, first_byte.shape[0]), dtype=np.int32)
        accepting = np.empty(capacity, dtype=np.bool_)
        count = int(
            _kernels.product_states(
                a_table, a_accepting, a.start, b_table, b_accepting, b.start, code, table, accepting
            )
        )
        if count > 0:
            return table[:count], accepting[:count], class_of_byte.astype(np.intp)
        limits.check("max_dfa_states", -count)
        capacity = -count


def product_states_reference(a: ByteDFA, b: ByteDFA, mode: ProductMode) -> tuple[np.ndarray, np.ndarray]:
    """Pure-Python reference of `_kernels.product_states` (same numbering, same pruning)."""
    pair_id = {(a.start, b.start): 0}
    pairs = [(a.start, b.start)]
    rows: list[list[int]] = []
    accepting: list[bool] = []
    head = 0
    while head < len(pairs):
        state_a, state_b = pairs[head]
        head += 1
        a_accepts = state_a != DEAD and bool(a.accepting[state_a])
        b_accepts = state_b != DEAD and bool(b.accepting[state_b])
        accepting.append(
            a_accepts and b_accepts
            if mode == "intersection"
            else a_accepts and not b_accepts
            if mode == "difference"
            else a_accepts or b_accepts
        )
        row = []
        for byte in range(256):
            next_a = int(a.transitions[state_a, byte]) if state_a != DEAD else DEAD
            next_b = int(b.transitions[state_b, byte]) if state_b != DEAD else DEAD
            alive = next_a != DEAD or (mode == "union" and next_b != DEAD)
            if mode == "intersection":
                alive = next_a != DEAD and next_b != DEAD
            if not alive:
                row.append(DEAD)
                continue
            pair = (next_a, next_b)
            if pair not in pair_id:
                pair_id[pair] = len(pairs)
                pairs.append(pair)
            row.append(pair_id[pair])
        rows.append(row)
    return np.array(rows, dtype=np.int32).reshape(-1, 256), np.array(accepting, dtype=bool)
