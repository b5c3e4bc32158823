"""Token masks for a `ParseState`: per-terminal-state rows (built lazily) plus a parser-driven trie walk.

Why it splits like this: a token is allowed iff *some* lexer entry of the state can read
all its bytes, either staying inside the entry's terminal (context independent: depends
only on the DFA state) or ending the terminal somewhere inside the token and continuing in
the terminals the parser expects next (context dependent).  Entries are independent
alternatives, so the mask is the union over entries.

`TerminalTokenTable` (one per compiled grammar) gives every global DFA state (see
`tables.GrammarTables`) that appears as an *initial* lexer entry of a mask a *slot*, filled
on first use from the vocabulary's shared `terminal_cache.TerminalRows` (so a terminal used
by many grammars is walked once per vocabulary, and states never seen in a mask are never
walked).  Slot arrays, grown by doubling, read through a snapshot (`SlotArrays`):

- ``rows``: uint32 ``[slots, W]`` - tokens whose bytes keep the DFA alive from the slot's
  state (the context-independent part, exactly a regex token-index row);
- ``completion_offsets`` int64 ``[slots + 1]`` / ``completion_nodes`` int32: CSR list of the
  trie nodes (with descendants) after which the DFA from that state accepts - the only
  places where the parser must be asked;
- the trie's child lists as CSR (``child_offsets`` / ``child_bytes`` / ``child_nodes``,
  `_kernels.child_lists`, shared per vocabulary), so the run-time walk skips a dead byte
  without touching the (large, cache-cold) subtree arrays.

At run time (`fill_token_mask`), one numba call (`_kernels.fill_mask_jobs`): OR the rows of
the state's entries, then follow the parser through memoised trie subtrees
(`subtree_memo.SubtreeMemo`, keyed by the following sets' lexer signatures) as a worklist of
jobs.  Missing parser answers (`SetIndex.resolve`) and memos (`SubtreeMemo.build`) send the
kernel back to Python, then it goes on with the jobs it deferred.  Contexts whose memos the
grammar has not earned yet, or that are too slow to build, use the frontier walk (`fill_token_mask_frontier`,
`_kernels.fill_mask`), which walks the trie below every completion point.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

import numpy as np

from automask.compiler.cfg import _kernels
from automask.compiler.cfg.earley import ALL_BYTES, EarleySet, MaskPart, ParseState
from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.set_index import SetIndex
from automask.compiler.cfg.subtree_memo import SubtreeMemo
from automask.compiler.cfg.tables import GrammarTables
from automask.compiler.cfg.terminal_cache import StateRow, TerminalCache, TerminalRows
from automask.compiler.limits import CompileLimits
from automask.compiler.token_index.trie import TokenTrie
from automask.errors import CompileLimitExceeded
from automask.runtime.bitmask import token_ids_to_bitmask


class SlotArrays(NamedTuple):
    """A consistent snapshot of a `TerminalTokenTable`'s slots (``num_slots`` are valid)."""

    rows: np.ndarray
    completion_offsets: np.ndarray
    completion_nodes: np.ndarray
    num_slots: int
    byte_offsets: np.ndarray  # int64 [slots * 257]: slot s's completion nodes with a child on byte b
    byte_nodes: np.ndarray  # are byte_nodes[byte_offsets[257 s + b] : byte_offsets[257 s + b + 1]]


MAX_UNION_SLOTS = 256
"""Union rows (`TerminalTokenTable.union_slot`) one grammar may hold: 4 MB at 128k tokens."""
_UNION_NOT_YET = -2  # `TerminalTokenTable.union_slot`: asked once, built when asked again
_NO_NODES = np.zeros(0, dtype=np.int32)
_NO_NODES.setflags(write=False)

INITIAL_SLOTS = 64
"""Slots a `TerminalTokenTable` has room for before its arrays grow (doubling)."""


