"""numba kernels for the automata hot loops (pure-Python references live in `dfa`).

`hopcroft_blocks` is the partition refinement of `automask.compiler.automata.dfa.minimize`
(the pure-Python `minimize_reference` there is the reference the tests compare it with).

Array layouts (all int64):

- ``initial_block[s]`` for the ``num_states`` states: the initial partition (acceptance and
  the set of DEAD classes), block ids ``0..num_blocks-1``.  The DEAD sink is *not* a state
  here: edges into it are left out, since the initial partition already separates states
  by their DEAD classes.
- ``in_offsets [num_states + 1]``, ``in_sources``, ``in_classes``: the reverse edges in CSR
  form -- the edges entering state ``t`` are ``in_sources/in_classes[in_offsets[t]:in_offsets[t+1]]``.
- ``skip_block``: one initial block left out of the worklist (Hopcroft's "all but one").

The state set is kept as one permutation ``elements`` in which every block is a contiguous
range ``[first[b], end[b])``; marking a state swaps it to the front of its block (Valmari's
refinable partition), so a split costs only the number of marked states.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types


@njit("int64[:](int64[:], int64, int64[:], int64[:], int64[:], int64, int64)", cache=True, nogil=True)
def hopcroft_blocks(
    initial_block: np.ndarray,
    num_blocks: int,
    in_offsets: np.ndarray,
    in_sources: np.ndarray,
    in_classes: np.ndarray,
    num_classes: int,
    skip_block: int,
) -> np.ndarray:
    """The coarsest stable refinement of ``initial_block``: a block id per state."""
    num_states = initial_block.shape[0]
    capacity = num_states + 1
    block_of = initial_block.copy()
    first = np.zeros(capacity, np.int64)
    end = np.zeros(capacity, np.int64)
    mid = np.zeros(capacity, np.int64)
    # Counting sort of the states by initial block -> contiguous ranges.
    counts = np.zeros(num_blocks + 1, np.int64)
    for state in range(num_states):
        counts[block_of[state] + 1] += 1
    for block in range(num_blocks):
        counts[block + 1] += counts[block]
    elements = np.empty(num_states, np.int64)
    location = np.empty(num_states, np.int64)
    fill = counts[:num_blocks].copy()
    for state in range(num_states):
        block = block_of[state]
        elements[fill[block]] = state
        location[state] = fill[block]
        fill[block] += 1
    for block in range(num_blocks):
        first[block] = counts[block]
        end[block] = counts[block + 1]
        mid[block] = counts[block]
    count_blocks = num_blocks

    pending = np.empty(capacity, np.int64)
    in_pending = np.zeros(capacity, np.bool_)
    pending_size = 0
    for block in range(num_blocks):
        if block != skip_block:
            pending[pending_size] = block
            pending_size += 1
            in_pending[block] = True

    # Scratch: the splitter's reverse edges bucketed by class.
    class_counts = np.zeros(num_classes + 1, np.int64)
    bucket_sources = np.empty(in_sources.shape[0], np.int64)
    touched = np.empty(capacity, np.int64)

    while pending_size > 0:
        pending_size -= 1
        splitter = pending[pending_size]
        in_pending[splitter] = False
        # Snapshot the splitter's incoming edges grouped by class (counting sort).
        class_counts[:] = 0
        for position in range(first[splitter], end[splitter]):
            target = elements[position]
            for edge in range(in_offsets[target], in_offsets[target + 1]):
                class_counts[in_classes[edge] + 1] += 1
        for cls in range(num_classes):
            class_counts[cls + 1] += class_counts[cls]
        cursor = class_counts[:num_classes].copy()
        for position in range(first[splitter], end[splitter]):
            target = elements[position]
            for edge in range(in_offsets[target], in_offsets[target + 1]):
                cls = in_classes[edge]
                bucket_sources[cursor[cls]] = in_sources[edge]
                cursor[cls] += 1
        for cls in range(num_classes):
            start, stop = class_counts[cls], class_counts[cls + 1]
            if start == stop:
                continue
            touched_size = 0
            for index in range(start, stop):
                source = bucket_sources[index]
                block = block_of[source]
                if mid[block] == first[block]:
                    touched[touched_size] = block
                    touched_size += 1
                position = location[source]
                swap_position = mid[block]
                other = elements[swap_position]
                elements[swap_position] = source
                location[source] = swap_position
                elements[position] = other
                location[other] = position
                mid[block] += 1
            for index in range(touched_size):
                block = touched[index]
                if mid[block] == end[block]:
                    mid[block] = first[block]
                    continue
                new_block = count_blocks
                count_blocks += 1
                first[new_block] = first[block]
                end[new_block] = mid[block]
                mid[new_block] = first[new_block]
                first[block] = mid[block]
                for position in range(first[new_block], end[new_block]):
                    block_of[elements[position]] = new_block
                if in_pending[block] or end[new_block] - first[new_block] <= end[block] - first[block]:
                    pending[pending_size] = new_block
                    in_pending[new_block] = True
                else:
                    pending[pending_size] = block
                    in_pending[block] = True
                pending_size += 1
    return block_of


@njit("bool_[:](int64[:], int64[:], bool_[:])", cache=True, nogil=True)
def co_reachable(in_offsets: np.ndarray, in_sources: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """bool ``[num_states]``: states that can reach an accepting state.

    Reverse edges in CSR form as in `hopcroft_blocks`.  Reference:
    `automask.compiler.automata.dfa.live_states_reference`.
    """
    num_states = accepting.shape[0]
    live = accepting.copy()
    stack = np.empty(num_states, np.int64)
    size = 0
    for state in range(num_states):
        if accepting[state]:
            stack[size] = state
            size += 1
    while size > 0:
        size -= 1
        state = stack[size]
        for edge in range(in_offsets[state], in_offsets[state + 1]):
            source = in_sources[edge]
            if not live[source]:
                live[source] = True
                stack[size] = source
                size += 1
    return live


PRODUCT_INTERSECTION = 0
PRODUCT_DIFFERENCE = 1
PRODUCT_UNION = 2


_READONLY_TABLE = types.Array(types.int32, 2, "C", readonly=True)
_READONLY_FLAGS = types.Array(types.boolean, 1, "C", readonly=True)


@njit(
    types.int64(
        _READONLY_TABLE, _READONLY_FLAGS, types.int64,  # A: table, accepting, start
        _READONLY_TABLE, _READONLY_FLAGS, types.int64,  # B: table, accepting, start
        types.int64, types.int32[:, ::1], types.boolean[::1],  # mode, out table, out accepting
    ),
    cache=True,
    nogil=True,
)  # fmt: skip
def product_states(
    a_table: np.ndarray,
    a_accepting: np.ndarray,
    a_start: int,
    b_table: np.ndarray,
    b_accepting: np.ndarray,
    b_start: int,
    mode: int,
    out_table: np.ndarray,
    out_accepting: np.ndarray,
) -> int:
    """The reachable part of the product of two byte DFAs, breadth first from the start pair.

    A pair ``(a, b)`` may hold ``DEAD`` (-1) on one side: the other automaton goes on alone.
    Pairs that cannot accept any more are never created -- for an intersection, one side
    ``DEAD``; for a difference (``A`` minus ``B``), ``a`` ``DEAD``.  ``mode`` decides which
    pairs accept: ``PRODUCT_INTERSECTION`` both, ``PRODUCT_DIFFERENCE`` ``a`` and not ``b``,
    ``PRODUCT_UNION`` either.  Writes rows into ``out_table`` / ``out_accepting`` and returns
    the number of states, or ``-(number needed)`` when more than ``out_table``'s rows are
    reachable (the caller allocates that many and calls again).  Reference:
    `product.product_states_reference`.
    """
    num_a = a_table.shape[0]
    num_b = b_table.shape[0]
    capacity = out_table.shape[0]
    pair_id = np.full((num_a + 1) * (num_b + 1), -1, dtype=np.int32)  # (a + 1) * (num_b + 1) + b + 1
    queue_a = np.empty(16, dtype=np.int64)
    queue_b = np.empty(16, dtype=np.int64)
    queue_a[0] = a_start
    queue_b[0] = b_start
    pair_id[(a_start + 1) * (num_b + 1) + b_start + 1] = 0
    count = 1
    head = 0
    while head < count:
        a = queue_a[head]
        b = queue_b[head]
        a_accepts = a >= 0 and a_accepting[a]
        b_accepts = b >= 0 and b_accepting[b]
        if head < capacity:
            if mode == 0:
                out_accepting[head] = a_accepts and b_accepts
            elif mode == 1:
                out_accepting[head] = a_accepts and not b_accepts
            else:
                out_accepting[head] = a_accepts or b_accepts
        for byte in range(a_table.shape[1]):  # bytes, or the two tables' joint byte classes
            next_a = a_table[a, byte] if a >= 0 else -1
            next_b = b_table[b, byte] if b >= 0 else -1
            if next_a < 0 and (mode != 2 or next_b < 0):
                target = -1  # no pair that can accept (a union needs one side alive)
            elif mode == 0 and next_b < 0:
                target = -1
            else:
                key = (next_a + 1) * (num_b + 1) + next_b + 1
                target = pair_id[key]
                if target < 0:
                    target = count
                    pair_id[key] = target
                    if count == queue_a.shape[0]:
                        grown_a = np.empty(2 * count, dtype=np.int64)
                        grown_b = np.empty(2 * count, dtype=np.int64)
                        grown_a[:count] = queue_a
                        grown_b[:count] = queue_b
                        queue_a = grown_a
                        queue_b = grown_b
                    queue_a[count] = next_a
                    queue_b[count] = next_b
                    count += 1
            if head < capacity:
                out_table[head, byte] = target
        head += 1
    if count > capacity:
        return -count
    return count


@njit(
    types.int64[::1](types.Array(types.int32, 2, "C", readonly=True), types.int64, types.int64),
    cache=True,
    nogil=True,
)
def breadth_first_order(table: np.ndarray, start: int, limit: int) -> np.ndarray:
    """States reachable from ``start`` in breadth-first order, each row scanned left to right;
    an empty array as soon as more than ``limit`` are reachable.

    ``table``: int32 ``[num_states, num_columns]``, ``-1`` for no transition.  The limit stops
    early, so asking about a small residual inside a large DFA costs only the residual.
    Reference: `automask.compiler.automata.dfa.breadth_first_order_reference`.
    """
    num_states, num_columns = table.shape
    seen = np.zeros(num_states, np.bool_)
    order = np.empty(min(num_states, limit + 1), np.int64)
    order[0] = start
    seen[start] = True
    size = 1
    index = 0
    while index < size:
        state = order[index]
        index += 1
        for column in range(num_columns):
            target = table[state, column]
            if target >= 0 and not seen[target]:
                if size == limit:
                    return np.zeros(0, np.int64)
                seen[target] = True
                order[size] = target
                size += 1
    return order[:size].copy()


@njit(
    types.Tuple((types.int64[::1], types.int32[::1]))(types.int64[::1], types.int32[::1], types.boolean[::1]),
    cache=True,
    nogil=True,
)
def epsilon_closures(eps_offsets, eps_targets, important):
    """For every NFA state, the important states reachable by epsilon moves (itself included),
    sorted, as CSR ``(offsets [S + 1], states)``.  Reference: `nfa.NFA.epsilon_closures`."""
    num_states = eps_offsets.shape[0] - 1
    offsets = np.zeros(num_states + 1, np.int64)
    out = np.empty(max(16, num_states), np.int32)
    size = 0
    stamp = np.full(num_states, -1, np.int64)
    stack = np.empty(num_states, np.int32)
    found = np.empty(num_states, np.int32)
    for state in range(num_states):
        stamp[state] = state
        stack[0] = state
        depth = 1
        count = 0
        while depth > 0:
            depth -= 1
            current = stack[depth]
            if important[current]:
                found[count] = current
                count += 1
            for k in range(eps_offsets[current], eps_offsets[current + 1]):
                target = eps_targets[k]
                if stamp[target] != state:
                    stamp[target] = state
                    stack[depth] = target
                    depth += 1
        if size + count > out.shape[0]:
            grown = np.empty(max(2 * out.shape[0], size + count), np.int32)
            grown[:size] = out[:size]
            out = grown
        part = np.sort(found[:count])
        out[size : size + count] = part
        size += count
        offsets[state + 1] = size
    return offsets, out[:size].copy()


@njit(cache=True, nogil=True)
def _subset_hash(array, first, count):  # pragma: no cover - compiled
    h = np.uint64(0xCBF29CE484222325)
    for k in range(first, first + count):
        h = (h ^ np.uint64(array[k])) * np.uint64(0x100000001B3)
    return np.int64(h >> np.uint64(1))


@njit(
    types.Tuple((types.int32[:, ::1], types.boolean[::1]))(
        types.int64[::1],  # closure_offsets
        types.int32[::1],  # closure_states
        types.int64[::1],  # edge_offsets [S + 1]: byte edges of state s
        types.int32[::1],  # edge_first_class
        types.int32[::1],  # edge_last_class
        types.int32[::1],  # edge_target
        types.int64,  # start
        types.int64,  # accept
        types.int64,  # num_classes
        types.int64,  # max_states
    ),
    cache=True,
    nogil=True,
)
def subset_construction(
    closure_offsets,
    closure_states,
    edge_offsets,
    edge_first_class,
    edge_last_class,
    edge_target,
    start,
    accept,
    num_classes,
    max_states,
):
    """Subset construction over byte classes, DFA states numbered in discovery order
    (successor classes in increasing order).  Returns ``(table [D, num_classes], accepting)``,
    or an empty table when more than ``max_states`` states would be needed.  Subsets are
    sorted arrays of important NFA states in a pool, found again through an open-addressing
    hash table comparing them element by element.  Reference: `dfa.determinize_reference`
    (numbered differently; equal after `canonical_numbering` of the minimal DFA)."""
    num_nfa = closure_offsets.shape[0] - 1
    pool = np.empty(1024, np.int32)
    subset_first = np.zeros(64, np.int64)
    subset_first[0] = 0
    start_size = closure_offsets[start + 1] - closure_offsets[start]
    if start_size > pool.shape[0]:
        pool = np.empty(2 * start_size, np.int32)
    pool[:start_size] = closure_states[closure_offsets[start] : closure_offsets[start + 1]]
    subset_first[1] = start_size
    num_subsets = 1
    table_size = 64
    slots = np.full(table_size, -1, np.int64)
    slots[_subset_hash(pool, 0, start_size) & (table_size - 1)] = 0
    rows = np.full((16, num_classes), -1, np.int32)
    accepting = np.zeros(16, np.bool_)
    stamp = np.full(num_nfa, -1, np.int64)
    bucket_count = np.zeros(num_classes, np.int64)
    bucket_first = np.zeros(num_classes + 1, np.int64)
    targets = np.empty(64, np.int32)
    collected = np.empty(num_nfa, np.int32)
    index = 0
    while index < num_subsets:
        first, stop = subset_first[index], subset_first[index + 1]
        if index >= rows.shape[0]:
            grown_rows = np.full((2 * rows.shape[0], num_classes), -1, np.int32)
            grown_rows[: rows.shape[0]] = rows
            rows = grown_rows
            grown_accepting = np.zeros(2 * accepting.shape[0], np.bool_)
            grown_accepting[: accepting.shape[0]] = accepting
            accepting = grown_accepting
        # Targets of the subset's edges, bucketed by class (counting sort).
        bucket_count[:] = 0
        total = 0
        for p in range(first, stop):
            state = pool[p]
            if state == accept:
                accepting[index] = True
            for e in range(edge_offsets[state], edge_offsets[state + 1]):
                for c in range(edge_first_class[e], edge_last_class[e] + 1):
                    bucket_count[c] += 1
                    total += 1
        if total > targets.shape[0]:
            targets = np.empty(2 * total, np.int32)
        bucket_first[0] = 0
        for c in range(num_classes):
            bucket_first[c + 1] = bucket_first[c] + bucket_count[c]
            bucket_count[c] = bucket_first[c]
        for p in range(first, stop):
            state = pool[p]
            for e in range(edge_offsets[state], edge_offsets[state + 1]):
                for c in range(edge_first_class[e], edge_last_class[e] + 1):
                    targets[bucket_count[c]] = edge_target[e]
                    bucket_count[c] += 1
        for c in range(num_classes):
            if bucket_first[c] == bucket_first[c + 1]:
                continue
            # The union of the targets' closures, sorted.
            mark = index * num_classes + c
            count = 0
            for t in range(bucket_first[c], bucket_first[c + 1]):
                target = targets[t]
                for k in range(closure_offsets[target], closure_offsets[target + 1]):
                    s = closure_states[k]
                    if stamp[s] != mark:
                        stamp[s] = mark
                        collected[count] = s
                        count += 1
            if count == 0:
                continue
            union = np.sort(collected[:count])
            # Look it up; insert it when new.
            h = _subset_hash(union, 0, count)
            slot = h & (table_size - 1)
            found = -1
            while slots[slot] >= 0:
                other = slots[slot]
                a, b = subset_first[other], subset_first[other + 1]
                if b - a == count:
                    same = True
                    for k in range(count):
                        if pool[a + k] != union[k]:
                            same = False
                            break
                    if same:
                        found = other
                        break
                slot = (slot + 1) & (table_size - 1)
            if found < 0:
                if num_subsets >= max_states:
                    return np.zeros((0, num_classes), np.int32), np.zeros(0, np.bool_)
                found = num_subsets
                end = subset_first[num_subsets]
                if end + count > pool.shape[0]:
                    grown_pool = np.empty(max(2 * pool.shape[0], end + count), np.int32)
                    grown_pool[:end] = pool[:end]
                    pool = grown_pool
                pool[end : end + count] = union
                if num_subsets + 2 > subset_first.shape[0]:
                    grown_first = np.zeros(2 * subset_first.shape[0], np.int64)
                    grown_first[: num_subsets + 1] = subset_first[: num_subsets + 1]
                    subset_first = grown_first
                subset_first[num_subsets + 1] = end + count
                num_subsets += 1
                slots[slot] = found
                if 2 * num_subsets > table_size:  # rehash into a table twice as large
                    table_size *= 2
                    slots = np.full(table_size, -1, np.int64)
                    for other in range(num_subsets):
                        a, b = subset_first[other], subset_first[other + 1]
                        slot = _subset_hash(pool, a, b - a) & (table_size - 1)
                        while slots[slot] >= 0:
                            slot = (slot + 1) & (table_size - 1)
                        slots[slot] = other
            rows[index, c] = found
        index += 1
    return rows[:num_subsets].copy(), accepting[:num_subsets].copy()


@njit(
    types.Tuple((types.int64[::1], types.int64[::1], types.int64[::1]))(_READONLY_TABLE),
    cache=True,
    nogil=True,
)
def reverse_edges(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-``DEAD`` edges of ``table`` grouped by target (a counting sort), in CSR form.

    Edges entering ``t`` are ``sources/classes[offsets[t]:offsets[t + 1]]``, in row-major
    order of the table.  Reference: `dfa.reverse_edges_reference`.
    """
    num_states, num_classes = table.shape
    offsets = np.zeros(num_states + 1, dtype=np.int64)
    for state in range(num_states):
        for cls in range(num_classes):
            target = table[state, cls]
            if target >= 0:
                offsets[target + 1] += 1
    for state in range(num_states):
        offsets[state + 1] += offsets[state]
    fill = offsets[:num_states].copy()
    sources = np.empty(offsets[num_states], dtype=np.int64)
    classes = np.empty(offsets[num_states], dtype=np.int64)
    for state in range(num_states):
        for cls in range(num_classes):
            target = table[state, cls]
            if target >= 0:
                at = fill[target]
                sources[at] = state
                classes[at] = cls
                fill[target] = at + 1
    return offsets, sources, classes


