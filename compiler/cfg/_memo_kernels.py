"""numba kernel of `subtree_memo.SubtreeMemo`: one memo (a root list under one lexer signature).

`memo_walk` does in one call what `SubtreeMemo._walk_reference` (the pure-Python
specification, kept for the tests) does with a dozen numpy passes; building a memo was the
largest single cost of first-visit masks (0.3 ms of Python overhead around a walk that often
takes tens of microseconds).  Layouts: the token trie (`token_index.trie`), its child lists
(`_kernels.child_lists`, node ``n``'s children at ``child_offsets[n + 1] : child_offsets[n + 2]``),
the grammar's global DFA (`tables.GrammarTables`).

A memo walks from *start nodes*, where the previous terminal has just ended and the
signature's entries start reading: for an initial slot (odd codes), the children of the
slot's completion points on the bytes some entry can start with (`slot_start_nodes`); for a
group (even codes), its nodes.  Every entry starts afresh at each start node by that node's
byte.  The memo describes the *union* of what the entries read from the start nodes
(inclusive):

- ``tokens``: the tokens below the start nodes that some entry reads to their end, each
  once, in trie order;
- the completion points ``(node, entry)``, where an entry's terminal may end at a node with
  descendants, grouped by entry as the children of those nodes (the start nodes of the walk
  in the set after that terminal): ``groups`` int32 ``[G]`` (the entries),
  ``node_offsets`` int64 ``[G + 1]`` and ``nodes`` int32 (ascending within a group, each once).

Why a root list holds every byte: one per ``(entry, byte)`` made one job per byte after each
terminal end inside a token (``+`` then each letter, digit or bracket that may follow),
hundreds per mask in expression grammars, where one job per entry reads the same tokens.

Why one merged walk: root lists nest (the places where ``%ignore WS`` ends along a run of
blanks, where a name ends along a longer name), and walking each root's subtree on its own
read the overlap once per root -- more than the whole trie for a run of blanks, which used to
make such memos too large to build and every mask that needed one a full frontier walk.  The
walk here visits each node of the union once and carries, per depth, the deduplicated DFA
states alive after the path (started afresh at every child it passes), so its cost is bounded
by the union's size times the states alive at once.

``row`` is a zeroed scratch bitset of the vocabulary's width, left zeroed.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from automask.compiler.cfg._kernels import JOB_SHIFT, extends_match, hash_slot, table_lookup
from automask.compiler.token_index._kernels import TRIE_ARRAY_TYPES


def _readonly(dtype, ndim: int) -> nb.types.Array:
    return nb.types.Array(dtype, ndim, "C", readonly=True)


@nb.njit(cache=True, nogil=True)
def _merged_walk(
    transitions,
    accepting,
    node_byte,
    node_depth,
    node_end,
    token_offsets,
    token_ids,
    max_depth,
    child_offsets,
    below,
    entry_states,
    capacity,
    row,
):  # pragma: no cover - compiled
    """Walk the union of the subtrees of ``below`` (start nodes, ascending), every entry
    started afresh at each start node by that node's byte, OR-ing the tokens read into
    ``row``; returns ``(number of completion points or -1 if a frontier passed capacity,
    point nodes, point entries, point DFA states)``."""
    # Pairs (state, entry) alive after the path to each depth, deduplicated by state (a global
    # DFA state belongs to one terminal, so to one entry).
    frontier = np.empty((max_depth + 1, capacity), dtype=np.int32)
    frontier_entry = np.empty((max_depth + 1, capacity), dtype=np.int32)
    frontier_size = np.zeros(max_depth + 1, dtype=np.int64)
    seen = np.zeros(transitions.shape[0], dtype=np.int64)  # stamp per state: added at this node
    point_nodes = np.empty(64, dtype=np.int32)
    point_entries = np.empty(64, dtype=np.int32)
    point_states = np.empty(64, dtype=np.int32)
    num_points = 0
    stamp = 0
    num_below = below.shape[0]
    next_root = 0
    while next_root < num_below:
        outer = below[next_root]
        stop = node_end[outer]
        node = outer
        while node < stop:
            depth = node_depth[node]
            stamp += 1
            size = 0
            if node != outer:
                step = node_byte[node]
                for p in range(frontier_size[depth - 1]):
                    state = transitions[frontier[depth - 1, p], step]
                    if state >= 0 and seen[state] != stamp:
                        if size == capacity:
                            return -1, point_nodes, point_entries, point_states
                        seen[state] = stamp
                        frontier[depth, size] = state
                        frontier_entry[depth, size] = frontier_entry[depth - 1, p]
                        size += 1
            if next_root < num_below and below[next_root] == node:  # entries start afresh here
                next_root += 1
                step = node_byte[node]
                for j in range(entry_states.shape[0]):
                    state = transitions[entry_states[j], step]
                    if state >= 0 and seen[state] != stamp:
                        if size == capacity:
                            return -1, point_nodes, point_entries, point_states
                        seen[state] = stamp
                        frontier[depth, size] = state
                        frontier_entry[depth, size] = j
                        size += 1
            frontier_size[depth] = size
            if size == 0:
                if next_root < num_below and below[next_root] < node_end[node]:
                    target = below[next_root]  # nothing alive until that root: jump there
                    for d in range(depth, node_depth[target]):
                        frontier_size[d] = 0
                    node = target
                else:
                    node = node_end[node]
                continue
            for k in range(token_offsets[node], token_offsets[node + 1]):
                token = token_ids[k]
                row[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
            if node_end[node] > node + 1:
                for p in range(size):
                    state = frontier[depth, p]
                    if accepting[state]:
                        if num_points == point_nodes.shape[0]:
                            point_nodes = _grown(point_nodes)
                            point_entries = _grown(point_entries)
                            point_states = _grown(point_states)
                        point_nodes[num_points] = node
                        point_entries[num_points] = frontier_entry[depth, p]
                        point_states[num_points] = state
                        num_points += 1
            node += 1
    return num_points, point_nodes, point_entries, point_states


@nb.njit(cache=True, nogil=True)
def _grown(array):  # pragma: no cover - compiled
    grown = np.empty(2 * array.shape[0], dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


@nb.njit(cache=True, nogil=True)
def _group_points(
    point_nodes,
    point_entries,
    point_states,
    child_offsets,
    child_bytes,
    child_nodes,
    transitions,
    accepting,
    longest,
):  # pragma: no cover - compiled
    """Group the points ``(node, entry)`` by entry, as the children the walk after the
    entry's terminal starts from: one key per (point, child of its node), sorted, duplicates
    dropped.  A child whose byte takes a longest-match terminal to an accepting state again is
    no end of it (`longest_match`): no key."""
    num_keys = 0
    for p in range(point_nodes.shape[0]):
        node = point_nodes[p]
        num_keys += child_offsets[node + 2] - child_offsets[node + 1]
    keys = np.empty(num_keys, dtype=np.int64)
    at = 0
    for p in range(point_nodes.shape[0]):
        node = point_nodes[p]
        state = point_states[p]
        for c in range(child_offsets[node + 1], child_offsets[node + 2]):
            if longest[state] and extends_match(transitions, accepting, state, child_bytes[c]):
                continue
            keys[at] = (np.int64(point_entries[p]) << 32) | np.int64(child_nodes[c])
            at += 1
    keys = np.unique(keys[:at])
    num_keys = keys.shape[0]
    num_groups = 0
    for i in range(num_keys):
        if i == 0 or (keys[i] >> 32) != (keys[i - 1] >> 32):
            num_groups += 1
    groups = np.empty(num_groups, dtype=np.int32)
    node_offsets = np.empty(num_groups + 1, dtype=np.int64)
    nodes = np.empty(num_keys, dtype=np.int32)
    g = -1
    for i in range(num_keys):
        entry = keys[i] >> 32
        if i == 0 or entry != (keys[i - 1] >> 32):
            g += 1
            groups[g] = np.int32(entry)
            node_offsets[g] = i
        nodes[i] = np.int32(keys[i] & 0xFFFFFFFF)
    node_offsets[num_groups] = num_keys
    return groups, node_offsets, nodes


_MEMO_WALK_SIGNATURE = nb.types.Tuple((nb.int32[::1], nb.int32[::1], nb.int64[::1], nb.int32[::1]))(
    _readonly(nb.int32, 2),  # transitions [S, 256]
    _readonly(nb.boolean, 1),  # accepting [S]
    _readonly(nb.boolean, 1),  # longest [S] (`longest_match`)
    *TRIE_ARRAY_TYPES,
    _readonly(nb.int64, 1),  # child_offsets
    _readonly(nb.uint8, 1),  # child_bytes
    _readonly(nb.int32, 1),  # child_nodes
    _readonly(nb.int32, 1),  # entry_states: the signature's entries' DFA start states
    _readonly(nb.int32, 1),  # start nodes (ascending, each once)
    nb.uint32[::1],  # row: zeroed scratch bits, left zeroed
)


@nb.njit(_MEMO_WALK_SIGNATURE, cache=True, nogil=True)
def memo_walk(
    transitions,
    accepting,
    longest,
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
    below,
    row,
):  # pragma: no cover - compiled
    empty_tokens = np.zeros(0, dtype=np.int32)
    num_below = below.shape[0]
    if num_below == 0:
        return empty_tokens, np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64), empty_tokens
    capacity = max(16, entry_states.shape[0])
    while True:
        num_points, point_nodes, point_entries, point_states = _merged_walk(
            transitions, accepting, node_byte, node_depth, node_end, token_offsets, token_ids, max_depth,
            child_offsets, below, entry_states, capacity, row,
        )  # fmt: skip
        if num_points >= 0:
            break
        capacity *= 2  # a frontier overflowed: again with room (the bits are idempotent)
    # The tokens read to their end, in trie order (the roots' subtrees, outermost only).
    walked = 0
    stop = -1
    for i in range(num_below):
        if below[i] >= stop:
            stop = node_end[below[i]]
            walked += token_offsets[stop] - token_offsets[below[i]]
    tokens = np.empty(walked, dtype=np.int32)
    num_tokens = 0
    stop = -1
    for i in range(num_below):
        if below[i] < stop:
            continue
        stop = node_end[below[i]]
        for k in range(token_offsets[below[i]], token_offsets[stop]):
            token = token_ids[k]
            word, bit = token >> 5, np.uint32(1) << np.uint32(token & 31)
            if row[word] & bit:
                tokens[num_tokens] = token
                num_tokens += 1
                row[word] &= ~bit
    groups, node_offsets, nodes = _group_points(
        point_nodes[:num_points], point_entries[:num_points], point_states[:num_points], child_offsets,
        child_bytes, child_nodes, transitions, accepting, longest,
    )  # fmt: skip
    return tokens[:num_tokens].copy(), groups, node_offsets, nodes


@nb.njit(cache=True, nogil=True)
def table_put(keys, values, key, value):  # pragma: no cover - compiled
    """Store ``key -> value`` in an open-addressing table (linear probing from `hash_slot`, -1 =
    empty); the key is written last, so a reader that sees it sees its value.
    Reference: `subtree_memo._probe_insert`."""
    mask = keys.shape[0] - 1
    at = hash_slot(key, mask)
    while keys[at] >= 0:
        at = (at + 1) & mask
    values[at] = value
    keys[at] = key


@nb.njit(cache=True, nogil=True)
def append_memo(
    memo,
    num_groups,
    num_rows,
    key,
    tokens,
    groups,
    node_offsets,
    nodes,
    codes,
    kept,
    row_tokens,
    table_keys,
    table_values,
    memo_row,
    memo_token_offsets,
    token_pool,
    memo_rows,
    memo_group_offsets,
    group_entry,
    group_code,
    group_node_offsets,
    node_pool,
):  # pragma: no cover - compiled
    """Write memo number ``memo`` (the result of `memo_walk`, its groups' canonical ``codes``
    and whether each group ``kept`` its nodes) after the ``num_groups`` groups and
    ``num_rows`` rows already stored, then publish ``key`` in the hash table -- last, so that
    a reader who finds the key finds its data (`subtree_memo` module docstring).

    The caller has checked the room (`_needed_sizes`).  Reference: `SubtreeMemo._insert_reference`.
    """
    as_row = tokens.shape[0] > row_tokens
    token_first = memo_token_offsets[memo]
    token_stop = token_first + (0 if as_row else tokens.shape[0])
    group_stop = num_groups + groups.shape[0]
    node_first = group_node_offsets[num_groups]
    if as_row:
        row = memo_rows[num_rows]
        row[:] = 0
        for token in tokens:
            row[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
        memo_row[memo] = num_rows
    else:
        token_pool[token_first:token_stop] = tokens
        memo_row[memo] = -1
    memo_token_offsets[memo + 1] = token_stop
    at_node = node_first
    for group in range(groups.shape[0]):
        slot = num_groups + group
        group_entry[slot] = groups[group]
        group_code[slot] = codes[group]
        if kept[group]:
            for position in range(node_offsets[group], node_offsets[group + 1]):
                node_pool[at_node] = nodes[position]
                at_node += 1
        group_node_offsets[slot + 1] = at_node
    memo_group_offsets[memo + 1] = group_stop
    table_put(table_keys, table_values, key, memo)


@nb.njit(cache=True, nogil=True)
def _needed_sizes(
    needed,
    counters,
    new_roots,
    num_tokens,
    num_groups,
    kept_nodes,
    row_tokens,
    memo_token_offsets,
    group_node_offsets,
):  # pragma: no cover - compiled
    """Fill ``needed`` (`NEEDED_FIELDS` order) with the size every array needs for one more memo
    of ``num_tokens`` tokens and ``num_groups`` groups keeping ``kept_nodes`` nodes and
    ``new_roots`` new root lists (the tables at most half full).
    Reference: `SubtreeMemo._needed`."""
    memo, stored_groups, rows, roots = counters[0], counters[1], counters[2], counters[3]
    as_row = num_tokens > row_tokens
    group_stop = stored_groups + num_groups
    needed[0] = needed[1] = 2 * (memo + 1) + 1
    needed[2] = memo + 1
    needed[3] = needed[6] = memo + 2
    needed[4] = memo_token_offsets[memo] + (0 if as_row else num_tokens)
    needed[5] = rows + (1 if as_row else 0)
    needed[7] = needed[8] = group_stop
    needed[9] = group_stop + 1
    needed[10] = group_node_offsets[stored_groups] + kept_nodes
    needed[11] = needed[12] = 2 * (roots + new_roots) + 1


# ---------------------------------------------------------------------------------------
# Root lists shared by content (``group_code``), found through a hash table.
#
# ``root_keys`` int64 / ``root_groups`` int32 (open addressing, linear probing, -1 = empty,
# at most half full) map a hash of a group's start nodes to the first group with those
# nodes (the only group that keeps its nodes in ``node_pool``); a hash match is confirmed
# by comparing the nodes.  `SubtreeMemo._group_codes_reference` is the specification: the
# first earlier group with the same nodes.
# ---------------------------------------------------------------------------------------

_ROOT_HASH_MULTIPLIER = np.int64(-7046029254386353131)


@nb.njit(cache=True, nogil=True, inline="always")
def _root_list_hash(nodes, start, stop):  # pragma: no cover - compiled
    h = np.int64(1)
    for i in range(start, stop):
        h = (h ^ np.int64(nodes[i])) * _ROOT_HASH_MULTIPLIER
    return (h ^ (h >> 29)) & np.int64(0x7FFFFFFFFFFFFFFF)  # >= 0: -1 marks an empty slot


@nb.njit(cache=True, nogil=True)
def _same_nodes(left, left_start, left_stop, right, right_start, right_stop):  # pragma: no cover - compiled
    if left_stop - left_start != right_stop - right_start:
        return False
    for i in range(left_stop - left_start):  # noqa: SIM110 - a generator in all() does not compile in numba
        if left[left_start + i] != right[right_start + i]:
            return False
    return True


@nb.njit(cache=True, nogil=True)
def _find_root_list(
    root_keys, root_groups, h, nodes, start, stop, group_node_offsets, node_pool
):  # pragma: no cover - compiled
    """The group holding the start nodes ``nodes[start:stop]`` (hash ``h``), or -1."""
    mask = root_keys.shape[0] - 1
    at = hash_slot(h, mask)
    while root_keys[at] >= 0:
        if root_keys[at] == h:
            g = root_groups[at]
            if _same_nodes(node_pool, group_node_offsets[g], group_node_offsets[g + 1], nodes, start, stop):
                return g
        at = (at + 1) & mask
    return -1


@nb.njit(
    nb.void(
        nb.int64, _readonly(nb.int32, 1), _readonly(nb.int64, 1), _readonly(nb.int32, 1), nb.int64[::1],
        nb.int32[::1],
    ),
    cache=True,
    nogil=True,
)  # fmt: skip
def rehash_root_lists(
    num_groups, group_code, group_node_offsets, node_pool, root_keys, root_groups
):  # pragma: no cover - compiled
    """Fill the (empty) root table with every group that is its own code (a new generation)."""
    for g in range(num_groups):
        if group_code[g] == g:
            h = _root_list_hash(node_pool, group_node_offsets[g], group_node_offsets[g + 1])
            table_put(root_keys, root_groups, h, g)


@nb.njit(
    nb.void(_readonly(nb.int64, 1), _readonly(nb.int32, 1), nb.int64[::1], nb.int32[::1]),
    cache=True,
    nogil=True,
)
def rehash_table(old_keys, old_values, keys, values):  # pragma: no cover - compiled
    """Insert every entry of the table ``old_keys -> old_values`` into the empty ``keys -> values``."""
    for i in range(old_keys.shape[0]):
        if old_keys[i] >= 0:
            table_put(keys, values, old_keys[i], old_values[i])


@nb.njit(cache=True, nogil=True)
def slot_start_nodes(
    slot,
    entry_states,
    transitions,
    slot_byte_offsets,
    slot_byte_nodes,
    child_offsets,
    child_bytes,
    child_nodes,
):  # pragma: no cover - compiled
    """The start nodes of initial slot ``slot`` (odd codes) under a signature whose entries
    start in ``entry_states``: the children ``child(m, b)`` of the slot's completion points
    ``m`` with a child on ``b`` (longest match applied, `TerminalTokenTable`), for the bytes
    ``b`` some entry can read first; ascending, each once.
    Reference: `SubtreeMemo._start_nodes_reference`."""
    total = 0
    for b in range(256):
        total += slot_byte_offsets[slot * 257 + b + 1] - slot_byte_offsets[slot * 257 + b]
    nodes = np.empty(total, dtype=np.int32)
    count = 0
    for b in range(256):
        at = slot * 257 + b
        if slot_byte_offsets[at + 1] == slot_byte_offsets[at]:
            continue
        live = False
        for e in range(entry_states.shape[0]):
            if transitions[entry_states[e], b] >= 0:
                live = True
                break
        if not live:
            continue
        for i in range(slot_byte_offsets[at], slot_byte_offsets[at + 1]):
            m = slot_byte_nodes[i]
            for p in range(child_offsets[m + 1], child_offsets[m + 2]):
                if child_bytes[p] == b:
                    nodes[count] = child_nodes[p]
                    count += 1
                    break
    return np.unique(nodes[:count])


NEEDED_FIELDS = (
    "table_keys", "table_values", "memo_row", "memo_token_offsets", "token_pool", "memo_rows",
    "memo_group_offsets", "group_entry", "group_code", "group_node_offsets", "node_pool",
    "root_keys", "root_groups",
)  # fmt: skip
"""The arrays of `build_memos`, in its argument order (also the order of its ``needed`` output)."""


_BUILD_MEMOS_SIGNATURE = nb.int64(
    _readonly(nb.int64, 1),  # keys
    _readonly(nb.int64, 1),  # sig_state_offsets [signatures + 1] (`set_index.LoweredSets`)
    _readonly(nb.int32, 1),  # sig_states
    _readonly(nb.int64, 1),  # slot_byte_offsets (`token_walk.SlotArrays`)
    _readonly(nb.int32, 1),  # slot_byte_nodes
    _readonly(nb.int32, 2),  # transitions
    _readonly(nb.boolean, 1),  # accepting
    _readonly(nb.boolean, 1),  # longest
    *TRIE_ARRAY_TYPES,
    _readonly(nb.int64, 1),  # child_offsets
    _readonly(nb.uint8, 1),  # child_bytes
    _readonly(nb.int32, 1),  # child_nodes
    nb.uint32[::1],  # row (zeroed scratch)
    nb.int64,  # row_tokens: a memo with more tokens is stored as a row
    nb.int64[::1],  # counters [4] (in/out)
    nb.int64[::1],  # needed [len(NEEDED_FIELDS)] (out)
    nb.int64[::1],  # table_keys
    nb.int32[::1],  # table_values
    nb.int32[::1],  # memo_row
    nb.int64[::1],  # memo_token_offsets
    nb.int32[::1],  # token_pool
    nb.uint32[:, ::1],  # memo_rows
    nb.int64[::1],  # memo_group_offsets
    nb.int32[::1],  # group_entry
    nb.int32[::1],  # group_code
    nb.int64[::1],  # group_node_offsets
    nb.int32[::1],  # node_pool
    nb.int64[::1],  # root_keys
    nb.int32[::1],  # root_groups
)


# fmt: off
@nb.njit(_BUILD_MEMOS_SIGNATURE, cache=True, nogil=True)
def build_memos(
    keys, sig_state_offsets, sig_states, slot_byte_offsets, slot_byte_nodes,
    transitions, accepting, longest, node_byte, node_depth, node_end, token_offsets, token_ids, max_depth,
    child_offsets, child_bytes, child_nodes, row, row_tokens, counters, needed,
    table_keys, table_values, memo_row, memo_token_offsets, token_pool, memo_rows, memo_group_offsets,
    group_entry, group_code, group_node_offsets, node_pool, root_keys, root_groups,
):  # pragma: no cover - compiled
    # fmt: on
    """Build the memos of ``keys`` (``signature << JOB_SHIFT | code``, the signature's entry
    start states at ``sig_states[sig_state_offsets[signature] : ...]``) not built yet, in order: per
    key one `memo_walk`, its groups' canonical codes (the root table), one `append_memo`.

    ``counters`` int64 ``[4]`` (in/out): memos, groups, rows, root lists stored.  Returns how
    many keys are done; fewer than ``len(keys)`` when an array lacks room for the next memo:
    then ``needed`` holds the size every array of `NEEDED_FIELDS` needs and nothing of that
    memo is written (the caller grows them, a new generation, and calls again with the rest).
    Why one call for many memos: a first-visit memo is tiny (median 2 tokens, 1 group) and
    the Python around three kernel calls per memo cost ten times its walk.
    Reference: `SubtreeMemo._walk_reference`, `_group_codes_reference`, `_insert_reference`.
    """
    code_mask = (np.int64(1) << JOB_SHIFT) - 1
    for k in range(keys.shape[0]):
        key = keys[k]
        if table_lookup(table_keys, table_values, key) >= 0:
            continue
        code = key & code_mask
        entry_states = sig_states[sig_state_offsets[key >> JOB_SHIFT] : sig_state_offsets[(key >> JOB_SHIFT) + 1]]
        if code & 1:
            starts = slot_start_nodes(
                code >> 1, entry_states, transitions, slot_byte_offsets, slot_byte_nodes, child_offsets,
                child_bytes, child_nodes,
            )  # fmt: skip
        else:
            group = code >> 1
            starts = node_pool[group_node_offsets[group] : group_node_offsets[group + 1]]
        tokens, groups, node_offsets, nodes = memo_walk(
            transitions, accepting, longest, node_byte, node_depth, node_end, token_offsets, token_ids,
            max_depth, child_offsets, child_bytes, child_nodes, entry_states, starts, row,
        )  # fmt: skip
        num_memos, num_groups, num_rows, num_roots = counters[0], counters[1], counters[2], counters[3]
        # Canonical codes: an earlier group (stored, or of this memo) with the same root list.
        num_new = groups.shape[0]
        codes = np.empty(num_new, dtype=np.int32)
        kept = np.zeros(num_new, dtype=np.bool_)
        hashes = np.empty(num_new, dtype=np.int64)
        new_roots = 0
        for g in range(num_new):
            start, stop = node_offsets[g], node_offsets[g + 1]
            h = _root_list_hash(nodes, start, stop)
            hashes[g] = h
            found = _find_root_list(root_keys, root_groups, h, nodes, start, stop, group_node_offsets, node_pool)
            if found < 0:
                for earlier in range(g):
                    if (
                        kept[earlier]
                        and hashes[earlier] == h
                        and _same_nodes(
                            nodes, node_offsets[earlier], node_offsets[earlier + 1], nodes, start, stop
                        )
                    ):
                        found = num_groups + earlier
                        break
            if found < 0:
                found = num_groups + g
                kept[g] = True
                new_roots += 1
            codes[g] = found
        kept_nodes = 0
        for g in range(num_new):
            if kept[g]:
                kept_nodes += node_offsets[g + 1] - node_offsets[g]
        _needed_sizes(
            needed, counters, new_roots, tokens.shape[0], num_new, kept_nodes, row_tokens, memo_token_offsets,
            group_node_offsets,
        )  # fmt: skip
        sizes = (
            table_keys.shape[0], table_values.shape[0], memo_row.shape[0], memo_token_offsets.shape[0],
            token_pool.shape[0], memo_rows.shape[0], memo_group_offsets.shape[0], group_entry.shape[0],
            group_code.shape[0], group_node_offsets.shape[0], node_pool.shape[0],
            root_keys.shape[0], root_groups.shape[0],
        )  # fmt: skip
        for field in range(len(sizes)):
            if sizes[field] < needed[field]:
                return k  # nothing of this memo written: the caller grows the arrays to ``needed``
        append_memo(
            num_memos, num_groups, num_rows, key, tokens, groups, node_offsets, nodes, codes, kept, row_tokens,
            table_keys, table_values, memo_row, memo_token_offsets, token_pool, memo_rows, memo_group_offsets,
            group_entry, group_code, group_node_offsets, node_pool,
        )  # fmt: skip
        for g in range(num_new):
            if kept[g]:
                table_put(root_keys, root_groups, hashes[g], num_groups + g)
        counters[0] = num_memos + 1
        counters[1] = num_groups + num_new
        counters[2] = num_rows + (1 if tokens.shape[0] > row_tokens else 0)
        counters[3] = num_roots + new_roots
    return keys.shape[0]
