"""Regex AST (over code points) -> byte-level Thompson NFA (over UTF-8 bytes).

``_emit(node, source, target)`` adds paths from ``source`` to ``target`` spelling exactly the
UTF-8 encodings of the strings of ``node``, through *fresh* internal states only; that
invariant makes it safe to pass the same state as source and target (a loop, for ``*``).

- `CharSet`: its UTF-8 byte-range sequences with shared suffixes (the continuation-byte tails
  common to many sequences are built once per occurrence).  The per-set layout is computed
  once per distinct set and instantiated for every occurrence.
- Counted repeats ``x{m,n}`` unroll to ``m`` copies followed by ``n-m`` nested optional
  copies (each copy's entry has an epsilon exit to ``target``), so epsilon closures stay
  small instead of growing quadratically as with ``x?x?x?...``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.automata.nfa import NFA, NFABuilder
from automask.compiler.automata.utf8 import utf8_sequences_for_ranges
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import (
    Alternation,
    CharSet,
    Concat,
    Empty,
    Ranges,
    RegexNode,
    Repeat,
    normalize_ranges,
)
from automask.compiler.regex.built import built_dfa
from automask.errors import EmptyLanguage


@dataclass(frozen=True)
class _CharSetLayout:
    """A char set's byte paths as a template: local state 0 = source, 1 = target, 2.. internal."""

    internal_states: int
    edges: tuple[tuple[int, int, int, int], ...]  # (local source, low, high, local target)


def ast_to_nfa(node: RegexNode, limits: CompileLimits = DEFAULT_LIMITS, *, replicate: bool = True) -> NFA:
    """Build the byte NFA of ``node``; raises `CompileLimitExceeded` past ``max_nfa_states``.

    ``replicate``: write the copies of a counted repeat as shifted copies of the first one's
    edges (`NFABuilder.replicate`); False walks the AST once per copy (the reference the
    tests compare with: both give the same language).
    """
    builder = _Emitter(NFABuilder(limits), replicate)
    start = builder.nfa.add_state()
    accept = builder.nfa.add_state()
    builder.emit(node, start, accept)
    return builder.nfa.finish(start, accept)


MIN_COPIES_TO_REPLICATE = 3
"""Copies of a repeated item below which each is emitted from the AST (the arrays cost more)."""