class TerminalTokenTable:
    """Per-grammar slots holding the rows / completion points of the DFA states masks start from.

    Thread-safe: `slot_of` fills a missing slot under a lock and publishes a new snapshot;
    slots are only appended, so an older snapshot stays valid for the slots it holds.
    """

    def __init__(
        self, tables: GrammarTables, cache: TerminalCache, limits: CompileLimits, cfg_limits: CFGLimits
    ) -> None:
        self.trie: TokenTrie = cache.trie
        self.words = cache.words
        self.cache_children = cache.children
        self.child_offsets, self.child_bytes, self.child_nodes = cache.children
        self.limits = limits
        self.cfg_limits = cfg_limits
        self._owner: list[int] = tables.state_terminal.tolist()
        self._longest: list[bool] | None = None if tables.longest is None else tables.longest.tolist()
        self._offset = tables.terminal_offset
        self._cache = cache
        self._dfas = tables.terminal_dfas
        self._terminals: list[TerminalRows | None] = [None] * len(tables.terminal_dfas)
        """Each terminal's shared `TerminalRows`, looked up when its first slot is filled (a
        schema grammar compiled for one output never visits most of its terminals)."""
        self._lock = threading.Lock()
        self._slot: dict[int, int] = {}
        self._state_of_slot: list[int] = []
        self._restricted: dict[tuple[int, int], tuple[int, int]] = {}  # `restricted_lowering` answers
        self._first_byte_rows: dict[int, np.ndarray] = {}
        self._unions: dict[tuple[tuple[int, ...], int], int] = {}  # `union_slot` answers
        self._num_unions = 0
        self._lowering: dict[int, tuple[int, int]] = {}
        self._completion_count: list[int] = []
        self._by_byte_of_slot: list[tuple[np.ndarray, np.ndarray]] = []
        self._following: dict[tuple[int, bytes], np.ndarray] = {}
        # Room for INITIAL_SLOTS slots: np.zeros pages are only touched when written, and a
        # schema grammar fills tens of slots, each growth copying every row so far.
        self._rows = np.zeros((INITIAL_SLOTS, self.words), dtype=np.uint32)
        self._offsets = np.zeros(INITIAL_SLOTS + 1, dtype=np.int64)
        self._nodes = np.zeros(1024, dtype=np.int32)
        self._byte_offsets = np.zeros(INITIAL_SLOTS * 257, dtype=np.int64)
        self._byte_nodes = np.zeros(64, dtype=np.int32)
        self._snapshot = SlotArrays(
            self._rows, self._offsets, self._nodes, 0, self._byte_offsets, self._byte_nodes
        )

    @property
    def nbytes(self) -> int:
        snapshot = self._snapshot
        return int(
            snapshot.rows.nbytes + snapshot.completion_offsets.nbytes + snapshot.completion_nodes.nbytes
        )

    def arrays(self) -> SlotArrays:
        return self._snapshot

    def slot_of(self, state: int) -> int:
        """The slot of global DFA ``state``, filled on first use."""
        found = self._slot.get(state)
        if found is not None:
            return found
        with self._lock:
            found = self._slot.get(state)
            if found is None:
                found = self._fill(state)
        return found

    def has_completions(self, slot: int) -> bool:
        """Whether the slot's terminal may end inside some token (it has completion points)."""
        return self._completion_count[slot] > 0

    def lowering(self, state: int) -> tuple[int, int]:
        """``(slot, terminal)`` of global DFA ``state``: its slot (`slot_of`) and, when the
        terminal may end inside a token, the terminal's id (else -1).  One dict read per
        entry of every uncached mask (`lower_state`); filled on first use."""
        found = self._lowering.get(state)
        if found is None:
            slot = self.slot_of(state)
            found = (slot, self._owner[state] if self.has_completions(slot) else -1)
            self._lowering[state] = found  # immutable value: a race only computes it twice
        return found

    def _fill(self, state: int) -> int:
        terminal = self._owner[state]
        rows = self._terminals[terminal]
        if rows is None:
            dfa = self._dfas[terminal]
            assert dfa is not None  # only productive terminals have states
            rows = self._terminals[terminal] = self._cache.terminal_rows(dfa)
        state_row = rows.state(state - self._offset[terminal])
        by_byte_offsets, by_byte = self._by_byte(state, state_row)
        slot = self._add_slot(state, state_row.row, state_row.completions, by_byte_offsets, by_byte)
        self._slot[state] = slot
        return slot

    def restricted_lowering(self, state: int, first_bytes: int) -> tuple[int, int]:
        """`lowering` of global DFA ``state`` read only by tokens whose first byte is in the int
        bit set ``first_bytes``: a slot of its own (row and completion points cut to those
        first bytes), filled on first use.

        Why: where longest match holds back terminal ends, a mask is a union of lexer-entry
        sets each cut to some first bytes (`EarleyEngine.mask_variants`).  With the cut moved
        into the slots, all of them are one list of initial pairs: one kernel call, jobs shared
        across the parts, no per-part mask to AND and OR afterwards.
        """
        key = (state, first_bytes)
        found = self._restricted.get(key)
        if found is not None:
            return found
        base_slot = self.slot_of(state)
        with self._lock:
            found = self._restricted.get(key)
            if found is None:
                slot = self._fill_restricted(state, base_slot, first_bytes)
                found = (slot, self._owner[state] if self.has_completions(slot) else -1)
                self._restricted[key] = found
        return found

    def _fill_restricted(self, state: int, base_slot: int, first_bytes: int) -> int:
        snapshot = self._snapshot
        row = snapshot.rows[base_slot] & self.first_byte_row(first_bytes)
        completions = snapshot.completion_nodes[
            snapshot.completion_offsets[base_slot] : snapshot.completion_offsets[base_slot + 1]
        ]
        by_byte_offsets, by_byte = self._by_byte_of_slot[base_slot]
        kept = self._under_first_bytes(by_byte, first_bytes)
        counts = np.zeros(by_byte.shape[0] + 1, dtype=np.int64)
        np.cumsum(kept, out=counts[1:])
        return self._add_slot(
            state,
            row,
            completions[self._under_first_bytes(completions, first_bytes)],
            counts[by_byte_offsets],
            by_byte[kept],
        )

    def _under_first_bytes(self, nodes: np.ndarray, first_bytes: int) -> np.ndarray:
        """Which trie ``nodes`` lie below a root child whose byte is in ``first_bytes`` (bool)."""
        first, stop = int(self.child_offsets[0]), int(self.child_offsets[1])  # the root's children
        starts = self.child_nodes[first:stop]  # preorder: a child's subtree follows it
        allowed = np.array(
            [(first_bytes >> byte) & 1 for byte in self.child_bytes[first:stop].tolist()], dtype=bool
        )
        return (
            allowed[np.searchsorted(starts, nodes, side="right") - 1] if nodes.shape[0] else np.zeros(0, bool)
        )

    def union_slot(self, states: tuple[int, ...], first_bytes: int) -> int:
        """A slot whose row is the union of the rows of DFA ``states`` (cut to ``first_bytes``
        unless it holds every byte) and that has no completion point; -1 past the bounds,
        `_UNION_NOT_YET` the first time a key is asked for.

        Why: most lexer entries of a mask are the start states of the Earley set made at its
        byte (7 of 8 on `arithmetic.lark`, 16 of 17 on `sql.lark`), and the start states of a
        set depend only on its lexer signature.  One OR of their union replaces one OR per
        state.  Built the second time a key is asked for (a one-shot context pays nothing) and
        at most `MAX_UNION_SLOTS` per grammar, within the index's byte limit.
        """
        key = (states, first_bytes)
        found = self._unions.get(key)
        if found is not None and found != _UNION_NOT_YET:
            return found
        slots = [
            (
                self.lowering(state)
                if first_bytes == ALL_BYTES
                else self.restricted_lowering(state, first_bytes)
            )[0]
            for state in states
        ]
        with self._lock:
            found = self._unions.get(key)
            if found is None or found == _UNION_NOT_YET:
                found = self._add_union(slots) if found == _UNION_NOT_YET else _UNION_NOT_YET
                self._unions[key] = found
        return found

    @property
    def num_union_slots(self) -> int:
        """How many union rows (`union_slot`) the grammar holds."""
        return self._num_unions

    def _add_union(self, slots: list[int]) -> int:
        """The union slot of ``slots`` (under the lock), or -1 past the bounds."""
        slot = len(self._completion_count)
        index_bytes = self._index_bytes(slot, int(self._offsets[slot]))
        if self._num_unions >= MAX_UNION_SLOTS or index_bytes > self.limits.max_index_bytes:
            return -1
        self._num_unions += 1
        row = np.bitwise_or.reduce(self._snapshot.rows[slots], axis=0)
        return self._add_slot(-1, row, _NO_NODES, np.zeros(257, dtype=np.int64), _NO_NODES)

    def first_byte_row(self, first_bytes: int) -> np.ndarray:
        """The tokens whose first byte is in the int bit set ``first_bytes`` (uint32 ``[W]``,
        read-only; memoised: a few bit sets per grammar occur)."""
        found = self._first_byte_rows.get(first_bytes)
        if found is not None:
            return found
        trie = self.trie
        first, stop = int(self.child_offsets[0]), int(self.child_offsets[1])  # the root's children
        subtrees = [
            trie.token_ids[trie.token_offsets[node] : trie.token_offsets[trie.node_end[node]]]
            for byte, node in zip(
                self.child_bytes[first:stop].tolist(), self.child_nodes[first:stop].tolist(), strict=True
            )
            if (first_bytes >> byte) & 1
        ]
        ids = np.concatenate(subtrees) if subtrees else np.zeros(0, dtype=np.int32)
        row = token_ids_to_bitmask(ids, 32 * self.words).view(np.uint32)  # (room for W words)
        row.setflags(write=False)
        self._first_byte_rows[first_bytes] = row  # immutable value: a race only builds it twice
        return row

    def _add_slot(
        self,
        state: int,
        row: np.ndarray,
        completions: np.ndarray,
        by_byte_offsets: np.ndarray,
        by_byte: np.ndarray,
    ) -> int:
        """Append a slot (under the lock) and publish the new snapshot; returns its index."""
        slot = len(self._completion_count)
        used = int(self._offsets[slot])
        total = used + completions.shape[0]
        if total > self.cfg_limits.max_completion_nodes:
            raise CompileLimitExceeded("max_completion_nodes", total, self.cfg_limits.max_completion_nodes)
        self.limits.check("max_index_bytes", self._index_bytes(slot, total))
        rows_array, offsets, nodes = self._rows, self._offsets, self._nodes
        if slot >= rows_array.shape[0]:  # grow into new arrays: published snapshots stay intact
            rows_array = np.zeros((2 * rows_array.shape[0], self.words), dtype=np.uint32)
            rows_array[:slot] = self._rows[:slot]
            offsets = np.zeros(rows_array.shape[0] + 1, dtype=np.int64)
            offsets[: slot + 1] = self._offsets[: slot + 1]
        if total > nodes.shape[0]:
            nodes = np.zeros(max(total, 2 * nodes.shape[0]), dtype=np.int32)
            nodes[:used] = self._nodes[:used]
        byte_offsets, byte_nodes = self._byte_offsets, self._byte_nodes
        byte_used = int(byte_offsets[slot * 257 - 1]) if slot else 0
        if (slot + 1) * 257 > byte_offsets.shape[0]:
            byte_offsets = np.zeros(2 * rows_array.shape[0] * 257, dtype=np.int64)
            byte_offsets[: slot * 257] = self._byte_offsets[: slot * 257]
        if byte_used + by_byte.shape[0] > byte_nodes.shape[0]:
            byte_nodes = np.zeros(max(byte_used + by_byte.shape[0], 2 * byte_nodes.shape[0]), dtype=np.int32)
            byte_nodes[:byte_used] = self._byte_nodes[:byte_used]
        byte_nodes[byte_used : byte_used + by_byte.shape[0]] = by_byte
        byte_offsets[slot * 257 : slot * 257 + 257] = byte_used + by_byte_offsets
        rows_array[slot] = row
        nodes[used:total] = completions
        offsets[slot + 1] = total
        self._rows, self._offsets, self._nodes = rows_array, offsets, nodes
        self._byte_offsets, self._byte_nodes = byte_offsets, byte_nodes
        self._completion_count.append(int(completions.shape[0]))
        self._by_byte_of_slot.append((by_byte_offsets, by_byte))
        self._snapshot = SlotArrays(rows_array, offsets, nodes, slot + 1, byte_offsets, byte_nodes)
        self._state_of_slot.append(state)
        return slot

    def _index_bytes(self, slot: int, completion_nodes: int) -> int:
        """What ``max_index_bytes`` bounds once slot ``slot`` exists: its rows and ``completion_nodes``
        completion points in all (`_add_slot` checks it; `_add_union` refuses a union past it)."""
        return (slot + 1) * self.words * 4 + completion_nodes * 4

    def states_of_slots(self, slots: np.ndarray) -> np.ndarray:
        """The global DFA states (int32) of filled ``slots`` (of a cut slot, the state it was cut
        from: only `fill_token_mask_frontier`, which never sees cut slots, asks)."""
        state_of_slot = self._state_of_slot
        return np.array([state_of_slot[slot] for slot in slots.tolist()], dtype=np.int32)

    def _by_byte(self, state: int, state_row: StateRow) -> tuple[np.ndarray, np.ndarray]:
        """The state's completion points grouped by child byte: only the ends longest match
        allows when its terminal follows it (`longest_match`)."""
        if self._longest is not None and self._longest[state]:
            return state_row.longest_by_byte_offsets, state_row.longest_by_byte_nodes
        return state_row.by_byte_offsets, state_row.by_byte_nodes

    def completions_before(self, slot: int, first_bytes: np.ndarray) -> np.ndarray:
        """The slot's completion points (sorted) that have a child on one of ``first_bytes``.

        Those are the only points where a set starting with those bytes can go on.  Memoised
        per ``(slot, bytes)``, bounded (a cache only).
        """
        key = (slot, first_bytes.tobytes())
        found = self._following.get(key)
        if found is not None:
            return found
        offsets, nodes = self._by_byte_of_slot[slot]
        parts = [nodes[offsets[b] : offsets[b + 1]] for b in first_bytes.tolist()]
        found = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int32)
        found = found.astype(np.int32)
        with self._lock:
            if len(self._following) >= 4096:
                self._following.clear()
            self._following[key] = found
        return found


