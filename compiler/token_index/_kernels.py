"""numba kernels of the token index.  Plain numpy arrays in, plain numpy arrays out.

`fill_allowed_rows` is the build-time hot loop: for each representative DFA state it walks
the depth-first token trie (see `trie.TokenTrie` for the layout), stepping the byte DFA
once per trie edge and skipping a whole subtree as soon as the DFA is ``DEAD``.  A token
is allowed iff the walk reaches its node.  The pure-Python specification is
`reference.allowed_rows_reference` (a per-token byte walk); tests compare the two.

Explicit signatures make numba compile at import (or load from its on-disk cache), so no
JIT ever happens in the middle of a build, let alone a decoding step.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def _readonly(dtype, ndim: int) -> nb.types.Array:
    """A C-contiguous input array type; writable arrays convert to it implicitly."""
    return nb.types.Array(dtype, ndim, "C", readonly=True)


TRIE_ARRAY_TYPES = (
    _readonly(nb.uint8, 1),  # node_byte
    _readonly(nb.int32, 1),  # node_depth
    _readonly(nb.int32, 1),  # node_end
    _readonly(nb.int32, 1),  # token_offsets
    _readonly(nb.int32, 1),  # token_ids
    nb.int64,  # max_depth
)
"""The token trie's arrays as kernels take them (`trie.TokenTrie`), then its ``max_depth``."""

_FILL_SIGNATURE = nb.void(
    _readonly(nb.int32, 2),  # transitions [num_states, 256], DEAD = -1
    _readonly(nb.int32, 1),  # start states, one per output row
    *TRIE_ARRAY_TYPES,
    nb.uint32[:, ::1],  # out rows [len(start states), words], zeroed by the caller
)


@nb.njit(_FILL_SIGNATURE, cache=True, nogil=True)
def fill_allowed_rows(
    transitions, starts, node_byte, node_depth, node_end, token_offsets, token_ids, max_depth, out
):  # pragma: no cover - compiled
    num_nodes = node_byte.shape[0]
    # state_at[d] = DFA state after the first d bytes of the current trie path.
    state_at = np.empty(max_depth + 1, dtype=np.int32)
    for row in range(starts.shape[0]):
        state_at[0] = starts[row]
        node = 0
        while node < num_nodes:
            depth = node_depth[node]
            state = transitions[state_at[depth - 1], node_byte[node]]
            if state < 0:
                node = node_end[node]
                continue
            state_at[depth] = state
            for k in range(token_offsets[node], token_offsets[node + 1]):
                token = token_ids[k]
                out[row, token >> 5] |= np.uint32(1) << np.uint32(token & 31)
            node += 1


_REFINE_SIGNATURE = nb.int64(
    _readonly(nb.int32, 2),  # transitions restricted to distinct byte columns [num_states, C]
    _readonly(nb.int32, 1),  # current class of each state
    nb.int32[::1],  # out: refined class of each state
)


@nb.njit(_REFINE_SIGNATURE, cache=True, nogil=True)
def refine_partition(columns, classes, out):  # pragma: no cover - compiled
    """One Moore refinement round; returns the number of refined classes.

    Two states share a refined class iff they share a class and, for every byte column,
    their successors share a class (or are both ``DEAD``).  Exact: an open-addressing hash
    table keyed by the signature, comparing full signatures on every probe.
    """
    num_states, num_columns = columns.shape
    capacity = 1
    while capacity < 2 * num_states:
        capacity *= 2
    mask = capacity - 1
    slot_state = np.full(capacity, -1, dtype=np.int64)  # a representative state per slot
    slot_class = np.empty(capacity, dtype=np.int32)
    num_classes = 0
    for s in range(num_states):
        h = np.uint64(classes[s]) * np.uint64(0x9E3779B97F4A7C15)
        for c in range(num_columns):
            t = columns[s, c]
            v = np.uint64(classes[t] + 1) if t >= 0 else np.uint64(0)
            h = (h ^ v) * np.uint64(0x100000001B3)
            h ^= h >> np.uint64(29)
        slot = np.int64(h & np.uint64(mask))
        while True:
            r = slot_state[slot]
            if r < 0:
                slot_state[slot] = s
                slot_class[slot] = num_classes
                out[s] = num_classes
                num_classes += 1
                break
            same = classes[r] == classes[s]
            if same:
                for c in range(num_columns):
                    a = columns[s, c]
                    b = columns[r, c]
                    ca = classes[a] if a >= 0 else -1
                    cb = classes[b] if b >= 0 else -1
                    if ca != cb:
                        same = False
                        break
            if same:
                out[s] = slot_class[slot]
                break
            slot = (slot + 1) & mask
    return num_classes


_TRIE_SIGNATURE = nb.int64(
    _readonly(nb.uint8, 1),  # data: token bytes, concatenated in any order
    _readonly(nb.int64, 1),  # starts [T]: token k is data[starts[k]:starts[k] + lengths[k]]; sorted order
    _readonly(nb.int64, 1),  # lengths [T], all >= 1
    nb.uint8[::1],  # out node_byte [sum(lengths)] (an upper bound on the node count)
    nb.int32[::1],  # out node_depth [sum(lengths)]
    nb.int32[::1],  # out node_end [sum(lengths)]
    nb.int32[::1],  # out terminal_node [T]: the node where token k ends
)


@nb.njit(_TRIE_SIGNATURE, cache=True, nogil=True)
def build_trie_nodes(
    data, starts, lengths, node_byte, node_depth, node_end, terminal_node
):  # pragma: no cover
    """Depth-first trie nodes from lexicographically sorted strings; returns the node count.

    Each string adds one node per byte past its longest common prefix with the previous
    string, and nodes deeper than that prefix are closed (their subtree ends here).  Equal
    strings share their terminal node.  Returns -1 if the input is not sorted (a string
    that is a proper prefix of its predecessor), so the caller can sort more carefully.
    """
    num_strings = starts.shape[0]
    longest = 0
    for i in range(num_strings):
        longest = max(longest, lengths[i])
    path = np.empty(longest, dtype=np.int32)  # node of each byte of the previous string
    path_length = 0
    count = 0
    previous = 0
    for i in range(num_strings):
        start = starts[i]
        length = lengths[i]
        common = 0
        limit = min(path_length, length)
        while common < limit and data[previous + common] == data[start + common]:
            common += 1
        if common == length and length < path_length:
            return -1
        for k in range(common, path_length):  # empty for a repeat of the previous string
            node_end[path[k]] = count
        for k in range(common, length):
            node_byte[count] = data[start + k]
            node_depth[count] = k + 1
            path[k] = count
            count += 1
        path_length = length
        terminal_node[i] = path[length - 1]
        previous = start
    for k in range(path_length):
        node_end[path[k]] = count
    return count