@njit(types.int64[::1](_READONLY_TABLE), cache=True, nogil=True)
def equal_column_classes(table: np.ndarray) -> np.ndarray:
    """``merged[c]``: the id of column ``c``'s class once identical columns are merged, ids
    numbered by first occurrence.  Columns are hashed, then compared on a hash match.
    Reference: `dfa.merge_equivalent_classes_reference`."""
    num_states, num_classes = table.shape
    hashes = np.full(num_classes, np.uint64(14695981039346656037), dtype=np.uint64)
    for state in range(num_states):  # row by row: the table is row-major
        for cls in range(num_classes):
            hashes[cls] = (hashes[cls] ^ np.uint64(table[state, cls] + 2)) * np.uint64(1099511628211)
    merged = np.empty(num_classes, dtype=np.int64)
    first_of = np.empty(num_classes, dtype=np.int64)  # merged id -> its first column
    count = 0
    for cls in range(num_classes):
        found = -1
        for other in range(count):
            column = first_of[other]
            if hashes[column] != hashes[cls]:
                continue
            same = True
            for state in range(num_states):
                if table[state, column] != table[state, cls]:
                    same = False
                    break
            if same:
                found = other
                break
        if found < 0:
            first_of[count] = cls
            found = count
            count += 1
        merged[cls] = found
    return merged