def build_terminal_token_table(
    tables: GrammarTables, cache: TerminalCache, limits: CompileLimits, cfg_limits: CFGLimits
) -> TerminalTokenTable:
    """The grammar's (lazily filled) `TerminalTokenTable` over the vocabulary's `TerminalCache`."""
    limits.check("max_index_bytes", tables.num_states * cache.words * 4)  # the most it can ever hold
    return TerminalTokenTable(tables, cache, limits, cfg_limits)


class FrontierScratch:
    """Scratch arrays of `_kernels.fill_mask` (one per thread): frontier pairs per trie depth."""

    def __init__(self, max_depth: int, capacity: int = 64) -> None:
        self.missing = np.empty(4096, dtype=np.int32)
        self.clock = np.zeros(1, dtype=np.int64)
        self.entry_stamp = np.zeros(0, dtype=np.int64)
        self.set_stamp = np.zeros(0, dtype=np.int64)
        self.resize(max_depth, capacity)

    def stamps_for(self, num_entries: int, num_sets: int) -> tuple[np.ndarray, np.ndarray]:
        """Stamp arrays covering the index's current entries and sets (zeros never match a stamp)."""
        if self.entry_stamp.shape[0] < num_entries:
            self.entry_stamp = np.zeros(2 * num_entries, dtype=np.int64)
        if self.set_stamp.shape[0] < num_sets:
            self.set_stamp = np.zeros(2 * num_sets, dtype=np.int64)
        return self.entry_stamp, self.set_stamp

    def resize(self, max_depth: int, capacity: int) -> None:
        self.capacity = capacity
        self.counts = np.zeros(max_depth + 2, dtype=np.int64)
        self.path_node = np.empty(max_depth + 2, dtype=np.int64)
        self.path_cursor = np.empty(max_depth + 2, dtype=np.int64)
        self.resume = np.full(1, -1, dtype=np.int64)
        self.states = np.empty((max_depth + 2, capacity), dtype=np.int32)
        self.entries = np.empty((max_depth + 2, capacity), dtype=np.int32)
        self.covered = np.empty((max_depth + 2, capacity), dtype=np.bool_)


