"""Earley sets lowered to integer arrays, so that a whole mask is one numba call (`_kernels.fill_mask`).

Why: the mask walk asks the parser, at every trie node where a terminal may end, for the
Earley set that follows.  Those answers depend only on ``(set, terminal)`` and are shared
by all matchers of a grammar, so they are computed once in Python (`EarleyEngine.complete`)
and stored here as integers; the kernel then walks trie and parser together and returns to
Python only for answers not computed yet.

Layout (grown by doubling; ``num_sets`` sets and ``num_entries`` entries are valid):

- ``entry_first`` / ``entry_count`` int32 ``[sets]``: set ``s``'s lexer entries are
  ``entry_first[s] .. + entry_count[s]`` (one per terminal the set expects, in
  ``EarleySet.entries`` order);
- ``entry_state`` int32 ``[entries]``: the terminal's DFA start state;
- ``entry_next`` int32 ``[entries]``: the id of the set after that terminal ends, -1 until
  computed;
- ``set_sig`` int32 ``[sets]``: the set's *lexer signature*, an id for the tuple of its
  entries' DFA start states.  What a set can read below a trie node without any terminal
  ending depends only on that tuple, so `subtree_memo.SubtreeMemo` keys its results by it and
  sets with different origins (a deeper nesting of the same shape) share them.  Signature ids
  outlive epochs (their number is bounded by the grammar, not by the text);
- ``sig_byte_offsets`` int32 ``[signatures * 257]`` / ``sig_byte_entries`` int32: for
  signature ``g`` and byte ``b``, the positions (within a set of that signature) of the
  entries whose start state is live on ``b`` are ``sig_byte_entries[sig_byte_offsets[257 g +
  b] : sig_byte_offsets[257 g + b + 1]]``, so the walk can start a set as one frontier pair
  that expands only into what the next byte keeps.  Kept per signature, not per set, so
  registering a set copies no byte lists;
- ``sig_state_offsets`` int64 ``[signatures + 1]`` / ``sig_states`` int32: signature ``g``'s
  entries' DFA start states are ``sig_states[sig_state_offsets[g] : sig_state_offsets[g + 1]]``
  (what `subtree_memo.SubtreeMemo` walks from, read in its kernel).

The terminal and owning set of each entry, which only Python reads (`resolve`,
`entry_for`), are plain lists.

Thread-safe: registration and growth hold a lock; readers take a snapshot (`arrays`), in
which a set id not yet visible reads as "not computed" (the kernel checks ``num_sets``).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from automask.compiler.cfg import _kernels
from automask.compiler.cfg.earley import EarleyEngine, EarleySet


class LoweredSets(NamedTuple):
    """A consistent snapshot of the index (see the module docstring); ``num_sets`` ids are valid."""

    entry_first: np.ndarray
    entry_count: np.ndarray
    entry_state: np.ndarray
    entry_next: np.ndarray
    num_sets: int
    epoch: int
    set_sig: np.ndarray
    sig_byte_offsets: np.ndarray
    sig_byte_entries: np.ndarray
    sig_state_offsets: np.ndarray
    sig_states: np.ndarray


class SetIndex:
    """Integer ids and lowered entries for the Earley sets of one grammar's `EarleyEngine`."""

    def __init__(self, engine: EarleyEngine, max_sets: int) -> None:
        self.engine = engine
        self.max_sets = max_sets
        self._lock = threading.Lock()
        self._epoch = 0
        self._owner = np.ascontiguousarray(engine.tables.state_terminal, dtype=np.int32)
        self._transitions = engine.tables.transitions
        self._signatures: dict[tuple[int, ...], int] = {}
        self._signature_terminals: list[list[int]] = []  # per signature: its entries' terminals
        self._sig_byte_offsets = np.zeros(16 * 257, dtype=np.int32)
        self._sig_byte_entries = np.zeros(64, dtype=np.int32)
        self._num_sig_byte_entries = 0
        self._sig_state_offsets = np.zeros(17, dtype=np.int64)
        self._sig_states = np.zeros(64, dtype=np.int32)
        self._reset()

    def _reset(self) -> None:
        self._epoch += 1
        self._entry_of: dict[tuple[EarleySet, int], tuple[int, int]] = {}  # `entry_for` answers
        # `token_walk.lower_state`'s answers per lexer entry, read with their epoch in one step
        self.lowered_entries: tuple[int, dict[tuple[int, EarleySet], int]] = (self._epoch, {})
        self._ids: dict[EarleySet, int] = {}
        self._sets: list[EarleySet] = []
        self._entry_first = np.zeros(64, dtype=np.int32)
        self._entry_count = np.zeros(64, dtype=np.int32)
        self._set_sig = np.zeros(64, dtype=np.int32)
        self._entry_state = np.zeros(256, dtype=np.int32)
        self._entry_next = np.full(256, -1, dtype=np.int32)  # grown with -1: never reset
        self._entry_terminal: list[int] = []
        self._entry_set: list[int] = []
        self._snapshot = self._make_snapshot()

    def _make_snapshot(self) -> LoweredSets:
        return LoweredSets(
            self._entry_first,
            self._entry_count,
            self._entry_state,
            self._entry_next,
            len(self._sets),
            self._epoch,
            self._set_sig,
            self._sig_byte_offsets,
            self._sig_byte_entries,
            self._sig_state_offsets,
            self._sig_states,
        )

    def arrays(self) -> LoweredSets:
        """The current snapshot (arrays and counts mutually consistent)."""
        return self._snapshot

    def start_mask(self) -> None:
        """Called before each mask: past ``max_sets`` sets, start a new epoch.

        Only here, so that one mask always completes (it may need more sets than the bound;
        resetting in the middle of it could start over forever).
        """
        if len(self._sets) >= self.max_sets:
            with self._lock:
                if len(self._sets) >= self.max_sets:
                    self._reset()  # a cache only: ids start over (old snapshots stay consistent)

    def id_of(self, earley_set: EarleySet) -> int:
        found = self._ids.get(earley_set)
        if found is not None:
            return found
        with self._lock:
            return self._register(earley_set)

    def _register(self, earley_set: EarleySet, publish: bool = True) -> int:
        found = self._ids.get(earley_set)
        if found is not None:
            return found
        set_id = len(self._sets)
        signature = self._signature(earley_set.entry_states)
        terminals = self._signature_terminals[signature]
        first = len(self._entry_set)
        stop = first + len(terminals)
        if set_id >= self._entry_first.shape[0]:
            self._entry_first = _grown(self._entry_first, set_id + 1, 0)
            self._entry_count = _grown(self._entry_count, set_id + 1, 0)
            self._set_sig = _grown(self._set_sig, set_id + 1, 0)
        if stop > self._entry_state.shape[0]:
            self._entry_state = _grown(self._entry_state, stop, 0)
            self._entry_next = _grown(self._entry_next, stop, -1)
        self._entry_state[first:stop] = self.signature_states(signature)
        self._entry_terminal.extend(terminals)
        self._entry_set.extend([set_id] * (stop - first))
        self._entry_first[set_id] = first
        self._entry_count[set_id] = stop - first
        self._set_sig[set_id] = signature
        self._sets.append(earley_set)
        self._ids[earley_set] = set_id
        if publish:
            self._snapshot = self._make_snapshot()
        return set_id

    def _signature(self, start_states: tuple[int, ...]) -> int:
        found = self._signatures.get(start_states)
        if found is None:
            found = self._signatures[start_states] = len(self._signature_terminals)
            states = np.array(start_states, dtype=np.int32)
            self._signature_terminals.append(self._owner[states].tolist())
            self._lower_bytes(found, states)
            self._lower_states(found, states)
        return found

    def _lower_states(self, signature: int, states: np.ndarray) -> None:
        """Append signature ``signature``'s start states to ``sig_states`` (new arrays when they grow)."""
        first = int(self._sig_state_offsets[signature])
        stop = first + states.shape[0]
        if signature + 2 > self._sig_state_offsets.shape[0]:
            self._sig_state_offsets = _grown(self._sig_state_offsets, signature + 2, 0)
        if stop > self._sig_states.shape[0]:
            self._sig_states = _grown(self._sig_states, stop, 0)
        self._sig_states[first:stop] = states
        self._sig_state_offsets[signature + 1] = stop

    def _lower_bytes(self, signature: int, states: np.ndarray) -> None:
        """Append signature ``signature``'s byte -> live entries lists (``sig_byte_offsets`` /
        ``sig_byte_entries``; new arrays when they grow, so published snapshots stay intact)."""
        base = self._num_sig_byte_entries
        if (signature + 1) * 257 > self._sig_byte_offsets.shape[0]:
            self._sig_byte_offsets = _grown(self._sig_byte_offsets, (signature + 1) * 257, 0)
        if base + 256 * states.shape[0] > self._sig_byte_entries.shape[0]:  # room for every byte live
            self._sig_byte_entries = _grown(self._sig_byte_entries, base + 256 * states.shape[0], 0)
        self._num_sig_byte_entries = int(
            _kernels.write_live_entries_by_byte(
                self._transitions,
                states,
                self._sig_byte_offsets[signature * 257 : (signature + 1) * 257],
                self._sig_byte_entries,
                base,
            )
        )

    def signature_states(self, signature: int) -> np.ndarray:
        """The entries' DFA start states (int32, entry order) of lexer signature ``signature``: a
        view of ``sig_states``, for reading only."""
        return self._sig_states[self._sig_state_offsets[signature] : self._sig_state_offsets[signature + 1]]

    def entry_for(self, origin: EarleySet, terminal: int) -> tuple[int, int]:
        """``(entry, epoch)``: the entry of ``origin`` (registered on demand) lexing ``terminal`` (-1: none).

        Answers are memoised per epoch (a dict read, no lock: every mask asks this for each
        of its lexer entries)."""
        found = self._entry_of.get((origin, terminal))
        if found is not None:
            return found
        with self._lock:
            set_id = self._register(origin)
            first = int(self._entry_first[set_id])
            terminals = self._signature_terminals[int(self._set_sig[set_id])]
            answer = (-1, self._epoch)
            if terminal in terminals:
                answer = (first + terminals.index(terminal), self._epoch)
            self._entry_of[(origin, terminal)] = answer  # this epoch's dict: `_reset` replaces it
            return answer

    def resolve(self, entries: np.ndarray, epoch: int) -> None:
        """Compute ``entry_next`` for the entry ids (of ``epoch``): asks the parser, registers new sets."""
        engine = self.engine
        with self._lock:
            for entry in set(entries.tolist()):
                if self._epoch != epoch:
                    return  # ids of an older epoch: the caller starts over
                origin = self._sets[self._entry_set[entry]]
                terminal = self._entry_terminal[entry]
                following = engine.complete(frozenset(((terminal, origin),)))
                # Published once below: a reader of the older snapshot sees an id past its
                # ``num_sets`` and treats the answer as not computed yet.
                following_id = self._register(following, publish=False)
                if self._epoch == epoch:
                    self._entry_next[entry] = following_id
            self._snapshot = self._make_snapshot()


def _grown(array: np.ndarray, needed: int, fill: int) -> np.ndarray:
    grown = np.full(max(needed, 2 * array.shape[0]), fill, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


def live_entries_by_byte_reference(
    transitions: np.ndarray, states: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_kernels.write_live_entries_by_byte` in numpy, from offset 0: ``(offsets [257], entries)``
    by byte, then entry."""
    live = transitions[states] >= 0  # [count, 256]
    by_byte, entry = np.nonzero(live.T)  # sorted by byte, then entry
    offsets = np.zeros(257, dtype=np.int32)
    np.cumsum(np.bincount(by_byte, minlength=256), out=offsets[1:])
    return offsets, entry.astype(np.int32)