@njit(cache=True, nogil=True)
def _initial_blocks(table: np.ndarray, accepting: np.ndarray) -> tuple[np.ndarray, int]:  # pragma: no cover
    """Block ids ``0..k-1`` grouping states by acceptance and the set of ``DEAD`` columns:
    states sorted by a hash of that signature, equal hashes compared column by column."""
    num_states, num_classes = table.shape
    hashes = np.empty(num_states, dtype=np.uint64)
    for state in range(num_states):
        value = np.uint64(14695981039346656037) ^ np.uint64(1 if accepting[state] else 2)
        for cls in range(num_classes):
            if table[state, cls] < 0:
                value = (value ^ np.uint64(cls + 3)) * np.uint64(1099511628211)
        hashes[state] = value
    order = np.argsort(hashes)
    block = np.full(num_states, -1, dtype=np.int64)
    count = 0
    run_start = 0
    while run_start < num_states:
        run_end = run_start + 1
        while run_end < num_states and hashes[order[run_end]] == hashes[order[run_start]]:
            run_end += 1
        for position in range(run_start, run_end):  # usually one signature per run
            state = order[position]
            for earlier in range(run_start, position):
                other = order[earlier]
                if accepting[other] != accepting[state]:
                    continue
                same = True
                for cls in range(num_classes):
                    if (table[other, cls] < 0) != (table[state, cls] < 0):
                        same = False
                        break
                if same:
                    block[state] = block[other]
                    break
            if block[state] < 0:
                block[state] = count
                count += 1
        run_start = run_end
    return block, count