def fill_token_mask_frontier(
    index: SetIndex,
    table: TerminalTokenTable,
    tables: GrammarTables,
    state: ParseState,
    out: np.ndarray,
    scratch: FrontierScratch,
    max_frontier: int,
) -> None:
    """OR into ``out`` (uint32 ``[W]``) the regular tokens allowed after ``state`` (EOS not included).

    One walk per `EarleyEngine.mask_variants` part (one unless longest match holds back
    terminal ends), each cut to its first bytes (`TerminalTokenTable.first_byte_row`): the
    walk steps the initial DFA states themselves, so it cannot use the cut slots of
    `TerminalTokenTable.restricted_lowering`.
    Raises `CompileLimitExceeded` if a frontier would exceed ``max_frontier`` pairs.
    """
    index.start_mask()
    for first_bytes, entries, _ in index.engine.mask_variants(state):
        if first_bytes == ALL_BYTES:
            _walk_frontier(index, table, tables, entries, out, scratch, max_frontier)
        else:
            part = np.zeros_like(out)
            _walk_frontier(index, table, tables, entries, part, scratch, max_frontier)
            out |= part & table.first_byte_row(first_bytes)


def _walk_frontier(
    index: SetIndex,
    table: TerminalTokenTable,
    tables: GrammarTables,
    entries: tuple[tuple[int, EarleySet], ...],
    out: np.ndarray,
    scratch: FrontierScratch,
    max_frontier: int,
) -> None:
    """OR into ``out`` the tokens the lexer ``entries`` may read (`fill_token_mask_frontier`).

    One `_kernels.fill_mask` call does the whole walk; when it meets parser answers not
    computed yet it suspends, `SetIndex.resolve` asks the parser, and the kernel resumes
    where it stopped.  Once a grammar's contexts have been seen, a walk is one call.
    """
    trie = table.trie
    scratch.resume[0] = -1
    lowered = None
    while True:
        if lowered is None:
            lowered = lower_state(index, table, [(ALL_BYTES, entries, None)])
            if lowered is None:
                continue  # the index started over meanwhile
            scratch.resume[0] = -1
            pairs, epoch = lowered
            initial_states, initial_entries, initial_slots = unpack_pairs(table, pairs)
            slots = table.arrays()  # after lower_state: holds every initial slot
            completions = initial_completions(index, table, initial_entries, initial_slots, epoch)
            if completions is None:
                lowered = None  # the index started over meanwhile
                continue
            completion_offsets, completion_nodes = completions
        lowered_sets = index.arrays()
        entry_first, entry_count, entry_state, entry_next = lowered_sets[:4]
        if lowered_sets.epoch != epoch:
            lowered = None  # another thread started a new epoch: start this mask afresh
            continue
        entry_stamp, set_stamp = scratch.stamps_for(entry_next.shape[0], entry_first.shape[0])
        found = _kernels.fill_mask(
            tables.transitions, tables.accepting, tables.longest_states, trie.node_end, trie.token_offsets, trie.token_ids,
            trie.max_depth, slots.rows, completion_offsets, completion_nodes,
            table.child_offsets, table.child_bytes, table.child_nodes, initial_states, initial_entries,
            initial_slots, entry_first, entry_count, entry_state, entry_next, lowered_sets.set_sig,
            lowered_sets.sig_byte_offsets, lowered_sets.sig_byte_entries, lowered_sets.num_sets, out, scratch.missing, scratch.states,
            scratch.entries, scratch.covered, entry_stamp, set_stamp, scratch.clock, scratch.counts, scratch.path_node,
            scratch.path_cursor, scratch.resume,
        )  # fmt: skip
        if found < 0:
            if scratch.capacity >= max_frontier:
                raise CompileLimitExceeded(
                    "max_frontier_entries", 2 * scratch.capacity, max_frontier, hint="grammar too ambiguous"
                )
            scratch.resize(trie.max_depth, min(2 * scratch.capacity, max_frontier))
            continue
        if not found:
            return
        index.resolve(scratch.missing[: min(int(found), scratch.missing.shape[0])], epoch)


