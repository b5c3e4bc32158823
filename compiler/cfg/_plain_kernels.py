"""numba kernels of the row walk's skips: the plain-content slice (`plain_slice`) and safe
subtrees (`safe_subtrees`: `subtree_byte_sets`, `safe_byte_set`, each with its reference there).

`plain_depths` gives, per state of a terminal DFA, how many characters of *plain text* (any
code point but ``"``, ``\\`` and the C0 controls, in UTF-8) the DFA is sure to read: the
largest ``L`` such that every plain string of at most ``L`` characters keeps it alive without
passing through an accepting state, even in the middle of a character.  A walk from such a
state (`_kernels.walk_subtrees` with ``skip_depth = L``) skips every subtree whose tokens are
all plain with at most ``L`` characters: those tokens are all allowed (the caller ORs in their
precomputed row) and hold no completion point.

Reference: `plain_slice.plain_depths_reference` (tests also compare sliced rows with full walks).
"""

from __future__ import annotations

import numba as nb
import numpy as np


def _readonly(dtype, ndim: int) -> nb.types.Array:
    return nb.types.Array(dtype, ndim, "C", readonly=True)


@nb.njit(cache=True, nogil=True)
def _step_ok(transitions, accepting, state, low, high, out, count, stamp, seen):  # pragma: no cover
    """Step ``state`` on bytes ``low..high``; append new targets to ``out``.  -1 if one dies or accepts."""
    for byte in range(low, high + 1):
        target = transitions[state, byte]
        if target < 0 or accepting[target]:
            return -1
        if seen[target] != stamp:
            seen[target] = stamp
            out[count] = target
            count += 1
    return count


@nb.njit(cache=True, nogil=True)
def _one_char(transitions, accepting, state, ends, seen, stamp_base, scratch, scratch2):  # pragma: no cover
    """The states after one plain character from ``state`` in ``ends`` (their number), or -1."""
    count = 0
    stamp = stamp_base
    # ASCII: 0x20..0x7F but '"' (0x22) and '\\' (0x5C)
    for low, high in ((0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7F)):
        count = _step_ok(transitions, accepting, state, low, high, ends, count, stamp, seen)
        if count < 0:
            return -1
    # (lead low, lead high, second low, second high, continuation bytes after the second)
    for lead_low, lead_high, second_low, second_high, more in (
        (0xC2, 0xDF, 0x80, 0xBF, 0),
        (0xE0, 0xE0, 0xA0, 0xBF, 1),
        (0xE1, 0xEC, 0x80, 0xBF, 1),
        (0xED, 0xED, 0x80, 0x9F, 1),
        (0xEE, 0xEF, 0x80, 0xBF, 1),
        (0xF0, 0xF0, 0x90, 0xBF, 2),
        (0xF1, 0xF3, 0x80, 0xBF, 2),
        (0xF4, 0xF4, 0x80, 0x8F, 2),
    ):
        stamp += 1
        level = _step_ok(transitions, accepting, state, lead_low, lead_high, scratch, 0, stamp, seen)
        if level < 0:
            return -1
        stamp += 1
        if more == 0:  # the second byte ends the character
            for i in range(level):
                count = _step_ok(
                    transitions, accepting, scratch[i], second_low, second_high, ends, count, stamp_base, seen
                )
                if count < 0:
                    return -1
            continue
        following = 0
        for i in range(level):
            following = _step_ok(
                transitions, accepting, scratch[i], second_low, second_high, scratch2, following, stamp, seen
            )
            if following < 0:
                return -1
        for _ in range(more - 1):
            stamp += 1
            nxt = 0
            for i in range(following):
                nxt = _step_ok(transitions, accepting, scratch2[i], 0x80, 0xBF, scratch, nxt, stamp, seen)
                if nxt < 0:
                    return -1
            scratch2[:nxt] = scratch[:nxt]
            following = nxt
        for i in range(following):
            count = _step_ok(transitions, accepting, scratch2[i], 0x80, 0xBF, ends, count, stamp_base, seen)
            if count < 0:
                return -1
    return count