class _Emitter:
    def __init__(self, nfa: NFABuilder, replicate: bool = True):
        self.nfa = nfa
        self.replicate = replicate
        self.layouts: dict[Ranges, _CharSetLayout] = {}
        self.merged_char_sets: dict[int, Ranges] = {}  # id(Alternation) -> its char sets, merged
        self.dfa_edges: dict[int, tuple[np.ndarray, list[int]]] = {}  # id(ByteDFA) -> `_dfa_edges`
        self.alive: list[object] = []  # keeps the nodes and automata behind those ids alive

    def emit(self, node: RegexNode, source: int, target: int) -> None:
        nfa = self.nfa
        if hasattr(node, "build_dfa"):  # a tagged node or a `Product` (see `ast_to_dfa`): embed its DFA
            try:
                dfa = built_dfa(node, nfa.limits)
            except EmptyLanguage:
                return  # no string: no path from source to target (the CFG path drops such a terminal)
            self.emit_dfa(dfa, source, target)
        elif isinstance(node, CharSet):
            self.emit_char_set(node.ranges, source, target)
        elif isinstance(node, Concat):
            current = source
            for item in node.items[:-1]:
                following = nfa.add_state()
                self.emit(item, current, following)
                current = following
            self.emit(node.items[-1], current, target)
        elif isinstance(node, Alternation):
            merged = self.merged_char_sets.get(id(node))
            if merged is None:  # once per node: unrolled repeats emit the same node many times
                merged = normalize_ranges(r for o in node.options if isinstance(o, CharSet) for r in o.ranges)
                self.merged_char_sets[id(node)] = merged
                self.alive.append(node)
            for option in node.options:
                if not isinstance(option, CharSet):
                    self.emit(option, source, target)
            if merged:
                self.emit_char_set(merged, source, target)
        elif isinstance(node, Repeat):
            self.emit_repeat(node, source, target)
        elif isinstance(node, Empty):
            nfa.add_epsilon(source, target)
        else:  # pragma: no cover - defensive
            raise TypeError(f"not a regex AST node: {node!r}")

    def emit_dfa(self, dfa: ByteDFA, source: int, target: int) -> None:
        """A copy of ``dfa`` between ``source`` and ``target``: its states become NFA states,
        its transitions byte ranges (maximal runs of one target), its accepting states lead
        to ``target`` by epsilon moves."""
        nfa = self.nfa
        first = nfa.add_states(dfa.num_states)
        edges, accepting = self._dfa_edges(dfa)
        nfa.add_byte_edges(edges + np.array([first, 0, 0, first], dtype=np.int64))
        nfa.add_epsilon(source, first + dfa.start)
        for state in accepting:
            nfa.add_epsilon(first + state, target)

    def _dfa_edges(self, dfa: ByteDFA) -> tuple[np.ndarray, list[int]]:
        """``dfa``'s byte-range edges ``(state, low, high, target)`` numbered from 0, and its
        accepting states: computed once per DFA object (an equal node's automaton is shared,
        `built.built_dfa`, and ``anyOf`` branches often embed the same one many times)."""
        found = self.dfa_edges.get(id(dfa))
        if found is None:
            table = dfa.transitions
            run_starts = np.ones(table.shape, dtype=bool)
            run_starts[:, 1:] = table[:, 1:] != table[:, :-1]
            states, lows = np.nonzero(run_starts & (table >= 0))
            ends = np.ones(table.shape, dtype=bool)
            ends[:, :-1] = table[:, :-1] != table[:, 1:]
            _, highs = np.nonzero(ends & (table >= 0))
            edges = np.stack([states, lows, highs, table[states, lows].astype(np.int64)], axis=1).astype(
                np.int64
            )
            found = (edges, np.flatnonzero(dfa.accepting).tolist())
            self.dfa_edges[id(dfa)] = found
            self.alive.append(dfa)
        return found

    def emit_repeat(self, node: Repeat, source: int, target: int) -> None:
        nfa = self.nfa
        item, minimum, maximum = node.item, node.min, node.max
        if maximum == 0:
            nfa.add_epsilon(source, target)
            return
        copies: list[tuple[int, int]] = []  # (source, target) of each copy of ``item``, in order
        current = source
        for index in range(minimum):
            last = index == minimum - 1 and maximum == minimum
            following = target if last else nfa.add_state()
            copies.append((current, following))
            current = following
        if maximum is None:
            loop = nfa.add_state()
            nfa.add_epsilon(current, loop)
            self.emit_copies(item, copies)
            self.emit(item, loop, loop)
            nfa.add_epsilon(loop, target)
            return
        optional = maximum - minimum
        for index in range(optional):
            nfa.add_epsilon(current, target)
            following = target if index == optional - 1 else nfa.add_state()
            copies.append((current, following))
            current = following
        self.emit_copies(item, copies)

    def emit_copies(self, item: RegexNode, copies: list[tuple[int, int]]) -> None:
        """``item`` between each pair of ``copies``: the first from the AST, the rest as shifted
        copies of its edges (`NFABuilder.replicate`)."""
        if not copies:
            return
        first_source, first_target = copies[0]
        if not self.replicate or len(copies) < MIN_COPIES_TO_REPLICATE or first_source == first_target:
            for copy_source, copy_target in copies:
                self.emit(item, copy_source, copy_target)
            return
        mark = self.nfa.mark()
        self.emit(item, first_source, first_target)
        self.nfa.replicate(mark, first_source, first_target, copies[1:])

    def emit_char_set(self, ranges: Ranges, source: int, target: int) -> None:
        layout = self.layouts.get(ranges)
        if layout is None:
            layout = _char_set_layout(ranges)
            self.layouts[ranges] = layout
        first_internal = self.nfa.add_states(layout.internal_states) - 2
        for local_source, low, high, local_target in layout.edges:
            state = source if local_source == 0 else first_internal + local_source
            nxt = target if local_target == 1 else first_internal + local_target
            self.nfa.add_byte_range(state, low, high, nxt)


def _char_set_layout(ranges: Ranges) -> _CharSetLayout:
    """Byte paths for a char set, sharing identical suffixes (all sequences end at target)."""
    suffix_state: dict[tuple[tuple[int, int], ...], int] = {}
    edges: list[tuple[int, int, int, int]] = []
    next_local = 2
    for sequence in utf8_sequences_for_ranges(ranges):
        state_after = 1
        for position in range(len(sequence) - 1, 0, -1):
            suffix = sequence[position:]
            shared = suffix_state.get(suffix)
            if shared is None:
                shared = next_local
                next_local += 1
                suffix_state[suffix] = shared
                low, high = sequence[position]
                edges.append((shared, low, high, state_after))
            state_after = shared
        low, high = sequence[0]
        edges.append((0, low, high, state_after))
    return _CharSetLayout(next_local - 2, tuple(edges))
