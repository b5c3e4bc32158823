"""Thompson-style byte NFA: the intermediate form between a regex AST and a `ByteDFA`.

Layout (flat int32 arrays, one row per edge, in no particular order):

- epsilon edges ``eps_source[i] -> eps_target[i]``;
- byte edges ``edge_source[i] --edge_low[i]..edge_high[i]--> edge_target[i]`` (inclusive);
- ``start`` and a single ``accept`` state (which has no outgoing edges of either kind).

Why arrays and not per-state lists: the subset construction takes CSR arrays, and counted
repeats (``[a-z]{1,64}``, ``.{0,300}``) are unrolled into many copies of one fragment, which
`NFABuilder.replicate` writes as shifted copies of the fragment's edge arrays instead of
walking the AST again for each copy.  `epsilon` / `byte_edges` give the per-state lists for
the pure-Python references.

`NFABuilder` enforces ``CompileLimits.max_nfa_states`` as states are created, so a huge
counted repeat fails fast instead of exhausting memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.limits import CompileLimits


@dataclass(frozen=True, eq=False)
class NFA:
    num_states: int
    eps_source: np.ndarray
    eps_target: np.ndarray
    edge_source: np.ndarray
    edge_low: np.ndarray
    edge_high: np.ndarray
    edge_target: np.ndarray
    start: int
    accept: int

    @property
    def epsilon(self) -> list[list[int]]:
        """``epsilon[s]``: the epsilon targets of ``s`` (per-state lists, for the references)."""
        lists: list[list[int]] = [[] for _ in range(self.num_states)]
        for source, target in zip(self.eps_source.tolist(), self.eps_target.tolist(), strict=True):
            lists[source].append(target)
        return lists

    @property
    def byte_edges(self) -> list[list[tuple[int, int, int]]]:
        """``byte_edges[s]``: ``(low, high, target)`` triples leaving ``s`` (for the references)."""
        lists: list[list[tuple[int, int, int]]] = [[] for _ in range(self.num_states)]
        columns = (self.edge_source, self.edge_low, self.edge_high, self.edge_target)
        for source, low, high, target in zip(*(column.tolist() for column in columns), strict=True):
            lists[source].append((low, high, target))
        return lists

    def epsilon_closures(self) -> list[frozenset[int]]:
        """For every state, the *important* states reachable by epsilon moves (itself included).

        Important states are those with byte edges, plus ``accept``; the subset construction
        only needs those, which keeps its state sets small.
        """
        important = np.zeros(self.num_states, dtype=bool)
        important[self.edge_source] = True
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


@dataclass(frozen=True)
class FragmentMark:
    """Where the builder stood before a fragment was emitted (`NFABuilder.mark`)."""

    states: int
    eps: int
    edges: int
    eps_chunks: int
    edge_chunks: int


class NFABuilder:
    """Mutable NFA under construction; `finish` freezes it into an `NFA`.

    Single edges go to flat Python lists (pairs / quadruples); replicated fragments go in
    as numpy chunks.
    """

    def __init__(self, limits: CompileLimits):
        self.limits = limits
        self.num_states = 0
        self._eps: list[int] = []  # source, target, source, target, ...
        self._edges: list[int] = []  # source, low, high, target, ...
        self._eps_chunks: list[np.ndarray] = []  # int64 [k, 2]
        self._edge_chunks: list[np.ndarray] = []  # int64 [k, 4]

    def add_state(self) -> int:
        return self.add_states(1)

    def add_states(self, count: int) -> int:
        """Add ``count`` fresh states and return the first id (they are consecutive)."""
        first = self.num_states
        if first + count > self.limits.max_nfa_states:
            self.limits.check("max_nfa_states", first + count)
        self.num_states = first + count
        return first

    def add_epsilon(self, source: int, target: int) -> None:
        if source != target:
            self._eps += (source, target)

    def add_byte_range(self, source: int, low: int, high: int, target: int) -> None:
        self._edges += (source, low, high, target)

    def add_byte_edges(self, edges: np.ndarray) -> None:
        """Add int64 ``[k, 4]`` rows ``(source, low, high, target)``."""
        self._edge_chunks.append(edges)

    def mark(self) -> FragmentMark:
        return FragmentMark(
            self.num_states, len(self._eps), len(self._edges), len(self._eps_chunks), len(self._edge_chunks)
        )

    def replicate(self, mark: FragmentMark, source: int, target: int, copies: list[tuple[int, int]]) -> None:
        """Append one copy of the fragment emitted since ``mark`` between ``source`` and
        ``target`` for each ``(copy_source, copy_target)`` in ``copies``.

        The fragment's edges touch only ``source``, ``target`` and the states it created
        (Thompson's invariant, with ``source != target`` and both older than ``mark``); each
        copy gets fresh internal states, shifted by whole blocks.
        """
        internal = self.num_states - mark.states
        first = self.add_states(internal * len(copies))
        shifts = first - mark.states + internal * np.arange(len(copies), dtype=np.int64)
        copy_sources = np.array([pair[0] for pair in copies], dtype=np.int64)[:, None]
        copy_targets = np.array([pair[1] for pair in copies], dtype=np.int64)[:, None]

        def remap(states: np.ndarray) -> np.ndarray:
            moved = states[None, :] + shifts[:, None]
            moved = np.where(states[None, :] == source, copy_sources, moved)
            return np.where(states[None, :] == target, copy_targets, moved).reshape(-1)

        eps = np.concatenate(
            [
                np.array(self._eps[mark.eps :], dtype=np.int64).reshape(-1, 2),
                *self._eps_chunks[mark.eps_chunks :],
            ]
        )
        if eps.shape[0]:
            pairs = np.stack([remap(eps[:, 0]), remap(eps[:, 1])], axis=1)
            self._eps_chunks.append(pairs[pairs[:, 0] != pairs[:, 1]])
        edges = np.concatenate(
            [
                np.array(self._edges[mark.edges :], dtype=np.int64).reshape(-1, 4),
                *self._edge_chunks[mark.edge_chunks :],
            ]
        )
        if edges.shape[0]:
            count = len(copies)
            self._edge_chunks.append(
                np.stack(
                    [
                        remap(edges[:, 0]),
                        np.tile(edges[:, 1], count),
                        np.tile(edges[:, 2], count),
                        remap(edges[:, 3]),
                    ],
                    axis=1,
                )
            )

    def finish(self, start: int, accept: int) -> NFA:
        eps = np.concatenate([np.array(self._eps, dtype=np.int64).reshape(-1, 2), *self._eps_chunks]).astype(
            np.int32
        )
        edges = np.concatenate(
            [np.array(self._edges, dtype=np.int64).reshape(-1, 4), *self._edge_chunks]
        ).astype(np.int32)
        columns = [np.ascontiguousarray(eps[:, 0]), np.ascontiguousarray(eps[:, 1])]
        columns += [np.ascontiguousarray(edges[:, index]) for index in range(4)]
        return NFA(self.num_states, *columns, start, accept)
