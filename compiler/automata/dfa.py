"""Byte NFA -> minimal `ByteDFA`: subset construction, trimming, Hopcroft minimisation.

Alphabet compression: the 256 bytes are first grouped into *classes* of bytes that no NFA
edge distinguishes (cut points at every edge's ``low`` and ``high + 1``).  Determinisation
and minimisation run over class ids, and only the final table is expanded to 256 columns
with one numpy gather (``table[:, class_of_byte]``).

Intermediate layout: a *class DFA* is ``(table, accepting, start)`` with ``table`` int32
``[num_states, num_classes]`` (``DEAD`` = -1 for no transition) plus ``class_of_byte``
int ``[256]``.

``CompileLimits.max_dfa_states`` is enforced while subset states are created.

Hot loops (co-reachability for trimming, Hopcroft refinement, breadth-first renumbering)
run in numba kernels (`_kernels`); their pure-Python references live here
(`live_states_reference`, `minimize_reference`, `breadth_first_order_reference`) and the
tests compare the two.  Every produced `ByteDFA` is *canonically numbered*
(`canonical_numbering`): breadth-first from the start (state 0), successors in increasing
byte order -- so the tables depend only on the language, not on the construction path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.automata._kernels import (
    breadth_first_order,
    co_reachable,
    epsilon_closures,
    equal_column_classes,
    hopcroft_blocks,
    minimal_byte_table,
    reverse_edges,
    subset_construction,
)
from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.automata.nfa import NFA
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.errors import EmptyLanguage


@dataclass(frozen=True, eq=False)
class ClassDFA:
    """A DFA over byte classes; see the module docstring for the layout."""

    table: np.ndarray
    accepting: np.ndarray
    start: int
    class_of_byte: np.ndarray

    @property
    def num_states(self) -> int:
        return int(self.table.shape[0])

    def to_byte_dfa(self) -> ByteDFA:
        transitions = np.ascontiguousarray(self.table[:, self.class_of_byte], dtype=np.int32)
        return ByteDFA(transitions, self.accepting.astype(bool, copy=True), self.start)


def byte_classes(nfa: NFA) -> np.ndarray:
    """``class_of_byte[b]``: the class id of byte ``b``; bytes in one class are interchangeable."""
    cuts = np.zeros(257, dtype=bool)
    cuts[nfa.edge_low] = True
    cuts[nfa.edge_high + 1] = True
    cuts[0] = False
    return np.cumsum(cuts[:256]).astype(np.intp)


def determinize(nfa: NFA, limits: CompileLimits = DEFAULT_LIMITS) -> ClassDFA:
    """Subset construction over byte classes (numba: `_kernels.epsilon_closures` and
    `_kernels.subset_construction`); DFA states are numbered in discovery order.

    The NFA's edge arrays are sorted into CSR form first.  Reference: `determinize_reference`
    (its numbering may differ; the minimal, canonically numbered DFAs are equal).
    """
    class_of_byte = byte_classes(nfa)
    num_classes = int(class_of_byte[-1]) + 1
    num_states = nfa.num_states
    eps_order = np.argsort(nfa.eps_source, kind="stable")
    eps_offsets = np.zeros(num_states + 1, dtype=np.int64)
    np.cumsum(np.bincount(nfa.eps_source, minlength=num_states), out=eps_offsets[1:])
    eps_targets = np.ascontiguousarray(nfa.eps_target[eps_order], dtype=np.int32)
    edge_order = np.argsort(nfa.edge_source, kind="stable")
    edge_counts = np.bincount(nfa.edge_source, minlength=num_states)
    edge_offsets = np.zeros(num_states + 1, dtype=np.int64)
    np.cumsum(edge_counts, out=edge_offsets[1:])
    important = edge_counts > 0
    important[nfa.accept] = True
    closure_offsets, closure_states = epsilon_closures(eps_offsets, eps_targets, important)
    table, accepting = subset_construction(
        closure_offsets, closure_states, edge_offsets,
        class_of_byte[nfa.edge_low[edge_order]].astype(np.int32),
        class_of_byte[nfa.edge_high[edge_order]].astype(np.int32),
        np.ascontiguousarray(nfa.edge_target[edge_order], dtype=np.int32),
        nfa.start, nfa.accept, num_classes, limits.max_dfa_states,
    )  # fmt: skip
    if table.shape[0] == 0:
        limits.check("max_dfa_states", limits.max_dfa_states + 1)
    return ClassDFA(table, accepting, 0, class_of_byte)


def determinize_reference(nfa: NFA, limits: CompileLimits = DEFAULT_LIMITS) -> ClassDFA:
    """Pure-Python reference of `determinize`: the subset construction over frozensets."""
    class_of_byte = byte_classes(nfa)
    num_classes = int(class_of_byte[-1]) + 1
    closures = nfa.epsilon_closures()
    # moves[s]: for NFA state s, class id -> union of the closures of its targets on that class.
    moves: list[dict[int, frozenset[int]]] = []
    for edges in nfa.byte_edges:
        grouped_targets: dict[int, frozenset[int]] = {}
        for low, high, target in edges:
            closure = closures[target]
            for cls in range(int(class_of_byte[low]), int(class_of_byte[high]) + 1):
                known = grouped_targets.get(cls)
                grouped_targets[cls] = closure if known is None else known | closure
        moves.append(grouped_targets)

    max_states = limits.max_dfa_states
    start_set = closures[nfa.start]
    state_ids: dict[frozenset[int], int] = {start_set: 0}
    subsets: list[frozenset[int]] = [start_set]
    rows: list[list[int]] = []
    accept = nfa.accept
    index = 0
    while index < len(subsets):
        subset = subsets[index]
        index += 1
        row = [DEAD] * num_classes
        if len(subset) == 1:
            (only,) = subset
            grouped = moves[only]
        else:
            collected: dict[int, list[frozenset[int]]] = {}
            for state in subset:
                for cls, closure in moves[state].items():
                    bucket = collected.get(cls)
                    if bucket is None:
                        collected[cls] = [closure]
                    else:
                        bucket.append(closure)
            grouped = {
                cls: parts[0] if len(parts) == 1 else frozenset().union(*parts)
                for cls, parts in collected.items()
            }
        for cls, target_set in grouped.items():
            target = state_ids.get(target_set)
            if target is None:
                target = len(subsets)
                if target >= max_states:
                    limits.check("max_dfa_states", target + 1)
                state_ids[target_set] = target
                subsets.append(target_set)
            row[cls] = target
        rows.append(row)

    table = np.array(rows, dtype=np.int32).reshape(len(rows), num_classes)
    accepting = np.fromiter((accept in subset for subset in subsets), dtype=bool, count=len(subsets))
    return ClassDFA(table, accepting, 0, class_of_byte)


def live_states(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """bool ``[num_states]``: which states can reach an accepting state (numba kernel)."""
    in_offsets, in_sources, _ = reverse_edges(np.ascontiguousarray(table, dtype=np.int32))
    return co_reachable(in_offsets, in_sources, np.array(accepting, dtype=bool))  # writable copy


def reverse_edges_reference(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pure-Python reference of `_kernels.reverse_edges`: the non-``DEAD`` edges of ``table``
    grouped by target, in CSR form (all int64), in row-major order within each target."""
    num_states = table.shape[0]
    sources, classes = np.nonzero(table != DEAD)
    targets = table[sources, classes].astype(np.int64)
    order = np.argsort(targets, kind="stable")
    offsets = np.searchsorted(targets[order], np.arange(num_states + 1)).astype(np.int64)
    return offsets, sources[order].astype(np.int64), classes[order].astype(np.int64)


