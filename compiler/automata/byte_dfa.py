"""The byte-level DFA every regular constraint compiles to.

Layout (all numpy, immutable once built):

- ``transitions``: int32 ``[num_states, 256]``; ``transitions[s, b]`` is the state reached
  from ``s`` on byte ``b``, or ``DEAD`` (-1) if no viable string continues that way.
- ``accepting``: bool ``[num_states]``.
- ``start``: the initial state.

Invariant (established by `trim`/minimisation in `compiler.automata.dfa`): every state is
*live* -- it can reach an accepting state.  Hence any non-``DEAD`` transition keeps the
output a viable prefix, which is what the token index relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEAD = -1


@dataclass(frozen=True, eq=False)
class ByteDFA:
    transitions: np.ndarray
    accepting: np.ndarray
    start: int

    def __post_init__(self) -> None:
        if (
            self.transitions.dtype != np.int32
            or self.transitions.ndim != 2
            or self.transitions.shape[1] != 256
        ):
            raise ValueError("ByteDFA.transitions must be int32 [num_states, 256]")
        if self.accepting.shape != (self.transitions.shape[0],):
            raise ValueError("ByteDFA.accepting must be bool [num_states]")
        self.transitions.setflags(write=False)
        self.accepting.setflags(write=False)

    @property
    def num_states(self) -> int:
        return int(self.transitions.shape[0])

    def step(self, state: int, data: bytes) -> int:
        """State after reading ``data`` from ``state``; ``DEAD`` as soon as a byte is refused."""
        table = self.transitions
        for byte in data:
            state = int(table[state, byte])
            if state == DEAD:
                return DEAD
        return state

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` is a complete word of the language."""
        state = self.step(self.start, data)
        return state != DEAD and bool(self.accepting[state])