@njit(
    types.Tuple((types.int32[:, ::1], types.boolean[::1]))(
        _READONLY_TABLE, _READONLY_FLAGS, types.int64, types.Array(types.int64, 1, "C", readonly=True)
    ),
    cache=True,
    nogil=True,
)
def minimal_byte_table(
    table: np.ndarray, accepting: np.ndarray, start: int, class_of_byte: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The minimal DFA of a DFA over byte classes, canonically numbered, as a byte table.

    One call for what `dfa.minimize_class_dfa_reference` does in numpy passes (trim, merge
    identical columns, Hopcroft, quotient, breadth-first renumbering by increasing byte, one
    column per byte): the glue between those passes cost more than the passes on the small
    automata of schema keys.  ``table`` int32 ``[states, classes]`` (``-1``: no transition),
    ``class_of_byte[b]`` the class of byte ``b``.  Returns ``(int32 [states', 256],
    accepting)`` with the start as state 0, or zero rows when the language is empty.
    """
    num_states, num_classes = table.shape
    merged = equal_column_classes(table)  # first: the later passes then scan narrow rows
    num_merged = 0
    for cls in range(num_classes):
        num_merged = max(num_merged, merged[cls] + 1)
    wide_narrow = np.empty((num_states, num_merged), dtype=np.int32)
    for cls in range(num_classes):
        wide_narrow[:, merged[cls]] = table[:, cls]
    in_offsets, in_sources, _ = reverse_edges(wide_narrow)
    live = co_reachable(in_offsets, in_sources, accepting.copy())
    if not live[start]:
        return np.empty((0, 256), dtype=np.int32), np.empty(0, dtype=np.bool_)
    live_id = np.full(num_states, -1, dtype=np.int64)
    num_live = 0
    for state in range(num_states):
        if live[state]:
            live_id[state] = num_live
            num_live += 1
    narrow = np.empty((num_live, num_merged), dtype=np.int32)
    live_accepting = np.empty(num_live, dtype=np.bool_)
    for state in range(num_states):
        row = live_id[state]
        if row < 0:
            continue
        live_accepting[row] = accepting[state]
        for cls in range(num_merged):
            target = wide_narrow[state, cls]
            narrow[row, cls] = live_id[target] if target >= 0 else -1
    initial, num_blocks = _initial_blocks(narrow, live_accepting)
    sizes = np.zeros(num_blocks, dtype=np.int64)
    for state in range(num_live):
        sizes[initial[state]] += 1
    in_offsets, in_sources, in_classes = reverse_edges(narrow)
    block_of = hopcroft_blocks(
        initial, num_blocks, in_offsets, in_sources, in_classes, num_merged, np.argmax(sizes)
    )
    total_blocks = 0
    for state in range(num_live):
        total_blocks = max(total_blocks, block_of[state] + 1)
    representative = np.full(total_blocks, -1, dtype=np.int64)
    for state in range(num_live):
        if representative[block_of[state]] < 0:
            representative[block_of[state]] = state
    byte_merged = np.empty(256, dtype=np.int64)  # byte -> merged column
    for byte in range(256):
        byte_merged[byte] = merged[class_of_byte[byte]]
    new_id = np.full(total_blocks, -1, dtype=np.int64)
    order = np.empty(total_blocks, dtype=np.int64)  # new id -> block
    first = block_of[live_id[start]]
    new_id[first] = 0
    order[0] = first
    count = 1
    out = np.empty((total_blocks, 256), dtype=np.int32)
    head = 0
    while head < count:  # breadth first, successors by increasing byte: the canonical numbering
        source = representative[order[head]]
        for byte in range(256):
            target = narrow[source, byte_merged[byte]]
            if target < 0:
                out[head, byte] = -1
                continue
            block = block_of[target]
            if new_id[block] < 0:
                new_id[block] = count
                order[count] = block
                count += 1
            out[head, byte] = new_id[block]
        head += 1
    out_accepting = np.empty(count, dtype=np.bool_)
    for state in range(count):
        out_accepting[state] = live_accepting[representative[order[state]]]
    return out[:count].copy(), out_accepting


@njit(types.void(types.int32[:, ::1], types.int64[::1], types.int64[::1]), cache=True, nogil=True)
def shift_targets(table: np.ndarray, block_sizes: np.ndarray, block_offsets: np.ndarray) -> None:
    """In place: add ``block_offsets[k]`` to every non-``DEAD`` target of the ``k``-th block of
    ``block_sizes[k]`` rows (DFAs stacked into one state space; branch-free so that it
    vectorises).  Reference: `automask.compiler.cfg.tables.stack_dfas_reference`."""
    row = 0
    for block in range(block_sizes.shape[0]):
        offset = np.int32(block_offsets[block])
        for state in range(row, row + block_sizes[block]):
            for column in range(table.shape[1]):
                target = table[state, column]
                table[state, column] = target + offset * np.int32(target >= 0)
        row += block_sizes[block]


@njit(
    types.Tuple((types.int32[:, ::1], types.boolean[::1]))(_READONLY_TABLE, _READONLY_FLAGS, types.int64),
    cache=True,
    nogil=True,
)
def breadth_first_renumbering(
    table: np.ndarray, accepting: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """A byte DFA renumbered breadth first from ``start`` (state 0), successors by increasing
    byte, unreachable states dropped: the canonical numbering of an already minimal DFA, in
    one call.  Reference: `dfa.canonical_numbering` (with one class per byte)."""
    order = breadth_first_order(table, start, table.shape[0])
    new_id = np.full(table.shape[0], -1, dtype=np.int32)
    for position in range(order.shape[0]):
        new_id[order[position]] = position
    out = np.empty((order.shape[0], table.shape[1]), dtype=np.int32)
    out_accepting = np.empty(order.shape[0], dtype=np.bool_)
    for position in range(order.shape[0]):
        state = order[position]
        out_accepting[position] = accepting[state]
        for column in range(table.shape[1]):
            target = table[state, column]
            out[position, column] = new_id[target] if target >= 0 else -1
    return out, out_accepting


FINGERPRINT_MULTIPLIERS = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0x165667B19E3779F9),
    np.uint64(0xD6E8FEB86659FD93),
)


@njit(types.uint64(_READONLY_TABLE, _READONLY_FLAGS), cache=True, nogil=True)
def table_fingerprint(table: np.ndarray, accepting: np.ndarray) -> np.uint64:
    """A 64-bit fingerprint of a DFA's tables (not cryptographic: callers compare the tables
    on a match).  Four independent multiply-xorshift lanes over the row-major entries, so the
    loop is not one long multiply chain; a blake2b digest of the same bytes cost 5-10x more.
    Reference: `automask.compiler.cfg.terminal_cache.table_fingerprint_reference`."""
    m0, m1, m2, m3 = FINGERPRINT_MULTIPLIERS
    lanes = np.empty(4, dtype=np.uint64)
    lanes[0], lanes[1], lanes[2], lanes[3] = m0, m1, m2, m3
    flat = table.reshape(-1)
    size = flat.shape[0]
    whole = size - size % 4
    for at in range(0, whole, 4):
        lanes[0] = (lanes[0] ^ np.uint64(np.uint32(flat[at]))) * m1
        lanes[1] = (lanes[1] ^ np.uint64(np.uint32(flat[at + 1]))) * m2
        lanes[2] = (lanes[2] ^ np.uint64(np.uint32(flat[at + 2]))) * m3
        lanes[3] = (lanes[3] ^ np.uint64(np.uint32(flat[at + 3]))) * m0
    for at in range(whole, size):
        lanes[0] = (lanes[0] ^ np.uint64(np.uint32(flat[at]))) * m1
    for state in range(accepting.shape[0]):
        lanes[1] = (lanes[1] ^ np.uint64(2 + accepting[state])) * m2
    value = np.uint64(size)
    for lane in range(4):
        mixed = lanes[lane] ^ (lanes[lane] >> np.uint64(29))
        value = (value ^ mixed) * m0
    return value ^ (value >> np.uint64(32))