def initial_completions(
    index: SetIndex, table: TerminalTokenTable, entries: np.ndarray, slots: np.ndarray, epoch: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per initial pair, the completion points where the set after its terminal can go on (CSR).

    A point whose node has no child on a byte the following set can start with only leads
    to tokens already in the row, so the walk need not descend to it.  This is what keeps
    ``NAME``-like terminals (which may end after almost every byte) cheap: their set goes on
    only after the few nodes followed by an operator, a blank or a bracket.  Asks the
    parser for following sets not computed yet.  ``None`` if the index started a new epoch.
    """
    wanted = [int(e) for e in entries.tolist() if e >= 0]
    lowered = index.arrays()
    missing = [e for e in wanted if not 0 <= lowered.entry_next[e] < lowered.num_sets]
    if missing:
        index.resolve(np.array(missing, dtype=np.int32), epoch)
        lowered = index.arrays()
    if lowered.epoch != epoch:
        return None
    offsets = np.zeros(entries.shape[0] + 1, dtype=np.int64)
    parts: list[np.ndarray] = []
    for i, (entry, slot) in enumerate(zip(entries.tolist(), slots.tolist(), strict=True)):
        if entry >= 0:
            base = int(lowered.set_sig[lowered.entry_next[entry]]) * 257
            per_byte = lowered.sig_byte_offsets[base : base + 257]
            first_bytes = np.flatnonzero(per_byte[1:] > per_byte[:-1]).astype(np.uint8)
            parts.append(table.completions_before(slot, first_bytes))
            offsets[i + 1] = offsets[i] + parts[-1].shape[0]
        else:
            offsets[i + 1] = offsets[i]
    nodes = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, dtype=np.int32)
    return offsets, nodes


PAIR_SHIFT = _kernels.PAIR_SHIFT  # a lowered lexer entry: ``slot << PAIR_SHIFT | (SetIndex entry + 1)``
ROW_COVERED = _kernels.ROW_COVERED  # in a pair: the slot's row is in a union row of the same mask
MIN_UNION_ENTRIES = 3
"""A fresh set with fewer lexer entries ORs their rows one by one (`TerminalTokenTable.union_slot`)."""
MAX_LOWERED_ENTRIES = 1 << 16
"""`SetIndex.lowered_entries` starts afresh (same epoch) past this many answers: a memo of a
mask's preparation only (about 130 bytes an answer), bounded well below the sets it refers to."""


def lower_state(
    index: SetIndex, table: TerminalTokenTable, variants: list[MaskPart]
) -> tuple[np.ndarray, int] | None:
    """The kernel's view of a parse state: ``(initial pairs, epoch)``, the pairs int64 (`PAIR_SHIFT`).

    ``variants`` are the state's `EarleyEngine.mask_variants`: ``(first bytes, lexer entries,
    fresh set)``.  Each lexer entry ``(DFA state, origin set)`` becomes its DFA state's
    `TerminalTokenTable` slot (filled on first use; cut to the variant's first bytes unless
    it has them all, `TerminalTokenTable.restricted_lowering`) and, when the terminal may
    end inside a token (the slot has completion points), the `SetIndex` entry of its origin
    set for that terminal (else -1); pairs are listed once.  The fresh set's own entries (its
    start states; a set made again also holds advanced ones), when it has a union row
    (`TerminalTokenTable.union_slot`), are marked `ROW_COVERED` and the union's pair is
    added.  ``None`` if the index started a new epoch meanwhile (the caller tries again).
    Runs once per uncached mask, so the answer per lexer entry is memoised in the index's
    epoch (`SetIndex.lowered_entries`): a mask costs one dict read per entry and one small
    array.
    """
    epoch, known = index.lowered_entries
    get = known.get
    pairs: list[int] = []
    for first_bytes, entries, fresh in variants:
        if not first_bytes:
            continue  # a part cut to no byte reads nothing
        whole = first_bytes == ALL_BYTES
        covered: frozenset[int] | tuple[()] = ()  # start states of ``fresh`` its union row holds
        if fresh is not None:
            union_key = (fresh, first_bytes)
            union = get(union_key, _UNION_NOT_YET)
            if union == _UNION_NOT_YET:
                union = _union_of(index, table, fresh, first_bytes, union_key, epoch)
            if union >= 0:
                pairs.append(union << PAIR_SHIFT)  # entry -1: a row only
                covered = frozenset(fresh.entry_states)
        for lexer_entry in entries:
            key = lexer_entry if whole else (lexer_entry, first_bytes)
            pair = get(key)
            if pair is None:
                pair = _lower_entry(index, table, lexer_entry, first_bytes, key, epoch)
                if pair is None:
                    return None
            if lexer_entry[1] is fresh and lexer_entry[0] in covered:
                pair |= ROW_COVERED  # (a set made again at a later byte also has advanced entries)
            pairs.append(pair)
    if len(pairs) > 1:
        pairs = list(dict.fromkeys(pairs))
    return np.array(pairs, dtype=np.int64), epoch


def _union_of(
    index: SetIndex, table: TerminalTokenTable, fresh: EarleySet, first_bytes: int, key: object, epoch: int
) -> int:
    """The union slot of ``fresh``'s lexer entries (-1: none, or not yet), memoised in
    ``index.lowered_entries`` once final."""
    if len(fresh.entry_states) < MIN_UNION_ENTRIES:
        union = -1
    else:
        union = table.union_slot(fresh.entry_states, first_bytes)
        if union == _UNION_NOT_YET:
            return -1
    current, known = index.lowered_entries
    if current == epoch and len(known) < MAX_LOWERED_ENTRIES:
        known[key] = union  # immutable value: a race only computes it twice
    return union


def _lower_entry(
    index: SetIndex,
    table: TerminalTokenTable,
    lexer_entry: tuple[int, EarleySet],
    first_bytes: int,
    key: object,
    epoch: int,
) -> int | None:
    """`lower_state`'s pair for one lexer entry, memoised under ``key`` in ``index.lowered_entries``."""
    dfa_state, origin = lexer_entry
    if first_bytes == ALL_BYTES:
        slot, terminal = table.lowering(dfa_state)
    else:
        slot, terminal = table.restricted_lowering(dfa_state, first_bytes)
    entry = -1
    if terminal >= 0:
        entry, answered = index.entry_for(origin, terminal)
        if answered != epoch:
            return None
    pair = (slot << PAIR_SHIFT) | (entry + 1)
    current, known = index.lowered_entries
    if current == epoch:
        if len(known) >= MAX_LOWERED_ENTRIES:
            index.lowered_entries = (epoch, {})  # a memo only: start it afresh
        else:
            known[key] = pair  # immutable value: a race only computes it twice
    return pair


def unpack_pairs(table: TerminalTokenTable, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(DFA states, entries, slots)`` (int32 each) of `lower_state`'s pairs (for `_kernels.fill_mask`)."""
    slots = ((pairs & ~ROW_COVERED) >> PAIR_SHIFT).astype(np.int32)
    entries = ((pairs & ((1 << PAIR_SHIFT) - 1)) - 1).astype(np.int32)
    return table.states_of_slots(slots), entries, slots


MEMO_SECONDS_PER_MASK = 0.25
"""Time one mask may spend building subtree memos (if the grammar has earned it, see
`SubtreeMemo.earn`); a mask needing more is walked
(`fill_token_mask_frontier`), so a context far from everything seen costs about one walk more,
while the memo still grows.  (Only speed depends on it, never a mask.)"""


class JobScratch:
    """Scratch arrays of `_kernels.fill_mask_jobs` (one per thread): the job list and its visited set."""

    def __init__(self, capacity: int = 1024) -> None:
        self.missing = np.empty(4096, dtype=np.int32)
        self.counts = np.zeros(1, dtype=np.int64)
        self.clock = np.zeros(2, dtype=np.int64)
        self.frontier: FrontierScratch | None = None  # for masks that need `fill_token_mask_frontier`
        self.resize(capacity)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self.jobs = np.empty(capacity, dtype=np.int64)
        self.deferred = np.empty(capacity, dtype=np.int64)
        size = 1 << (2 * capacity + 1).bit_length()  # a power of two above twice the jobs
        self.visit_keys = np.zeros(size, dtype=np.int64)
        self.visit_stamps = np.zeros(size, dtype=np.int64)  # the clock starts at 1: zeros mark nothing


def fill_token_mask(
    index: SetIndex,
    table: TerminalTokenTable,
    memo: SubtreeMemo,
    tables: GrammarTables,
    state: ParseState,
    out: np.ndarray,
    scratch: JobScratch,
    max_jobs: int,
) -> None:
    """OR into ``out`` (uint32 ``[W]``) the regular tokens allowed after ``state`` (EOS not included).

    Where longest match holds back terminal ends, the state's `EarleyEngine.mask_variants`
    parts are lowered together, each cut to its first bytes in its slots (`lower_state`).
    One `_kernels.fill_mask_jobs` call does the whole mask once the grammar has seen the
    parser answers and subtree memos it needs; otherwise the kernel defers the jobs that need
    them, `SetIndex.resolve` / `SubtreeMemo.build` compute them, and the kernel goes on with
    the deferred jobs.  Raises `CompileLimitExceeded` past ``max_jobs`` jobs in one mask.
    """
    index.start_mask()
    memo.start_mask()
    variants = index.engine.mask_variants(state)
    shift = _kernels.JOB_SHIFT
    deadline = time.perf_counter() + min(MEMO_SECONDS_PER_MASK, memo.build_credit)
    while True:  # (re)start the mask afresh
        lowered = lower_state(index, table, variants)
        if lowered is None:
            continue  # the index started over meanwhile
        initial_pairs, epoch = lowered
        slots = table.arrays()  # after lower_state: holds every initial slot
        generation = memo.generation
        fresh, num_jobs = True, 0
        while True:
            sets = index.arrays()
            if sets.epoch != epoch or memo.generation != generation:
                break  # another thread dropped a cache: start this mask afresh
            memos = memo.arrays()
            result = int(
                _kernels.fill_mask_jobs(
                    slots.rows, initial_pairs, sets.entry_first, sets.entry_count,
                    sets.entry_next, sets.num_sets, sets.set_sig,
                    memos.table_keys, memos.table_values, memos.memo_row, memos.memo_token_offsets,
                    memos.token_pool, memos.memo_rows, memos.memo_group_offsets, memos.group_entry,
                    memos.group_code, out, scratch.jobs, num_jobs, scratch.deferred, scratch.missing,
                    scratch.counts, scratch.visit_keys, scratch.visit_stamps, scratch.clock, fresh,
                )
            )  # fmt: skip
            num_missing = int(scratch.counts[0])
            if result == -1:  # the job list is full: start afresh with more room
                if scratch.capacity >= max_jobs:
                    raise CompileLimitExceeded(
                        "max_frontier_entries", 2 * scratch.capacity, max_jobs, hint="grammar too ambiguous"
                    )
                scratch.resize(min(2 * scratch.capacity, max_jobs))
                fresh, num_jobs = True, 0
                continue
            if num_missing:
                index.resolve(scratch.missing[: min(num_missing, scratch.missing.shape[0])].copy(), epoch)
            if result == -2:  # an initial entry needed a parser answer: start afresh
                fresh, num_jobs = True, 0
                continue
            if result == 0:
                return
            # A handful of keys: plain Python beats numpy's per-call cost here.
            code_mask = (1 << shift) - 1
            set_sig = sets.set_sig
            wanted = sorted(
                {(int(set_sig[key >> shift]), key & code_mask) for key in scratch.deferred[:result].tolist()}
            )
            built = memo.build(wanted, slots, deadline)
            if built < len(wanted):  # a context far from what the memo holds: walk it, memoise the rest later
                if scratch.frontier is None:
                    scratch.frontier = FrontierScratch(table.trie.max_depth)
                walk_started = time.perf_counter()
                fill_token_mask_frontier(index, table, tables, state, out, scratch.frontier, max_jobs)
                memo.earn(time.perf_counter() - walk_started)
                return
            if memo.generation != generation:
                break
            scratch.jobs, scratch.deferred = scratch.deferred, scratch.jobs
            fresh, num_jobs = False, result