@nb.njit(nb.int32[::1](_readonly(nb.int32, 2), _readonly(nb.boolean, 1), nb.int64), cache=True, nogil=True)
def plain_depths(transitions, accepting, cap):  # pragma: no cover - compiled
    num_states = transitions.shape[0]
    seen = np.zeros(num_states, dtype=np.int64)
    end_offsets = np.zeros(num_states + 1, dtype=np.int64)
    end_states = np.empty(max(16, num_states), dtype=np.int32)
    used = 0
    ok = np.zeros(num_states, dtype=np.bool_)
    ends = np.empty(num_states, dtype=np.int32)
    scratch = np.empty(num_states, dtype=np.int32)
    scratch2 = np.empty(num_states, dtype=np.int32)
    stamp = 0
    for state in range(num_states):
        stamp += 64  # room for the per-level stamps of `_one_char`
        count = _one_char(transitions, accepting, state, ends, seen, stamp, scratch, scratch2)
        if count >= 0:
            ok[state] = True
            if used + count > end_states.shape[0]:
                grown = np.empty(2 * (used + count), dtype=np.int32)
                grown[:used] = end_states[:used]
                end_states = grown
            end_states[used : used + count] = ends[:count]
            used += count
        end_offsets[state + 1] = used
    depth = np.zeros(num_states, dtype=np.int32)
    for _ in range(cap):  # depth_{k+1}(s) = 1 + min over one-character successors of depth_k
        changed = False
        updated = np.zeros(num_states, dtype=np.int32)
        for state in range(num_states):
            if not ok[state]:
                continue
            smallest = cap
            for i in range(end_offsets[state], end_offsets[state + 1]):
                smallest = min(smallest, depth[end_states[i]])
            value = min(cap, 1 + smallest)
            updated[state] = value
            if value != depth[state]:
                changed = True
        depth = updated
        if not changed:
            break
    return depth


@nb.njit(nb.int64[::1](_readonly(nb.uint8, 1), _readonly(nb.int64, 1)), cache=True, nogil=True)
def token_plain_chars(data, offsets):  # pragma: no cover - compiled
    """Per token ``t`` (bytes ``data[offsets[t] : offsets[t + 1]]``): its number of characters
    if it is plain text -- non-empty, well-formed UTF-8 (the decoder's rules: no overlong
    forms, surrogates or code points past U+10FFFF) without ``"``, ``\\`` or C0 controls --
    else -1.  Reference: `plain_slice.plain_chars`."""
    count = offsets.shape[0] - 1
    out = np.full(count, -1, dtype=np.int64)
    for token in range(count):
        at, end = offsets[token], offsets[token + 1]
        chars = 0
        ok = at < end
        while ok and at < end:
            lead = data[at]
            if lead < 0x80:
                ok = lead >= 0x20 and lead != 0x22 and lead != 0x5C
                width = 1
            elif 0xC2 <= lead <= 0xDF:
                width, low, high = 2, 0x80, 0xBF
            elif lead == 0xE0:
                width, low, high = 3, 0xA0, 0xBF
            elif 0xE1 <= lead <= 0xEC or 0xEE <= lead <= 0xEF:
                width, low, high = 3, 0x80, 0xBF
            elif lead == 0xED:
                width, low, high = 3, 0x80, 0x9F
            elif lead == 0xF0:
                width, low, high = 4, 0x90, 0xBF
            elif 0xF1 <= lead <= 0xF3:
                width, low, high = 4, 0x80, 0xBF
            elif lead == 0xF4:
                width, low, high = 4, 0x80, 0x8F
            else:
                ok = False
                width = 1
            if ok and width > 1:
                if at + width > end:
                    ok = False
                else:
                    second = data[at + 1]
                    ok = low <= second <= high
                    for position in range(at + 2, at + width):
                        if not 0x80 <= data[position] <= 0xBF:
                            ok = False
            at += width
            chars += 1
        if ok:
            out[token] = chars
    return out


@nb.njit(nb.int64[::1](_readonly(nb.int64, 1), _readonly(nb.int64, 1)), cache=True, nogil=True)
def subtree_maxima(own, parents):  # pragma: no cover - compiled
    """Per preorder trie node, the maximum of ``own`` over its subtree: one reverse sweep
    folding each node into its parent (children come after their parent in preorder).
    Reference: `plain_slice.subtree_maxima_reference`."""
    out = own.copy()
    for node in range(out.shape[0] - 1, -1, -1):
        parent = parents[node]
        if parent >= 0 and out[node] > out[parent]:
            out[parent] = out[node]
    return out


