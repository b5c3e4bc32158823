"""Token masks for a `ParseState`: precomputed per-terminal-state rows plus a parser-driven trie walk.

Why it splits like this: a token is allowed iff *some* lexer entry of the state can read
all its bytes, either staying inside the entry's terminal (context independent: depends
only on the DFA state) or ending the terminal somewhere inside the token and continuing in
the terminals the parser expects next (context dependent).  Entries are independent
alternatives, so the mask is the union over entries.

Precomputed at compile time (`TerminalTokenTable`, immutable), for every global DFA state
``s`` (see `tables.GrammarTables`):

- ``rows[s]``: uint32 words ``[S, W]`` - tokens whose bytes keep the DFA alive from ``s``
  (the context-independent part, exactly a regex token-index row);
- ``completion_offsets`` int64 ``[S + 1]`` / ``completion_nodes`` int32: CSR list of the trie
  nodes (with descendants) after which the DFA from ``s`` accepts - the only places where
  the parser must be asked;
- ``child_offsets`` / ``child_bytes`` / ``child_nodes``: the trie's child lists as CSR
  (`_kernels.child_lists`), so the run-time walk skips a dead byte without touching the
  (large, cache-cold) subtree arrays.

At run time (`fill_token_mask`), one numba call (`_kernels.fill_mask`): OR the rows of the
state's entries; then, for every completion point, continue in the Earley set that follows
(looked up in the lowered `set_index.SetIndex`) and walk the subtree below that node from
that set's entries, which again reports completion points, until none is left (tokens are
finite).  ``(set, node)`` pairs are walked once.  Parser answers not computed yet send the
kernel back to Python once (`SetIndex.resolve`), then it runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.cfg import _kernels
from automask.compiler.cfg.earley import ParseState
from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.set_index import SetIndex
from automask.compiler.cfg.tables import GrammarTables
from automask.compiler.limits import CompileLimits
from automask.compiler.token_index.trie import TokenTrie
from automask.errors import CompileLimitExceeded


@dataclass(frozen=True, eq=False)
class TerminalTokenTable:
    trie: TokenTrie
    rows: np.ndarray
    completion_offsets: np.ndarray
    completion_nodes: np.ndarray
    words: int
    child_offsets: np.ndarray
    child_bytes: np.ndarray
    child_nodes: np.ndarray

    @property
    def nbytes(self) -> int:
        arrays = (
            self.rows,
            self.completion_offsets,
            self.completion_nodes,
            self.child_offsets,
            self.child_nodes,
        )
        return int(sum(array.nbytes for array in arrays) + self.child_bytes.nbytes)


def build_terminal_token_table(
    tables: GrammarTables, trie: TokenTrie, vocab_size: int, limits: CompileLimits, cfg_limits: CFGLimits
) -> TerminalTokenTable:
    """Walk the whole trie once per global DFA state (numba) to fill the rows and completion lists."""
    words = (vocab_size + 31) // 32
    num_states = tables.num_states
    limits.check("max_index_bytes", num_states * words * 4)
    rows = np.zeros((num_states, words), dtype=np.uint32)
    per_state: list[np.ndarray] = []
    buffer_nodes = np.empty(1024, dtype=np.int32)
    buffer_entries = np.empty(1024, dtype=np.int32)
    total = 0
    root = np.array([-1], dtype=np.int32)
    for state in range(num_states):
        start = np.array([state], dtype=np.int32)
        while True:
            found = _walk(tables, trie, start, root, rows[state], buffer_nodes, buffer_entries)
            if found <= buffer_nodes.shape[0]:
                break
            buffer_nodes = np.empty(2 * found, dtype=np.int32)
            buffer_entries = np.empty(2 * found, dtype=np.int32)
        total += found
        if total > cfg_limits.max_completion_nodes:
            raise CompileLimitExceeded("max_completion_nodes", total, cfg_limits.max_completion_nodes)
        per_state.append(buffer_nodes[:found].copy())
    offsets = np.zeros(num_states + 1, dtype=np.int64)
    np.cumsum([len(nodes) for nodes in per_state], out=offsets[1:])
    nodes = np.concatenate(per_state) if per_state else np.zeros(0, np.int32)
    limits.check("max_index_bytes", int(rows.nbytes + nodes.nbytes + offsets.nbytes))
    child_offsets, child_bytes, child_nodes = _kernels.child_lists(trie.node_depth, trie.node_byte)
    nodes = nodes.astype(np.int32)
    for array in (rows, offsets, nodes, child_offsets, child_bytes, child_nodes):
        array.setflags(write=False)
    return TerminalTokenTable(trie, rows, offsets, nodes, words, child_offsets, child_bytes, child_nodes)


def _walk(
    tables: GrammarTables,
    trie: TokenTrie,
    states: np.ndarray,
    roots: np.ndarray,
    out: np.ndarray,
    completion_nodes: np.ndarray,
    completion_entries: np.ndarray,
) -> int:
    return int(
        _kernels.walk_subtrees(
            tables.transitions,
            tables.accepting,
            trie.node_byte,
            trie.node_depth,
            trie.node_end,
            trie.token_offsets,
            trie.token_ids,
            trie.max_depth,
            states,
            roots,
            out,
            completion_nodes,
            completion_entries,
        )
    )


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


def fill_token_mask(
    index: SetIndex,
    table: TerminalTokenTable,
    tables: GrammarTables,
    state: ParseState,
    out: np.ndarray,
    scratch: FrontierScratch,
    max_frontier: int,
) -> None:
    """OR into ``out`` (uint32 ``[W]``) the regular tokens allowed after ``state`` (EOS not included).

    One `_kernels.fill_mask` call does the whole walk; when it meets parser answers not
    computed yet it suspends, `SetIndex.resolve` asks the parser, and the kernel resumes
    where it stopped.  Once a grammar's contexts have been seen, a mask is one call.
    Raises `CompileLimitExceeded` if a frontier would exceed ``max_frontier`` pairs.
    """
    offsets = table.completion_offsets
    trie = table.trie
    index.start_mask()
    scratch.resume[0] = -1
    lowered = None
    while True:
        if lowered is None:
            lowered = lower_state(index, table, tables, state)
            if lowered is None:
                continue  # the index started over meanwhile
            scratch.resume[0] = -1
        initial_states, initial_entries, epoch = lowered
        lowered_sets = index.arrays()
        entry_first, entry_count, entry_state, entry_next = lowered_sets[:4]
        if lowered_sets.epoch != epoch:
            lowered = None  # another thread started a new epoch: start this mask afresh
            continue
        entry_stamp, set_stamp = scratch.stamps_for(entry_next.shape[0], entry_first.shape[0])
        found = _kernels.fill_mask(
            tables.transitions, tables.accepting, trie.node_end, trie.token_offsets, trie.token_ids,
            trie.max_depth, table.rows, offsets, table.completion_nodes, table.child_offsets,
            table.child_bytes, table.child_nodes, initial_states, initial_entries, entry_first,
            entry_count, entry_state, entry_next, lowered_sets.byte_offsets,
            lowered_sets.byte_entries, lowered_sets.num_sets, out, scratch.missing, scratch.states,
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


def lower_state(
    index: SetIndex, table: TerminalTokenTable, tables: GrammarTables, state: ParseState
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The kernel's view of ``state``: ``(initial dfa states, initial entries, epoch)``.

    An entry whose terminal may end inside a token (it has completion points) is paired with
    the `SetIndex` entry of its origin set for that terminal, the rest with -1.  ``None`` if
    the index started a new epoch while lowering (the caller tries again).
    """
    owner = tables.state_terminal
    offsets = table.completion_offsets
    lowered: dict[tuple[int, int], None] = {}
    epochs: set[int] = set()
    for dfa_state, origin in state.entries:
        entry = -1
        if offsets[dfa_state + 1] > offsets[dfa_state]:
            entry, epoch = index.entry_for(origin, int(owner[dfa_state]))
            epochs.add(epoch)
        lowered[(dfa_state, entry)] = None
    current = index.arrays().epoch
    if epochs - {current}:
        return None
    pairs = np.array(list(lowered), dtype=np.int32).reshape(-1, 2)
    return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]), current
