"""Thompson-style byte NFA: the intermediate form between a regex AST and a `ByteDFA`.

Layout (plain Python lists, indexed by state id, built once and then only read):

- ``epsilon[s]``: states reachable from ``s`` without reading a byte.
- ``byte_edges[s]``: ``(low, high, target)`` triples; bytes ``low..high`` (inclusive) lead
  from ``s`` to ``target``.
- ``start`` and a single ``accept`` state (which has no outgoing edges of either kind).

`NFABuilder.add_state` enforces ``CompileLimits.max_nfa_states`` as states are created, so a
huge counted repeat fails fast instead of exhausting memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from automask.compiler.limits import CompileLimits


@dataclass(frozen=True, eq=False)
class NFA:
    epsilon: list[list[int]]
    byte_edges: list[list[tuple[int, int, int]]]
    start: int
    accept: int

    @property
    def num_states(self) -> int:
        return len(self.epsilon)

    def epsilon_closures(self) -> list[frozenset[int]]:
        """For every state, the *important* states reachable by epsilon moves (itself included).

        Important states are those with byte edges, plus ``accept``; the subset construction
        only needs those, which keeps its state sets small.
        """
        important = [bool(edges) for edges in self.byte_edges]
        important[self.accept] = True
        closures: list[frozenset[int]] = []
        epsilon = self.epsilon
        for state in range(self.num_states):
            if not epsilon[state]:
                closures.append(frozenset((state,)) if important[state] else frozenset())
                continue
            seen = {state}
            stack = [state]
            while stack:
                current = stack.pop()
                for nxt in epsilon[current]:
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            closures.append(frozenset(s for s in seen if important[s]))
        return closures


class NFABuilder:
    """Mutable NFA under construction; `finish` freezes it into an `NFA`."""

    def __init__(self, limits: CompileLimits):
        self.limits = limits
        self.epsilon: list[list[int]] = []
        self.byte_edges: list[list[tuple[int, int, int]]] = []

    def add_state(self) -> int:
        state = len(self.epsilon)
        if state >= self.limits.max_nfa_states:
            self.limits.check("max_nfa_states", state + 1)
        self.epsilon.append([])
        self.byte_edges.append([])
        return state

    def add_states(self, count: int) -> int:
        """Add ``count`` fresh states and return the first id (they are consecutive)."""
        first = len(self.epsilon)
        if first + count > self.limits.max_nfa_states:
            self.limits.check("max_nfa_states", first + count)
        self.epsilon.extend([] for _ in range(count))
        self.byte_edges.extend([] for _ in range(count))
        return first

    def add_epsilon(self, source: int, target: int) -> None:
        if source != target:
            self.epsilon[source].append(target)

    def add_byte_range(self, source: int, low: int, high: int, target: int) -> None:
        self.byte_edges[source].append((low, high, target))

    def finish(self, start: int, accept: int) -> NFA:
        return NFA(self.epsilon, self.byte_edges, start, accept)