@nb.njit(nb.uint64[:, ::1](_readonly(nb.uint8, 1), _readonly(nb.int64, 1)), cache=True, nogil=True)
def subtree_byte_sets(node_byte, parents):  # pragma: no cover - compiled
    """Per preorder trie node, the bytes on the edges below it as 128 bits (bit 127: any byte
    from 0x7f up), for safe subtrees (`safe_subtrees`): one reverse sweep folding each node's
    set and own byte into its parent.  Reference: `safe_subtrees.subtree_byte_set_reference`."""
    sets = np.zeros((node_byte.shape[0], 2), dtype=np.uint64)
    for node in range(node_byte.shape[0] - 1, -1, -1):
        parent = parents[node]
        if parent >= 0:
            byte = min(np.int64(node_byte[node]), 127)
            sets[parent, 0] |= sets[node, 0]
            sets[parent, 1] |= sets[node, 1]
            sets[parent, byte >> 6] |= np.uint64(1) << np.uint64(byte & 63)
    return sets


@nb.njit(
    nb.uint64[::1](
        _readonly(nb.int32, 2),
        _readonly(nb.boolean, 1),
        _readonly(nb.int32, 1),
        _readonly(nb.int64, 1),
        nb.int64,
        nb.boolean[::1],
    ),
    cache=True,
    nogil=True,
)
def safe_byte_set(transitions, accepting, starts, weights, max_states, states):  # pragma: no cover
    """A safe set of a walk from ``starts`` (`safe_subtrees`): returns its bytes as 128 bits and
    marks its states in ``states`` (all False on entry); no bytes past ``max_states`` states.

    From all ASCII bytes below 0x7f, repeat: close the states under the bytes; at the first
    state with a byte leaving the live non-accepting states, take out of the set those bytes
    (always at a start state, which cannot be cut off) or the bytes leading into that state,
    whichever weighs less.  Each round takes out at least one byte, so at most 127 rounds.
    Checked by `safe_subtrees.is_safe_set` in the tests.
    """
    num_states = transitions.shape[0]
    in_set = np.ones(127, dtype=np.bool_)
    is_start = np.zeros(num_states, dtype=np.bool_)
    for k in range(starts.shape[0]):
        is_start[starts[k]] = True
    order = np.empty(num_states, dtype=np.int64)
    for _ in range(128):
        states[:] = False
        count = 0
        for k in range(starts.shape[0]):
            if not states[starts[k]]:
                states[starts[k]] = True
                order[count] = starts[k]
                count += 1
        violator = -1
        at = 0
        while at < count and violator < 0:
            state = order[at]
            at += 1
            for byte in range(127):
                if not in_set[byte]:
                    continue
                target = transitions[state, byte]
                if target < 0 or accepting[target]:
                    violator = state
                    break
                if not states[target]:
                    if count == max_states:
                        states[:] = False
                        return np.zeros(2, dtype=np.uint64)
                    states[target] = True
                    order[count] = target
                    count += 1
        if violator < 0:
            break
        leaving = 0
        for byte in range(127):
            if in_set[byte]:
                target = transitions[violator, byte]
                if target < 0 or accepting[target]:
                    leaving += weights[byte]
        entering = 0
        entering_bytes = np.zeros(127, dtype=np.bool_)
        if not is_start[violator]:
            for k in range(count):
                for byte in range(127):
                    if in_set[byte] and transitions[order[k], byte] == violator and not entering_bytes[byte]:
                        entering_bytes[byte] = True
                        entering += weights[byte]
        cut_entry = not is_start[violator] and entering < leaving
        for byte in range(127):
            if in_set[byte]:
                if cut_entry:
                    if entering_bytes[byte]:
                        in_set[byte] = False
                else:
                    target = transitions[violator, byte]
                    if target < 0 or accepting[target]:
                        in_set[byte] = False
    byte_set = np.zeros(2, dtype=np.uint64)
    for byte in range(127):
        if in_set[byte]:
            byte_set[byte >> 6] |= np.uint64(1) << np.uint64(byte & 63)
    if byte_set[0] == 0 and byte_set[1] == 0:
        states[:] = False
    return byte_set
