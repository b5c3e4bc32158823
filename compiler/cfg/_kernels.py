"""numba kernel of the CFG mask: the lexer-only part of a token-trie walk.

`walk_subtrees` walks token-trie subtrees (layout: `automask.compiler.token_index.trie`)
from a list of global terminal-DFA states (see `tables.GrammarTables`), one state at a
time, as if only that terminal were being lexed:

- a token whose bytes keep the DFA alive is allowed: its bit is OR-ed into ``out``;
- a DEAD transition skips the whole subtree (``node_end``);
- a node after which the DFA accepts *and* that has descendants is a *completion point*:
  the terminal may end there and the rest of a longer token belongs to the parser.  It is
  recorded as ``(node, index of the start state, DFA state there)`` in ``completion_nodes`` /
  ``completion_entries`` / ``completion_states`` so that Python can build the next Earley
  set and walk on (the state says which next bytes longest match forbids there).

Skipping (`plain_slice`): with ``skip_depth >= 0``, a node whose ``skip_max`` is at most
``skip_depth`` is skipped with its subtree; the caller guarantees (for every start state)
that those tokens are allowed and hold no completion point, and ORs them in itself.

Safe subtrees (`safe_subtrees`): with rows in ``safe_states``, a node whose state is a safe
state and whose ``subtree_sets`` lie inside ``safe_bytes`` has its whole subtree's tokens
OR-ed and is jumped over (those bytes never leave the live, non-accepting safe states).

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

from automask.compiler.cfg import longest_match
from automask.compiler.token_index._kernels import TRIE_ARRAY_TYPES


def _readonly(dtype, ndim: int) -> nb.types.Array:
    return nb.types.Array(dtype, ndim, "C", readonly=True)


_WALK_SIGNATURE = nb.int64(
    _readonly(nb.int32, 2),  # transitions [S, 256], DEAD = -1
    _readonly(nb.boolean, 1),  # accepting [S]
    *TRIE_ARRAY_TYPES,
    _readonly(nb.int32, 1),  # start states
    _readonly(nb.int32, 1),  # roots (-1 = whole trie)
    nb.uint32[::1],  # out bits (OR-ed into)
    nb.int32[::1],  # completion_nodes (output)
    nb.int32[::1],  # completion_entries (output)
    nb.int32[::1],  # completion_states (output)
    _readonly(nb.int32, 1),  # skip_max: per node, the most characters of its subtree's tokens if all plain
    nb.int64,  # skip_depth: skip subtrees with skip_max <= this (-1: none; see `plain_slice`)
    _readonly(nb.uint64, 2),  # subtree_sets [N, 2]: the bytes below each node (`safe_subtrees`)
    _readonly(nb.uint64, 1),  # safe_bytes [2]: the walk's safe byte set
    _readonly(nb.boolean, 1),  # safe_states [S]: the walk's safe states (no rows: no skip)
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
    completion_states,
    skip_max,
    skip_depth,
    subtree_sets,
    safe_bytes,
    safe_states,
):  # pragma: no cover - compiled
    capacity = completion_nodes.shape[0]
    safe_skip = safe_states.shape[0] > 0
    outside_low, outside_high = ~safe_bytes[0], ~safe_bytes[1]
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
                if skip_depth >= 0 and skip_max[node] <= skip_depth:  # all in the caller's row
                    node = node_end[node]
                    continue
                depth = node_depth[node]
                state = transitions[state_at[depth - 1], node_byte[node]]
                if state < 0:
                    node = node_end[node]
                    continue
                state_at[depth] = state
                if (
                    safe_skip
                    and safe_states[state]
                    and ((subtree_sets[node, 0] & outside_low) | (subtree_sets[node, 1] & outside_high)) == 0
                ):  # a safe subtree: every token below allowed, no completion point
                    below = node_end[node]
                    for k in range(token_offsets[node], token_offsets[below]):
                        token = token_ids[k]
                        out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
                    node = below
                    continue
                for k in range(token_offsets[node], token_offsets[node + 1]):
                    token = token_ids[k]
                    out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
                if accepting[state] and node_end[node] > node + 1:
                    if found < capacity:
                        completion_nodes[found] = node
                        completion_entries[found] = e
                        completion_states[found] = state
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
) -> list[tuple[int, int, int]]:
    """Specification of `walk_subtrees`: per (root, state), per node, step the DFA from the root.

    Returns the completion points ``(node, entry, DFA state)`` in the kernel's order.
    """
    completions: list[tuple[int, int, int]] = []
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
                    completions.append((node, entry, state))
    return completions


# ---------------------------------------------------------------------------------------
# The whole mask in one call: one depth-first trie walk carrying the lexer/parser frontier.
#
# Earley sets are lowered (`set_index.SetIndex`) to integer ids with a flat list of lexer
# entries each: set ``s`` owns entries ``entry_first[s] .. entry_first[s] + entry_count[s]``;
# entry ``e`` starts terminal DFA state ``entry_state[e]`` and, when that terminal ends,
# the parser continues in set ``entry_next[e]`` (-1: not computed yet, Python must ask the
# parser; ids >= ``num_sets`` count as not computed too).
#
# The walk keeps, for every depth of the current trie path, the *frontier*: the pairs
# ``(dfa_state, entry)`` alive after the path's bytes (``entry``: whose terminal is being
# lexed, i.e. where the parser goes when it ends).  Stepping a byte steps every pair; a pair
# whose state accepts, at a node with children, also starts the set that follows (the
# llguidance design, with the parser lowered to table lookups).  A started set is one pair
# ``(-1, set)`` that the next byte expands into only the set's entries live on that byte
# (its signature's ``sig_byte_offsets`` / ``sig_byte_entries``), since most of them die at once.  A token is allowed
# iff some pair survives its last byte.
#
# The initial pairs (the parse state's entries) are *row-covered*: the tokens they read
# without ending their terminal are OR-ed in from ``rows`` up front (the context-independent
# part, the xgrammar idea), so a subtree in which only row-covered pairs are alive is entered
# only if it holds one of their completion points: precomputed nodes where the terminal
# may end, kept only where the set that follows can go on (the node has a child on a byte
# that set can start with; see `token_walk.fill_token_mask`).  Inside a JSON string that
# makes a mask one row copy plus a walk below the few nodes where the string may close.
#
# When a pair needs an ``entry_next`` not computed yet, the walk *suspends* at that node:
# it writes the missing entries to ``missing`` (up to its capacity), keeps its depth-first
# position in the scratch arrays (``resume[0]`` = depth), and returns their number.  Python
# asks the parser (`SetIndex.resolve`) and calls again with the same scratch; the walk
# redoes that node and goes on.  So a cold mask costs one round trip per new parser answer,
# never a second walk.  Returns 0 when the mask is complete (``resume[0] = -1``), and -1 if a
# frontier exceeds the scratch capacity (the caller starts afresh with larger arrays).
# ---------------------------------------------------------------------------------------

_FILL_SIGNATURE = nb.int64(
    _readonly(nb.int32, 2),  # transitions [S, 256]
    _readonly(nb.boolean, 1),  # accepting [S]
    _readonly(nb.boolean, 1),  # longest [S]: the state's terminal does not end before a byte extending it
    _readonly(nb.int32, 1),  # node_end
    _readonly(nb.int32, 1),  # token_offsets
    _readonly(nb.int32, 1),  # token_ids
    nb.int64,  # max_depth
    _readonly(nb.uint32, 2),  # rows [slots, W]
    _readonly(nb.int64, 1),  # completion_offsets [initial pairs + 1] (CSR, each list sorted)
    _readonly(nb.int32, 1),  # completion_nodes: where pair i's terminal may end and its set go on
    _readonly(nb.int64, 1),  # child_offsets [N + 2]: children of node n (-1 = root) at [n + 1, n + 2)
    _readonly(nb.uint8, 1),  # child_bytes
    _readonly(nb.int32, 1),  # child_nodes
    _readonly(nb.int32, 1),  # initial dfa states
    _readonly(nb.int32, 1),  # initial entries (-1: the terminal never ends inside a token)
    _readonly(nb.int32, 1),  # initial slots: row / completion list of each initial state
    nb.int32[::1],  # entry_first [sets]
    nb.int32[::1],  # entry_count [sets]
    nb.int32[::1],  # entry_state [entries]
    nb.int32[::1],  # entry_next [entries]
    nb.int32[::1],  # set_sig [sets]: each set's lexer signature
    nb.int32[::1],  # sig_byte_offsets [signatures * 257]
    nb.int32[::1],  # sig_byte_entries: positions within a set of that signature
    nb.int64,  # num_sets
    nb.uint32[::1],  # out
    nb.int32[::1],  # missing (output)
    nb.int32[:, ::1],  # frontier states [max_depth + 2, capacity] (scratch)
    nb.int32[:, ::1],  # frontier entries (scratch)
    nb.boolean[:, ::1],  # frontier row-covered flags (scratch)
    nb.int64[::1],  # entry_stamp [>= entries] (scratch, see `_add_pair`)
    nb.int64[::1],  # set_stamp [>= sets] (scratch: a set started twice at one node is added once)
    nb.int64[::1],  # clock [1]: the last stamp used (scratch, increases across calls)
    nb.int64[::1],  # counts [max_depth + 2]: frontier sizes (scratch, kept for a resume)
    nb.int64[::1],  # path_node [max_depth + 2] (scratch, kept for a resume)
    nb.int64[::1],  # path_cursor [max_depth + 2] (scratch, kept for a resume)
    nb.int64[::1],  # resume [1]: -1 = start afresh, else the depth to resume at (in/out)
)


@nb.njit(cache=True, nogil=True, inline="always")
def extends_match(transitions, accepting, state, byte):  # pragma: no cover - compiled
    """Whether ``byte`` takes ``state`` to an accepting state again: an end longest match
    forbids (`longest_match.extends_match` is the numpy form)."""
    target = transitions[state, byte]
    return target >= 0 and accepting[target]


@nb.njit(cache=True, nogil=True)
def _add_pair(
    states, entries, covered, level, count, state, entry, is_covered, entry_stamp, visit
):  # pragma: no cover
    """Append ``(state, entry)`` to frontier ``level`` unless present; returns the new count (-1: full).

    ``entry_stamp[entry] == visit`` says some pair of this entry is already at this level; only
    then (or for ``entry < 0``) is the level scanned, so deduplication is linear in practice.
    """
    if entry < 0 or entry_stamp[entry] == visit:
        for k in range(count):
            if states[level, k] == state and entries[level, k] == entry:
                if not is_covered:
                    covered[level, k] = False
                return count
    else:
        entry_stamp[entry] = visit
    if count == states.shape[1]:
        return -1
    states[level, count] = state
    entries[level, count] = entry
    covered[level, count] = is_covered
    return count + 1


@nb.njit(_FILL_SIGNATURE, cache=True, nogil=True)
def fill_mask(
    transitions,
    accepting,
    longest,
    node_end,
    token_offsets,
    token_ids,
    max_depth,
    rows,
    completion_offsets,
    completion_nodes,
    child_offsets,
    child_bytes,
    child_nodes,
    initial_states,
    initial_entries,
    initial_slots,
    entry_first,
    entry_count,
    entry_state,
    entry_next,
    set_sig,
    sig_byte_offsets,
    sig_byte_entries,
    num_sets,
    out,
    missing,
    states,
    entries,
    covered,
    entry_stamp,
    set_stamp,
    clock,
    counts,
    path_node,
    path_cursor,
    resume,
):  # pragma: no cover - compiled
    words = out.shape[0]
    room = missing.shape[0]
    found = 0
    total = 0
    fresh = resume[0] < 0
    for i in range(initial_states.shape[0]):
        slot = initial_slots[i]
        if fresh:
            for w in range(words):
                out[w] |= rows[slot, w]
        total += completion_offsets[i + 1] - completion_offsets[i]
    if total == 0:
        resume[0] = -1
        return 0

    sp = resume[0]
    resume[0] = -1
    count = 0
    clock[0] += 1
    for i in range(initial_states.shape[0] if fresh else 0):
        count = _add_pair(
            states,
            entries,
            covered,
            0,
            count,
            initial_states[i],
            initial_entries[i],
            True,
            entry_stamp,
            clock[0],
        )
        if count < 0:
            resume[0] = -1
            return -1
    if fresh:
        counts[0] = count
        sp = 0
        path_node[0] = -1
        path_cursor[0] = child_offsets[0]
    while sp >= 0:
        cursor = path_cursor[sp]
        if cursor == child_offsets[path_node[sp] + 2]:
            sp -= 1
            continue
        path_cursor[sp] = cursor + 1
        byte = child_bytes[cursor]
        node = child_nodes[cursor]
        has_children = child_offsets[node + 2] > child_offsets[node + 1]
        level = sp + 1
        count = 0
        alive = False
        suspend = False
        clock[0] += 1
        visit = clock[0]
        for j in range(counts[sp]):
            source = states[sp, j]
            if source >= 0:  # a lexer pair: step it
                lo, hi = 0, 1
            else:  # a started set: only its entries live on this byte
                if source <= -2 and extends_match(transitions, accepting, -2 - source, byte):
                    continue  # started by a longest-match end: not before a byte extending it
                started = entries[sp, j]
                base = set_sig[started] * 257 + byte
                lo, hi = sig_byte_offsets[base], sig_byte_offsets[base + 1]
            for k in range(lo, hi):
                if source >= 0:
                    entry = entries[sp, j]
                    state = transitions[source, byte]
                    is_covered = covered[sp, j]
                else:
                    entry = entry_first[started] + sig_byte_entries[k]
                    state = transitions[entry_state[entry], byte]
                    is_covered = False
                if state < 0:
                    continue
                alive = True
                count = _add_pair(
                    states, entries, covered, level, count, state, entry, is_covered, entry_stamp, visit
                )
                if count < 0:
                    resume[0] = -1
                    return -1
                if not (has_children and accepting[state]) or entry < 0:
                    continue
                following = entry_next[entry]
                if following < 0 or following >= num_sets:
                    if found < room:
                        missing[found] = entry
                    found += 1
                    suspend = True
                    continue
                if entry_count[following] == 0:
                    continue  # expects nothing
                marker = -2 - state if longest[state] else -1  # -1: the set goes on after any byte
                if set_stamp[following] == visit:  # already started at this node: by the same end?
                    duplicate = False
                    for k2 in range(count):
                        if states[level, k2] == marker and entries[level, k2] == following:
                            duplicate = True
                            break
                    if duplicate:
                        continue
                set_stamp[following] = visit
                if count == states.shape[1]:
                    resume[0] = -1
                    return -1
                states[level, count] = marker  # the started set, as one pair
                entries[level, count] = following
                covered[level, count] = False
                count += 1
        if suspend:  # come back to this very node once Python has the parser's answers
            path_cursor[sp] = cursor
            resume[0] = sp
            return found
        if not alive:
            continue
        for k in range(token_offsets[node], token_offsets[node + 1]):
            token = token_ids[k]
            out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
        if not has_children:
            continue
        needed = False
        for j in range(count):
            if not covered[level, j]:
                needed = True
                break
        if not needed:  # only row-covered pairs: enter only to reach one of their completion points
            for i in range(initial_states.shape[0]):  # each list is sorted (preorder)
                first, stop = completion_offsets[i], completion_offsets[i + 1]
                at = first + np.searchsorted(completion_nodes[first:stop], node)
                if at < stop and completion_nodes[at] < node_end[node]:
                    needed = True
                    break
        if not needed:
            continue
        counts[level] = count
        sp = level
        path_node[sp] = node
        path_cursor[sp] = child_offsets[node + 1]
    return 0


def fill_mask_reference(
    transitions: np.ndarray,
    accepting: np.ndarray,
    longest: np.ndarray,
    token_bytes: list[tuple[int, bytes]],
    initial_states: np.ndarray,
    initial_entries: np.ndarray,
    entry_first: np.ndarray,
    entry_count: np.ndarray,
    entry_state: np.ndarray,
    entry_next: np.ndarray,
    num_sets: int,
    out: np.ndarray,
) -> set[int]:
    """Specification of `fill_mask`: each token ``(id, bytes)`` lexed on its own, no rows, no trie.

    A pair whose terminal ends before the token's last byte starts the following set's
    entries, unless its terminal is under longest match (``longest``) and the next byte takes
    it to an accepting state again.  Returns the entries whose ``entry_next`` was needed but
    missing.
    """
    missing: set[int] = set()
    for token, data in token_bytes:
        frontier = set(zip(initial_states.tolist(), initial_entries.tolist(), strict=True))
        for position, byte in enumerate(data):
            stepped: set[tuple[int, int]] = set()
            for state, entry in frontier:
                target = int(transitions[state, byte])
                if target < 0:
                    continue
                stepped.add((target, entry))
                if accepting[target] and position + 1 < len(data) and entry >= 0:
                    if longest[target] and longest_match.extends_match(
                        transitions, accepting, target, data[position + 1]
                    ):
                        continue
                    following = int(entry_next[entry])
                    if not 0 <= following < num_sets:
                        missing.add(entry)
                        continue
                    first = int(entry_first[following])
                    stepped.update(
                        (int(entry_state[e]), e) for e in range(first, first + int(entry_count[following]))
                    )
            frontier = stepped
            if not frontier:
                break
        if frontier:
            out[token >> 5] |= np.uint32(1 << (token & 31))
    return missing


def child_lists(node_depth: np.ndarray, node_byte: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each trie node's children as CSR, for walks that must skip dead bytes cheaply.

    Returns ``(child_offsets int64 [N + 2], child_bytes uint8, child_nodes int32)``: the
    children of node ``n`` (``n = -1`` for the root) are ``child_nodes[child_offsets[n + 1] :
    child_offsets[n + 2]]`` in byte order, on edges ``child_bytes[...]``.
    """
    parents = node_parents(node_depth)
    order = np.argsort(parents, kind="stable").astype(np.int32)  # preorder = byte order within a parent
    counts = np.bincount(parents + 1, minlength=node_depth.shape[0] + 1)
    offsets = np.zeros(node_depth.shape[0] + 2, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets, np.ascontiguousarray(node_byte[order]), order


@nb.njit(nb.int64[::1](_readonly(nb.int32, 1)), cache=True, nogil=True)
def node_parents(node_depth):  # pragma: no cover - compiled
    """Parent of every preorder node (-1 for children of the root): the last node one level up."""
    parents = np.empty(node_depth.shape[0], dtype=np.int64)
    last_at = np.full(node_depth.max() + 2 if node_depth.shape[0] else 2, -1, dtype=np.int64)
    for node in range(node_depth.shape[0]):
        depth = node_depth[node]
        parents[node] = last_at[depth - 1]
        last_at[depth] = node
    return parents


# ---------------------------------------------------------------------------------------
# The mask as a worklist of *jobs* over memoised trie subtrees (`fill_mask_jobs`).
#
# A job ``(set s, root list r)`` says: "a terminal ended right before each *start node* of
# ``r`` and the parser goes on in Earley set ``s``"; its tokens are those below the start
# nodes (inclusive) whose remaining bytes ``s`` can read.  Root lists are coded as int64
# ``code``: ``2 * slot + 1`` for the children of the completion points of an initial lexer
# entry's slot (`TerminalTokenTable`) on the bytes ``s`` can start with, and ``2 * g`` for the
# start nodes of group ``g`` of the subtree memo (below; the first group with those nodes,
# ``group_code``, so equal root lists share one memo).
#
# What ``s``'s entries read below those nodes *before* one of its terminals ends again
# depends only on the root list and on the entries' DFA start states (the set's *lexer
# signature*, `set_index.SetIndex`), never on the set's origins.  `subtree_memo.SubtreeMemo`
# computes it once per ``(signature, root list)``: the token list (or a row, when long) and
# the *groups*: for each entry index ``i``, the children of the nodes where entry ``i``'s
# terminal may end - again a root list, for the job
# ``(entry_next[entry_first[s] + i], 2 * group_code[g])``, pushed if that set has entries.
#
# So a mask is: OR the initial entries' rows, push one job per initial entry whose terminal
# may end inside a token, then per job one hash lookup, one OR of a token list (or a row) and
# a scan of its groups (one per entry whose terminal ends inside the tokens).  There is no
# trie walk at run time: the expensive subtrees (all of `` ``'s after an ``%ignore``d blank,
# ``-`` or ``(`` in an expression grammar, names that may end anywhere followed by
# case-insensitive keywords) are walked once per grammar and
# reused in every context with the same signature.  Jobs are deduplicated per mask by a
# stamped hash set (``visit_keys`` / ``visit_stamps``; key ``s << 40 | code``).
#
# Missing data is reported, not computed, so the kernel never writes shared state: a job
# whose memo is not built yet, or whose groups need an ``entry_next`` not computed yet, is
# *deferred* (written to ``deferred``; missing entries to ``missing``).  Python builds the
# memos / asks the parser and calls again with ``fresh = False`` and the deferred jobs as
# ``jobs`` (visited marks are kept: same clock).  Returns the number of deferred jobs; -1 if
# the job list or the visited set (half full, counted over the calls of one mask) overflowed
# (Python restarts with more room); -2 if an initial entry needed an
# ``entry_next`` not computed yet (restart afresh).
# ``counts[0]`` returns the number of missing entries.
# ---------------------------------------------------------------------------------------

_HASH_MULTIPLIER = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64 (Fibonacci hashing)
JOB_SHIFT = 40
"""A job / memo key is ``set_or_signature << JOB_SHIFT | root list code``."""
PAIR_SHIFT = 32
"""An initial pair of `fill_mask_jobs` is ``slot << PAIR_SHIFT | (entry + 1)`` (`token_walk.lower_state`)."""
ROW_COVERED = 1 << 62
"""Flag of an initial pair whose row another pair's (union) row already holds: no OR of its own."""


@nb.njit(nb.int64(nb.int64, nb.int64), cache=True, nogil=True)
def hash_slot(key, mask):  # pragma: no cover - compiled
    """First probe of ``key`` in an open-addressing table of ``mask + 1`` (a power of two) slots."""
    return ((key * _HASH_MULTIPLIER) >> 32) & mask


@nb.njit(nb.int64(_readonly(nb.int64, 1), _readonly(nb.int32, 1), nb.int64), cache=True, nogil=True)
def table_lookup(table_keys, table_values, key):  # pragma: no cover - compiled
    """The value stored for ``key`` (linear probing, -1 = empty slot), or -1."""
    mask = table_keys.shape[0] - 1
    at = hash_slot(key, mask)
    while True:
        found = table_keys[at]
        if found == key:
            return table_values[at]
        if found < 0:
            return -1
        at = (at + 1) & mask


@nb.njit(cache=True, nogil=True)
def _visit(visit_keys, visit_stamps, stamp, key):  # pragma: no cover - compiled
    """Add ``key`` to the stamped set; False if already there (slots of other stamps are empty)."""
    mask = visit_keys.shape[0] - 1
    at = hash_slot(key, mask)
    while visit_stamps[at] == stamp:
        if visit_keys[at] == key:
            return False
        at = (at + 1) & mask
    visit_stamps[at] = stamp
    visit_keys[at] = key
    return True


_JOBS_SIGNATURE = nb.int64(
    _readonly(nb.uint32, 2),  # rows [slots, W]
    _readonly(
        nb.int64, 1
    ),  # initial pairs (slot << PAIR_SHIFT | entry + 1 [| ROW_COVERED]; entry -1: no end)
    _readonly(nb.int32, 1),  # entry_first [sets]
    _readonly(nb.int32, 1),  # entry_count [sets]
    _readonly(nb.int32, 1),  # entry_next [entries]
    nb.int64,  # num_sets
    _readonly(nb.int32, 1),  # set_sig [sets]
    _readonly(nb.int64, 1),  # memo table keys (signature << JOB_SHIFT | code; -1 empty)
    _readonly(nb.int32, 1),  # memo table values (memo ids)
    _readonly(nb.int32, 1),  # memo_row [memos]: row in memo_rows, or -1 (a token list)
    _readonly(nb.int64, 1),  # memo_token_offsets [memos + 1] (CSR into token_pool)
    _readonly(nb.int32, 1),  # token_pool
    _readonly(nb.uint32, 2),  # memo_rows [R, W]
    _readonly(nb.int64, 1),  # memo_group_offsets [memos + 1]
    _readonly(nb.int32, 1),  # group_entry [groups]: entry index within the set
    _readonly(nb.int32, 1),  # group_code [groups]: the root list's canonical group
    nb.uint32[::1],  # out
    nb.int64[::1],  # jobs (in: the deferred jobs when not fresh; scratch)
    nb.int64,  # number of jobs in ``jobs`` (when not fresh)
    nb.int64[::1],  # deferred (output)
    nb.int32[::1],  # missing entries (output)
    nb.int64[::1],  # counts [1] (output: missing entries found)
    nb.int64[::1],  # visit_keys [power of two > 2 * capacity] (scratch)
    nb.int64[::1],  # visit_stamps (scratch)
    nb.int64[::1],  # clock [2]: the visit stamp, keys visited under it (scratch)
    nb.boolean,  # fresh
)


@nb.njit(_JOBS_SIGNATURE, cache=True, nogil=True)
def fill_mask_jobs(
    rows,
    initial_pairs,
    entry_first,
    entry_count,
    entry_next,
    num_sets,
    set_sig,
    table_keys,
    table_values,
    memo_row,
    memo_token_offsets,
    token_pool,
    memo_rows,
    memo_group_offsets,
    group_entry,
    group_code,
    out,
    jobs,
    num_jobs,
    deferred,
    missing,
    counts,
    visit_keys,
    visit_stamps,
    clock,
    fresh,
):  # pragma: no cover - compiled
    words = out.shape[0]
    capacity = jobs.shape[0]
    room = missing.shape[0]
    found = 0
    counts[0] = 0
    code_mask = (np.int64(1) << JOB_SHIFT) - 1
    if fresh:
        clock[0] += 1
        clock[1] = 0
        num_jobs = 0
    stamp = clock[0]
    if fresh:
        initial_missing = False
        entry_bits = (np.int64(1) << PAIR_SHIFT) - 1
        slot_bits = (np.int64(1) << (62 - PAIR_SHIFT)) - 1
        for i in range(initial_pairs.shape[0]):
            pair = initial_pairs[i]
            slot = (pair >> PAIR_SHIFT) & slot_bits
            if not pair & ROW_COVERED:
                for w in range(words):
                    out[w] |= rows[slot, w]
            entry = (pair & entry_bits) - 1
            if entry < 0:
                continue
            following = entry_next[entry]
            if following < 0 or following >= num_sets:
                if found < room:
                    missing[found] = entry
                found += 1
                initial_missing = True
                continue
            if entry_count[following] == 0:
                continue
            if num_jobs == capacity:
                return -1
            jobs[num_jobs] = (np.int64(following) << JOB_SHIFT) | (2 * slot + 1)  # odd: no group pushes it
            num_jobs += 1
        if initial_missing:
            counts[0] = found
            return -2
    num_deferred = 0
    head = 0
    while head < num_jobs:
        key = jobs[head]
        head += 1
        set_id = key >> JOB_SHIFT
        code = key & code_mask
        memo = table_lookup(table_keys, table_values, (np.int64(set_sig[set_id]) << JOB_SHIFT) | code)
        if memo < 0:
            deferred[num_deferred] = key
            num_deferred += 1
            continue
        row = memo_row[memo]
        if row >= 0:
            for w in range(words):
                out[w] |= memo_rows[row, w]
        else:
            for k in range(memo_token_offsets[memo], memo_token_offsets[memo + 1]):
                token = token_pool[k]
                out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
        first = entry_first[set_id]
        is_deferred = False
        for g in range(memo_group_offsets[memo], memo_group_offsets[memo + 1]):
            entry = first + group_entry[g]
            following = entry_next[entry]
            if following < 0 or following >= num_sets:
                if found < room:
                    missing[found] = entry
                found += 1
                is_deferred = True
                continue
            if entry_count[following] == 0:
                continue
            pushed = (np.int64(following) << JOB_SHIFT) | (2 * group_code[g])
            if _visit(visit_keys, visit_stamps, stamp, pushed):
                clock[1] += 1
                if num_jobs == capacity or 2 * clock[1] > visit_keys.shape[0]:
                    return -1
                jobs[num_jobs] = pushed
                num_jobs += 1
        if is_deferred:
            deferred[num_deferred] = key
            num_deferred += 1
    counts[0] = found
    return num_deferred


@nb.njit(
    nb.int64(_readonly(nb.int32, 2), _readonly(nb.int32, 1), nb.int32[::1], nb.int32[::1], nb.int64),
    cache=True,
    nogil=True,
)
def write_live_entries_by_byte(transitions, states, offsets, entries, base):  # pragma: no cover - compiled
    """Write, in place, for each byte ``b`` the positions ``e`` in ``states`` whose DFA state
    has a transition on ``b``: ``entries[offsets[b] : offsets[b + 1]]`` (ascending), starting at
    ``entries[base]``; ``offsets`` has 257 slots, ``entries`` room for ``base + 256 *
    len(states)``.  Returns the end of what was written.  One lexer signature's byte lists
    (`set_index.SetIndex`), written where they live so that a new signature costs one call.
    Reference: `set_index.live_entries_by_byte_reference` (offsets from 0)."""
    count = states.shape[0]
    offsets[:] = 0
    for entry in range(count):
        state = states[entry]
        for byte in range(256):
            if transitions[state, byte] >= 0:
                offsets[byte + 1] += 1
    offsets[0] = base
    for byte in range(256):
        offsets[byte + 1] += offsets[byte]
    for byte in range(256):
        at = offsets[byte]
        for entry in range(count):
            if transitions[states[entry], byte] >= 0:
                entries[at] = entry
                at += 1
    return offsets[256]


@nb.njit(
    nb.types.Tuple((nb.int64[::1], nb.int32[::1], nb.int64[::1], nb.int32[::1]))(
        _readonly(nb.int32, 1),  # completion nodes (preorder)
        _readonly(nb.int32, 1),  # the DFA state at each
        _readonly(nb.int64, 1),  # child offsets (`child_lists`)
        _readonly(nb.uint8, 1),  # child bytes
        _readonly(nb.int32, 2),  # transitions
        _readonly(nb.boolean, 1),  # accepting
    ),
    cache=True,
    nogil=True,
)
def completions_by_child_byte(
    completions, states, child_offsets, child_bytes, transitions, accepting
):  # pragma: no cover - compiled
    """``(offsets int64 [257], nodes, longest offsets [257], longest nodes)``: the completion
    nodes grouped by the bytes of their children, in their order within a byte (a node is in
    one group per child), then only the pairs whose byte does not extend the match
    (`extends_match`).  A state's completion points (`terminal_cache.build_state_row`).
    Reference: `terminal_cache.completions_by_child_byte_reference`."""
    offsets = np.zeros(257, dtype=np.int64)
    longest_offsets = np.zeros(257, dtype=np.int64)
    for i in range(completions.shape[0]):
        node = completions[i]
        for position in range(child_offsets[node + 1], child_offsets[node + 2]):
            byte = child_bytes[position]
            offsets[byte + 1] += 1
            if not extends_match(transitions, accepting, states[i], byte):
                longest_offsets[byte + 1] += 1
    for byte in range(256):
        offsets[byte + 1] += offsets[byte]
        longest_offsets[byte + 1] += longest_offsets[byte]
    nodes = np.empty(offsets[256], dtype=np.int32)
    longest_nodes = np.empty(longest_offsets[256], dtype=np.int32)
    fill = offsets[:256].copy()
    longest_fill = longest_offsets[:256].copy()
    for i in range(completions.shape[0]):
        node = completions[i]
        for position in range(child_offsets[node + 1], child_offsets[node + 2]):
            byte = child_bytes[position]
            nodes[fill[byte]] = node
            fill[byte] += 1
            if not extends_match(transitions, accepting, states[i], byte):
                longest_nodes[longest_fill[byte]] = node
                longest_fill[byte] += 1
    return offsets, nodes, longest_offsets, longest_nodes


@nb.njit(
    nb.types.Tuple((nb.int8[::1], nb.int64))(
        _readonly(nb.int32, 2), _readonly(nb.boolean, 1), nb.int64, nb.int64
    ),
    cache=True,
    nogil=True,
)
def residual_encoding(transitions, accepting, state, limit):  # pragma: no cover - compiled
    """``(encoding int8 [k * 257], widest)``: the residual DFA of ``state`` numbered breadth
    first (successors by byte), as each state's 256 targets (-1 dead) and its acceptance, and
    the most live bytes of any of its ``k`` states; an empty encoding past ``limit`` (<= 127)
    states.  What `terminal_cache.residual_key` hashes.
    Reference: `terminal_cache.residual_encoding_reference`."""
    num_states = transitions.shape[0]
    new_id = np.full(num_states, -1, dtype=np.int8)
    order = np.empty(limit, dtype=np.int64)
    order[0] = state
    new_id[state] = 0
    size = 1
    index = 0
    while index < size:
        current = order[index]
        index += 1
        for byte in range(256):
            target = transitions[current, byte]
            if target >= 0 and new_id[target] < 0:
                if size == limit:
                    return np.zeros(0, dtype=np.int8), np.int64(0)
                new_id[target] = size
                order[size] = target
                size += 1
    encoding = np.empty(size * 257, dtype=np.int8)
    widest = 0
    for i in range(size):
        current = order[i]
        live = 0
        for byte in range(256):
            target = transitions[current, byte]
            encoding[i * 257 + byte] = new_id[target] if target >= 0 else -1
            live += target >= 0
        encoding[i * 257 + 256] = 1 if accepting[current] else 0
        widest = max(widest, live)
    return encoding, np.int64(widest)
