"""numba kernel of the CFG mask: the lexer-only part of a token-trie walk.

`walk_subtrees` walks token-trie subtrees (layout: `automask.compiler.token_index.trie`)
from a list of global terminal-DFA states (see `tables.GrammarTables`), one state at a
time, as if only that terminal were being lexed:

- a token whose bytes keep the DFA alive is allowed: its bit is OR-ed into ``out``;
- a DEAD transition skips the whole subtree (``node_end``);
- a node after which the DFA accepts *and* that has descendants is a *completion point*:
  the terminal may end there and the rest of a longer token belongs to the parser.  It is
  recorded as ``(node, index of the start state)`` in ``completion_nodes`` /
  ``completion_entries`` so that Python can build the next Earley set and walk on.

Roots: ``roots[i] = -1`` walks the whole trie (the state is the one before any byte);
``roots[i] = n`` walks the strict descendants of node ``n`` with the state given for after
node ``n``.  Returns the number of completion points found; only the first
``len(completion_nodes)`` are stored, so a caller seeing a larger count grows its buffers
and calls again (the bits are idempotent).

`walk_subtrees_reference` is the pure-Python specification; tests compare the two.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def _readonly(dtype, ndim: int) -> nb.types.Array:
    return nb.types.Array(dtype, ndim, "C", readonly=True)


_WALK_SIGNATURE = nb.int64(
    _readonly(nb.int32, 2),  # transitions [S, 256], DEAD = -1
    _readonly(nb.boolean, 1),  # accepting [S]
    _readonly(nb.uint8, 1),  # node_byte
    _readonly(nb.int32, 1),  # node_depth
    _readonly(nb.int32, 1),  # node_end
    _readonly(nb.int32, 1),  # token_offsets
    _readonly(nb.int32, 1),  # token_ids
    nb.int64,  # max_depth
    _readonly(nb.int32, 1),  # start states
    _readonly(nb.int32, 1),  # roots (-1 = whole trie)
    nb.uint32[::1],  # out bits (OR-ed into)
    nb.int32[::1],  # completion_nodes (output)
    nb.int32[::1],  # completion_entries (output)
)


@nb.njit(_WALK_SIGNATURE, cache=True, nogil=True)
def walk_subtrees(
    transitions,
    accepting,
    node_byte,
    node_depth,
    node_end,
    token_offsets,
    token_ids,
    max_depth,
    states,
    roots,
    out,
    completion_nodes,
    completion_entries,
):  # pragma: no cover - compiled
    capacity = completion_nodes.shape[0]
    found = 0
    state_at = np.empty(max_depth + 1, dtype=np.int32)
    num_nodes = node_byte.shape[0]
    for r in range(roots.shape[0]):
        root = roots[r]
        if root < 0:
            first, stop, base = 0, num_nodes, 0
        else:
            first, stop, base = root + 1, node_end[root], node_depth[root]
        for e in range(states.shape[0]):
            state_at[base] = states[e]
            node = first
            while node < stop:
                depth = node_depth[node]
                state = transitions[state_at[depth - 1], node_byte[node]]
                if state < 0:
                    node = node_end[node]
                    continue
                state_at[depth] = state
                for k in range(token_offsets[node], token_offsets[node + 1]):
                    token = token_ids[k]
                    out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
                if accepting[state] and node_end[node] > node + 1:
                    if found < capacity:
                        completion_nodes[found] = node
                        completion_entries[found] = e
                    found += 1
                node += 1
    return found


def walk_subtrees_reference(
    transitions: np.ndarray,
    accepting: np.ndarray,
    node_byte: np.ndarray,
    node_depth: np.ndarray,
    node_end: np.ndarray,
    token_offsets: np.ndarray,
    token_ids: np.ndarray,
    states: np.ndarray,
    roots: np.ndarray,
    out: np.ndarray,
) -> list[tuple[int, int]]:
    """Specification of `walk_subtrees`: per (root, state), per node, step the DFA from the root.

    Returns the completion points ``(node, entry)`` in the kernel's order.
    """
    completions: list[tuple[int, int]] = []
    num_nodes = len(node_byte)
    for root in roots.tolist():
        nodes = range(num_nodes) if root < 0 else range(root + 1, int(node_end[root]))
        base = 0 if root < 0 else int(node_depth[root])
        for entry, start in enumerate(states.tolist()):
            path: list[int] = []  # nodes from the root (exclusive) down to the current node
            for node in nodes:
                depth = int(node_depth[node])
                del path[depth - base - 1 :]
                path.append(node)
                state = start
                for step in path:
                    state = int(transitions[state, node_byte[step]])
                    if state < 0:
                        break
                if state < 0:
                    continue
                for token in token_ids[token_offsets[node] : token_offsets[node + 1]].tolist():
                    out[token >> 5] |= np.uint32(1 << (token & 31))
                if accepting[state] and node_end[node] > node + 1:
                    completions.append((node, entry))
    return completions
