"""numba kernel of `subtree_memo.SubtreeMemo`: one memo (a root list under one lexer signature).

`memo_walk` does in one call what `SubtreeMemo._walk_reference` (the pure-Python
specification, kept for the tests) does with a dozen numpy passes; building a memo was the
largest single cost of first-visit masks (0.3 ms of Python overhead around a walk that often
takes tens of microseconds).  Layouts: the token trie (`token_index.trie`), its child lists
(`_kernels.child_lists`, node ``n``'s children at ``child_offsets[n + 1] : child_offsets[n + 2]``),
the grammar's global DFA (`tables.GrammarTables`).

Given the root list (trie nodes ``m`` that all have a child on ``byte``) and the DFA start
states of the signature's entries, it returns, exactly as the reference:

- ``status``: 0, or 1 when the subtrees below the roots hold more than ``max_walk_tokens``
  tokens counted with overlaps (the memo is *too large*, nothing else is returned);
- ``tokens``: the tokens below the children ``c = child(m, byte)`` (inclusive) that some
  live entry reads to their end, in the order of the roots and then of the trie (repeated
  where nested roots overlap);
- the completion points ``(node, entry)`` grouped by ``(entry, child byte)``: ``groups``
  int32 ``[G, 2]``, ``node_offsets`` int64 ``[G + 1]`` and ``nodes`` int32 (ascending within
  a group), one group per pair.

``row`` is a zeroed scratch bitset of the vocabulary's width, left zeroed.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from automask.compiler.cfg._kernels import walk_subtrees
from automask.compiler.token_index._kernels import TRIE_ARRAY_TYPES


def _readonly(dtype, ndim: int) -> nb.types.Array:
    return nb.types.Array(dtype, ndim, "C", readonly=True)


_MEMO_WALK_SIGNATURE = nb.types.Tuple(
    (nb.int64, nb.int32[::1], nb.int32[:, ::1], nb.int64[::1], nb.int32[::1])
)(
    _readonly(nb.int32, 2),  # transitions [S, 256]
    _readonly(nb.boolean, 1),  # accepting [S]
    *TRIE_ARRAY_TYPES,
    _readonly(nb.int64, 1),  # child_offsets
    _readonly(nb.uint8, 1),  # child_bytes
    _readonly(nb.int32, 1),  # child_nodes
    _readonly(nb.int32, 1),  # entry_states: the signature's entries' DFA start states
    _readonly(nb.int32, 1),  # roots
    nb.int64,  # byte
    nb.int64,  # max_walk_tokens
    nb.uint32[::1],  # row: zeroed scratch bits, left zeroed
)


@nb.njit(_MEMO_WALK_SIGNATURE, cache=True, nogil=True)
def memo_walk(
    transitions,
    accepting,
    node_byte,
    node_depth,
    node_end,
    token_offsets,
    token_ids,
    max_depth,
    child_offsets,
    child_bytes,
    child_nodes,
    entry_states,
    roots,
    byte,
    max_walk_tokens,
    row,
):  # pragma: no cover - compiled
    empty_tokens = np.zeros(0, dtype=np.int32)
    empty_groups = np.zeros((0, 2), dtype=np.int32)
    empty_offsets = np.zeros(1, dtype=np.int64)
    # The child on `byte` of every root.
    below = np.empty(roots.shape[0], dtype=np.int32)
    num_below = 0
    for r in range(roots.shape[0]):
        m = roots[r]
        for p in range(child_offsets[m + 1], child_offsets[m + 2]):
            if child_bytes[p] == byte:
                below[num_below] = child_nodes[p]
                num_below += 1
                break
    walked = 0
    for i in range(num_below):
        walked += token_offsets[node_end[below[i]]] - token_offsets[below[i]]
    if walked > max_walk_tokens:
        return 1, empty_tokens, empty_groups, empty_offsets, empty_tokens
    live = np.empty(entry_states.shape[0], dtype=np.int32)  # entry index of each live state
    live_states = np.empty(entry_states.shape[0], dtype=np.int32)
    num_live = 0
    for e in range(entry_states.shape[0]):
        stepped = transitions[entry_states[e], byte]
        if stepped >= 0:
            live[num_live] = e
            live_states[num_live] = stepped
            num_live += 1
    if num_live == 0 or num_below == 0:
        return 0, empty_tokens, empty_groups, empty_offsets, empty_tokens
    # Walk the strict descendants of the children with each live state (`_kernels.walk_subtrees`,
    # again with room for every point if the first buffers were short: bits are idempotent);
    # completion points (node, entry) where a state accepts at a node with descendants.
    roots = below[:num_below].copy()
    states = live_states[:num_live].copy()
    point_nodes = np.empty(64, dtype=np.int32)
    point_entries = np.empty(64, dtype=np.int32)
    num_points = walk_subtrees(
        transitions, accepting, node_byte, node_depth, node_end, token_offsets, token_ids, max_depth,
        states, roots, row, point_nodes, point_entries,
    )  # fmt: skip
    if num_points > point_nodes.shape[0]:
        point_nodes = np.empty(num_points, dtype=np.int32)
        point_entries = np.empty(num_points, dtype=np.int32)
        walk_subtrees(
            transitions, accepting, node_byte, node_depth, node_end, token_offsets, token_ids, max_depth,
            states, roots, row, point_nodes, point_entries,
        )  # fmt: skip
    for p in range(num_points):
        point_entries[p] = live[point_entries[p]]  # index into the live states -> entry
    # The children themselves: tokens ending there, and points where a live state accepts.
    extra = 0
    for i in range(num_below):
        child = below[i]
        for k in range(token_offsets[child], token_offsets[child + 1]):
            token = token_ids[k]
            row[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
        if node_end[child] > child + 1:
            for j in range(num_live):
                if accepting[live_states[j]]:
                    extra += 1
    if extra:
        grown_nodes = np.empty(num_points + extra, dtype=np.int32)
        grown_entries = np.empty(num_points + extra, dtype=np.int32)
        grown_nodes[:num_points] = point_nodes[:num_points]
        grown_entries[:num_points] = point_entries[:num_points]
        point_nodes, point_entries = grown_nodes, grown_entries
        for i in range(num_below):
            child = below[i]
            if node_end[child] > child + 1:
                for j in range(num_live):
                    if accepting[live_states[j]]:
                        point_nodes[num_points] = child
                        point_entries[num_points] = live[j]
                        num_points += 1
    # The tokens read to their end, in the order of the children's subtrees.
    tokens = np.empty(walked, dtype=np.int32)
    num_tokens = 0
    for i in range(num_below):
        child = below[i]
        for k in range(token_offsets[child], token_offsets[node_end[child]]):
            token = token_ids[k]
            if (row[token >> 5] >> np.uint32(token & 31)) & np.uint32(1):
                tokens[num_tokens] = token
                num_tokens += 1
    for i in range(num_below):
        child = below[i]
        for k in range(token_offsets[child], token_offsets[node_end[child]]):
            row[token_ids[k] >> 5] = 0
    # Group the points by (entry, child byte): one key per (point, child of its node).
    num_keys = 0
    for p in range(num_points):
        node = point_nodes[p]
        num_keys += child_offsets[node + 2] - child_offsets[node + 1]
    keys = np.empty(num_keys, dtype=np.int64)
    at = 0
    for p in range(num_points):
        node = point_nodes[p]
        for c in range(child_offsets[node + 1], child_offsets[node + 2]):
            keys[at] = ((np.int64(point_entries[p]) * 256 + np.int64(child_bytes[c])) << 32) | np.int64(node)
            at += 1
    keys.sort()
    num_groups = 0
    for i in range(num_keys):
        if i == 0 or (keys[i] >> 32) != (keys[i - 1] >> 32):
            num_groups += 1
    groups = np.empty((num_groups, 2), dtype=np.int32)
    node_offsets = np.empty(num_groups + 1, dtype=np.int64)
    nodes = np.empty(num_keys, dtype=np.int32)
    g = -1
    for i in range(num_keys):
        pair = keys[i] >> 32
        if i == 0 or pair != (keys[i - 1] >> 32):
            g += 1
            groups[g, 0] = np.int32(pair >> 8)
            groups[g, 1] = np.int32(pair & 255)
            node_offsets[g] = i
        nodes[i] = np.int32(keys[i] & 0xFFFFFFFF)
    node_offsets[num_groups] = num_keys
    return 0, tokens[:num_tokens].copy(), groups, node_offsets, nodes
