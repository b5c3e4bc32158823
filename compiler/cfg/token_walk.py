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
  the parser must be asked.

At run time (`fill_token_mask`): OR the rows of the state's entries; then, for every
completion point, build the next Earley set (memoised by `EarleyEngine.complete`) and walk
the subtree below that node from the new set's entries with the numba kernel, which again
reports completion points; repeat until no completion point is left (tokens are finite).
Completion points are grouped by the Earley set they lead to, so each distinct set costs
one kernel call over all its subtrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.cfg import _kernels
from automask.compiler.cfg.earley import EarleyEngine, EarleySet, ParseState
from automask.compiler.cfg.limits import CFGLimits
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

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.completion_offsets.nbytes + self.completion_nodes.nbytes)


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
    for array in (rows, offsets, nodes):
        array.setflags(write=False)
    return TerminalTokenTable(trie, rows, offsets, nodes.astype(np.int32), words)


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


def fill_token_mask(
    engine: EarleyEngine, table: TerminalTokenTable, state: ParseState, out: np.ndarray
) -> None:
    """OR into ``out`` (uint32 ``[W]``) the regular tokens allowed after ``state`` (EOS not included)."""
    tables = engine.tables
    owner = tables.state_terminal
    offsets, all_nodes, rows = table.completion_offsets, table.completion_nodes, table.rows
    pending: dict[EarleySet, list[np.ndarray]] = {}
    seen_states: set[int] = set()
    for dfa_state, origin in state.entries:
        if dfa_state not in seen_states:
            seen_states.add(dfa_state)
            np.bitwise_or(out, rows[dfa_state], out=out)
        first, stop = offsets[dfa_state], offsets[dfa_state + 1]
        if stop > first:
            following = engine.complete(frozenset(((int(owner[dfa_state]), origin),)))
            pending.setdefault(following, []).append(all_nodes[first:stop])
    buffer_nodes = np.empty(4096, dtype=np.int32)
    buffer_entries = np.empty(4096, dtype=np.int32)
    walked: dict[EarleySet, np.ndarray] = {}  # roots already walked from each set
    while pending:
        here, root_lists = pending.popitem()
        if not here.entries:
            continue  # the parser expects no terminal after this one: nothing longer fits
        # Each list is sorted and duplicate-free (CSR slices, kernel output in preorder).
        roots = root_lists[0] if len(root_lists) == 1 else np.unique(np.concatenate(root_lists))
        before = walked.get(here)
        if before is not None:
            roots = roots[~np.isin(roots, before, assume_unique=True)]
            if roots.size == 0:
                continue
            walked[here] = np.concatenate((before, roots))
        else:
            walked[here] = roots
        starts = np.fromiter((s for s, _ in here.entries), dtype=np.int32, count=len(here.entries))
        while True:
            found = _walk(tables, table.trie, starts, roots, out, buffer_nodes, buffer_entries)
            if found <= buffer_nodes.shape[0]:
                break
            buffer_nodes = np.empty(2 * found, dtype=np.int32)
            buffer_entries = np.empty(2 * found, dtype=np.int32)
        if not found:
            continue
        nodes, entry_of = buffer_nodes[:found], buffer_entries[:found]
        counts = np.bincount(entry_of, minlength=len(starts))
        for entry in np.flatnonzero(counts).tolist():
            dfa_state = int(starts[entry])
            following = engine.complete(frozenset(((int(owner[dfa_state]), here),)))
            chosen = nodes if counts[entry] == found else nodes[entry_of == entry]
            pending.setdefault(following, []).append(np.sort(chosen))