def live_states_reference(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Pure-Python reference of `live_states`."""
    num_states = table.shape[0]
    sources, classes = np.nonzero(table != DEAD)
    targets = table[sources, classes]
    order = np.argsort(targets, kind="stable")
    sorted_sources = sources[order].tolist()
    offsets = np.searchsorted(targets[order], np.arange(num_states + 1)).tolist()
    live = accepting.copy()
    stack = np.flatnonzero(accepting).tolist()
    while stack:
        state = stack.pop()
        for source in sorted_sources[offsets[state] : offsets[state + 1]]:
            if not live[source]:
                live[source] = True
                stack.append(source)
    return live


def trim(dfa: ClassDFA) -> ClassDFA:
    """Remove states that cannot reach acceptance (their transitions become ``DEAD``).

    Raises `EmptyLanguage` if the start state itself is dead.
    """
    live = live_states(dfa.table, dfa.accepting)
    if not live[dfa.start]:
        raise EmptyLanguage("the pattern matches no string (its language is empty)")
    if live.all():
        return dfa
    new_id = np.full(dfa.num_states + 1, DEAD, dtype=np.int32)  # index -1 (DEAD) -> DEAD
    kept = np.flatnonzero(live)
    new_id[kept] = np.arange(len(kept), dtype=np.int32)
    table = new_id[dfa.table[kept]]
    return ClassDFA(table, dfa.accepting[kept], int(new_id[dfa.start]), dfa.class_of_byte)


def merge_equivalent_classes(dfa: ClassDFA) -> ClassDFA:
    """Merge byte classes whose columns are identical in the table (fewer letters to refine).

    Merged classes are numbered by first occurrence (`_kernels.equal_column_classes`).
    """
    table = np.ascontiguousarray(dfa.table, dtype=np.int32)
    inverse = equal_column_classes(table)
    num_merged = int(inverse.max()) + 1 if inverse.shape[0] else 0
    if num_merged == table.shape[1]:
        return dfa
    kept = np.full(num_merged, table.shape[1], dtype=np.int64)
    np.minimum.at(kept, inverse, np.arange(table.shape[1]))
    return ClassDFA(
        np.ascontiguousarray(table[:, kept]), dfa.accepting, dfa.start, inverse[dfa.class_of_byte]
    )


def merge_equivalent_classes_reference(dfa: ClassDFA) -> ClassDFA:
    """Pure-Python reference of `merge_equivalent_classes` (columns compared by their bytes)."""
    columns = np.ascontiguousarray(dfa.table.T)
    first_class: dict[bytes, int] = {}
    inverse = np.empty(columns.shape[0], dtype=np.intp)
    kept: list[int] = []
    for cls in range(columns.shape[0]):
        found = first_class.setdefault(columns[cls].tobytes(), len(kept))
        if found == len(kept):
            kept.append(cls)
        inverse[cls] = found
    if len(kept) == columns.shape[0]:
        return dfa
    table = np.ascontiguousarray(dfa.table[:, kept], dtype=np.int32)
    return ClassDFA(table, dfa.accepting, dfa.start, inverse[dfa.class_of_byte])


def minimize(dfa: ClassDFA) -> ClassDFA:
    """Hopcroft partition refinement on a trimmed DFA, in the numba kernel.

    Same partition as `minimize_reference` (its pure-Python reference): the initial blocks
    are acceptance plus the set of ``DEAD`` classes, so edges into ``DEAD`` are left out of
    the reverse edge lists and the sink is never a splitter.
    """
    dfa = merge_equivalent_classes(dfa)
    num_states, num_classes = dfa.table.shape
    table = dfa.table
    in_offsets, in_sources, in_classes = reverse_edges(np.ascontiguousarray(table, dtype=np.int32))

    initial = _initial_partition(dfa)
    num_blocks = int(initial.max()) + 1
    largest = int(np.argmax(np.bincount(initial, minlength=num_blocks)))
    block_of = hopcroft_blocks(initial, num_blocks, in_offsets, in_sources, in_classes, num_classes, largest)
    sink = np.empty((num_states + 1, num_classes), dtype=np.int64)
    sink[:num_states] = table
    sink[num_states] = num_states
    sink[sink == DEAD] = num_states
    return _quotient(dfa, sink, np.append(block_of, block_of.max() + 1))


def _initial_partition(dfa: ClassDFA) -> np.ndarray:
    """int64 ``[num_states]``: block ids by (accepting, set of DEAD classes), ids ``0..k-1``."""
    signature = np.concatenate([dfa.accepting[:, None], dfa.table == DEAD], axis=1)
    packed = np.packbits(signature, axis=1)
    width = -(-packed.shape[1] // 8) * 8
    padded = np.zeros((packed.shape[0], width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words = padded.view(np.uint64)
    if words.shape[1] == 1:
        _, initial = np.unique(words[:, 0], return_inverse=True)
    else:
        _, initial = np.unique(words, axis=0, return_inverse=True)
    return np.asarray(initial, dtype=np.int64).reshape(-1)


def minimize_reference(dfa: ClassDFA) -> ClassDFA:
    """Pure-Python Hopcroft partition refinement on a trimmed DFA (reference for `minimize`).

    ``DEAD`` is modelled as an explicit sink state (id ``num_states``) in its own initial
    block; since every other state is live, nothing else is ever equivalent to it.  Work per
    splitter is proportional to the in-degree of its states (an inverse edge list), not to
    ``num_classes * block size``.
    """
    dfa = merge_equivalent_classes_reference(dfa)
    num_states, num_classes = dfa.table.shape
    sink = num_states
    full = np.empty((num_states + 1, num_classes), dtype=np.int64)
    full[:num_states] = dfa.table
    full[num_states] = sink
    full[full == DEAD] = sink

    # incoming[t]: (class, source) pairs of the edges entering t, as two parallel lists.
    targets = full.reshape(-1)
    order = np.argsort(targets, kind="stable")
    offsets = np.searchsorted(targets[order], np.arange(num_states + 2)).tolist()
    edge_sources = (order // num_classes).tolist()
    edge_classes = (order % num_classes).tolist()

    # Initial partition: states with the same acceptance and the same set of DEAD classes.
    # This is exactly the split by the sink for every class, so the sink (whose in-degree is
    # huge) never needs to be a splitter: it stays out of ``pending``.
    signature = np.concatenate([dfa.accepting[:, None], dfa.table == DEAD], axis=1)
    _, initial = np.unique(signature, axis=0, return_inverse=True)
    initial = np.asarray(initial).reshape(-1)
    block_of = initial.tolist() + [int(initial.max()) + 1]
    blocks: list[set[int]] = [set() for _ in range(block_of[-1] + 1)]
    for state, block_id in enumerate(block_of):
        blocks[block_id].add(state)
    live_blocks = range(len(blocks) - 1)
    largest = max(live_blocks, key=lambda b: len(blocks[b]))
    pending = [b for b in live_blocks if b != largest]
    in_pending = set(pending)

    while pending:
        splitter_id = pending.pop()
        in_pending.discard(splitter_id)
        sources_by_class: dict[int, list[int]] = {}
        for target in blocks[splitter_id]:
            for edge in range(offsets[target], offsets[target + 1]):
                cls = edge_classes[edge]
                sources = sources_by_class.get(cls)
                if sources is None:
                    sources_by_class[cls] = [edge_sources[edge]]
                else:
                    sources.append(edge_sources[edge])
        for sources in sources_by_class.values():
            touched: dict[int, list[int]] = {}
            for source in sources:
                members = touched.get(block_of[source])
                if members is None:
                    touched[block_of[source]] = [source]
                else:
                    members.append(source)
            for block_id, members in touched.items():
                block = blocks[block_id]
                if len(members) == len(block):
                    continue
                moved = set(members)
                block -= moved
                new_id = len(blocks)
                blocks.append(moved)
                for state in moved:
                    block_of[state] = new_id
                if block_id in in_pending or len(moved) <= len(block):
                    pending.append(new_id)
                    in_pending.add(new_id)
                else:
                    pending.append(block_id)
                    in_pending.add(block_id)

    return _quotient(dfa, full, np.array(block_of, dtype=np.int64))


def _quotient(dfa: ClassDFA, full: np.ndarray, block_of: np.ndarray) -> ClassDFA:
    """The DFA over blocks: the start's block becomes state 0 and the sink's block ``DEAD``."""
    num_states = dfa.num_states
    sink_block = int(block_of[num_states])
    start_block = int(block_of[dfa.start])
    num_blocks = int(block_of.max()) + 1
    # Number blocks by their first member, start block first, sink block last.
    first_member = np.full(num_blocks, num_states + 1, dtype=np.int64)
    np.minimum.at(first_member, block_of, np.arange(num_states + 1))
    rank = first_member.copy()
    rank[start_block] = -1
    rank[sink_block] = num_states + 2
    block_order = np.argsort(rank, kind="stable")
    new_id = np.empty(num_blocks, dtype=np.int32)
    new_id[block_order] = np.arange(num_blocks, dtype=np.int32)
    new_id[sink_block] = DEAD
    representatives = first_member[block_order[:-1]]
    table = new_id[block_of[full[representatives]]]
    accepting = dfa.accepting[representatives].astype(bool)
    return ClassDFA(np.ascontiguousarray(table, dtype=np.int32), accepting, 0, dfa.class_of_byte)


_IDENTITY = np.arange(256)
_IDENTITY.setflags(write=False)


def canonical_numbering(dfa: ClassDFA) -> ClassDFA:
    """Renumber states breadth-first from the start, successors in increasing *byte* order.

    The numbering then depends only on the language (for a minimal DFA), never on how the
    automaton was built, so every construction path gives identical tables.  Classes are
    visited in the order of their smallest byte, which visits targets in byte order.
    Unreachable states are dropped.
    """
    num_classes = dfa.table.shape[1]
    if num_classes == 256 and np.array_equal(dfa.class_of_byte, _IDENTITY):
        ordered = np.ascontiguousarray(dfa.table, dtype=np.int32)  # one class per byte, in order
    else:
        first_byte = np.full(num_classes, 256, dtype=np.int64)
        np.minimum.at(first_byte, dfa.class_of_byte, np.arange(256))
        class_order = np.argsort(first_byte, kind="stable")
        ordered = np.ascontiguousarray(dfa.table[:, class_order], dtype=np.int32)
    kept = breadth_first_order(ordered, dfa.start, dfa.num_states)
    if kept.shape[0] == dfa.num_states and (kept == np.arange(dfa.num_states)).all():
        return dfa
    new_id = np.full(dfa.num_states + 1, DEAD, dtype=np.int32)  # index -1 (DEAD) -> DEAD
    new_id[kept] = np.arange(kept.shape[0], dtype=np.int32)
    table = new_id[dfa.table[kept]]
    return ClassDFA(np.ascontiguousarray(table, dtype=np.int32), dfa.accepting[kept], 0, dfa.class_of_byte)


def breadth_first_order_reference(table: np.ndarray, start: int) -> np.ndarray:
    """Pure-Python reference of `_kernels.breadth_first_order`."""
    rows = table.tolist()
    order = [start]
    seen = {start}
    index = 0
    while index < len(order):
        for target in rows[order[index]]:
            if target != DEAD and target not in seen:
                seen.add(target)
                order.append(target)
        index += 1
    return np.array(order, dtype=np.int64)


def nfa_to_dfa(nfa: NFA, limits: CompileLimits = DEFAULT_LIMITS) -> ByteDFA:
    """Determinise, trim and minimise ``nfa`` into a canonically numbered `ByteDFA`."""
    return minimize_class_dfa(determinize(nfa, limits))


def minimize_byte_dfa(dfa: ByteDFA) -> ByteDFA:
    """Minimise an existing `ByteDFA` (trimming first), canonically numbered.

    Used to check minimality and to minimise DFAs composed by `automask.compiler.regex.compose`.
    Identical byte columns are merged into classes first, so the later passes see a narrow table.
    """
    identity = np.arange(256, dtype=np.intp)
    class_dfa = ClassDFA(
        np.asarray(dfa.transitions, dtype=np.int32), dfa.accepting.copy(), dfa.start, identity
    )
    return minimize_class_dfa(class_dfa)


def minimize_class_dfa(dfa: ClassDFA) -> ByteDFA:
    """Trim, minimise and canonically number a DFA over byte classes (`minimize_byte_dfa`).

    One kernel call (`_kernels.minimal_byte_table`); `minimize_class_dfa_reference`, the same
    passes one numpy step at a time, is its specification.  Raises `EmptyLanguage` when no
    string is accepted.
    """
    transitions, accepting = minimal_byte_table(
        np.ascontiguousarray(dfa.table, dtype=np.int32),
        np.ascontiguousarray(dfa.accepting, dtype=np.bool_),
        int(dfa.start),
        np.ascontiguousarray(dfa.class_of_byte, dtype=np.int64),
    )
    if transitions.shape[0] == 0:
        raise EmptyLanguage("the pattern matches no string (its language is empty)")
    return ByteDFA(transitions, accepting, 0)


def minimize_class_dfa_reference(dfa: ClassDFA) -> ByteDFA:
    """`minimize_class_dfa` as separate passes: trim, merge identical columns, Hopcroft
    (`minimize`), canonical numbering, one column per byte."""
    return canonical_numbering(minimize(trim(merge_equivalent_classes(dfa)))).to_byte_dfa()
