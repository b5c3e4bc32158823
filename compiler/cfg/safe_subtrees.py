"""Safe subtrees: a trie subtree whose bytes keep the walk inside a closed set of live,
non-accepting DFA states is in the row whole.

Why: a row walk (`terminal_cache.build_state_row`) visits every trie node the DFA survives,
and states that allow almost every token walk almost the whole trie (2-3 ms at 128k
tokens).  The plain slice (`plain_slice`) skips short plain-text subtrees, but only from
states that surely read some plain text; the states of an unanchored ``pattern`` that must
not contain some sequence, or of a restricted character set (``[A-Za-z0-9 ]*``), read
little or none, and those were the slowest first visits of MaskBench (plain depth 0 to 8,
123,000 of 128,000 tokens allowed).

A *safe set* of a walk is a byte set ``B`` and the states ``C`` reached from the walk's
start states by ``B``-strings, such that every ``B``-byte from every state of ``C`` leads to a
live, non-accepting state (hence into ``C``).  A node whose state is in ``C`` and whose subtree
holds only ``B``-bytes never leaves ``C`` below it: all its tokens are allowed and it holds no
completion point, so the walk ORs its tokens (contiguous in the trie's preorder token list)
and jumps past it.  `_plain_kernels.safe_byte_set` grows ``C`` from the start states and, at
each state with a byte leaving the live non-accepting states, takes out of ``B`` either those
bytes or the bytes leading into that state, whichever the vocabulary's trie uses less (in a
string body: the backslash, not every letter an escape refuses; the last byte of a forbidden
word, not its first).

Byte sets are 128 bits (two uint64 words), one bit per ASCII byte; bit 127 stands for every
byte from 0x7f up, which ``B`` never holds (a UTF-8 continuation byte dies on a character
boundary): subtrees with non-ASCII bytes are walked.

Tests compare skipping walks with `_kernels.walk_subtrees_reference`, which never skips.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from automask.compiler.cfg import _plain_kernels
from automask.compiler.cfg._kernels import node_parents
from automask.compiler.token_index.trie import TokenTrie

HIGH_BIT = 127
"""The bit that stands for every byte from 0x7f up."""

MAX_SAFE_STATES = 256
"""`safe_byte_set` gives up (an empty set) when the closure grows past this many states: a
long bounded string, where every position is a state and the set would end up empty anyway."""


class SafeSet(NamedTuple):
    """A walk's safe set (see the module docstring); ``states`` has no rows when it skips nothing."""

    byte_set: np.ndarray  # uint64 [2]
    states: np.ndarray  # bool [S]


NO_SAFE_SET = SafeSet(np.zeros(2, dtype=np.uint64), np.zeros(0, dtype=np.bool_))
for _array in NO_SAFE_SET:
    _array.setflags(write=False)


def subtree_byte_sets(trie: TokenTrie) -> np.ndarray:
    """uint64 ``[N, 2]``: per trie node, the bytes on its subtree's edges below it (read-only)."""
    sets = _plain_kernels.subtree_byte_sets(trie.node_byte, node_parents(trie.node_depth))
    sets.setflags(write=False)
    return sets


def subtree_byte_set_reference(trie: TokenTrie, node: int) -> np.ndarray:
    """numpy specification of `subtree_byte_sets` for one node: its descendants are a preorder range."""
    found = np.zeros(2, dtype=np.uint64)
    below = trie.node_byte[node + 1 : trie.node_end[node]].astype(np.int64)
    for byte in np.unique(np.minimum(below, HIGH_BIT)).tolist():
        found[byte >> 6] |= np.uint64(1) << np.uint64(byte & 63)
    return found


def byte_weights(trie: TokenTrie) -> np.ndarray:
    """int64 ``[256]``: how many trie nodes each byte leads into (what a byte costs `safe_byte_set`)."""
    weights = np.bincount(trie.node_byte, minlength=256).astype(np.int64)
    weights.setflags(write=False)
    return weights


def safe_set(
    transitions: np.ndarray, accepting: np.ndarray, starts: np.ndarray, weights: np.ndarray
) -> SafeSet:
    """The safe set of a walk from ``starts`` (`_plain_kernels.safe_byte_set`), or `NO_SAFE_SET`."""
    states = np.zeros(transitions.shape[0], dtype=np.bool_)
    byte_set = _plain_kernels.safe_byte_set(transitions, accepting, starts, weights, MAX_SAFE_STATES, states)
    if not byte_set.any():
        return NO_SAFE_SET
    return SafeSet(byte_set, states)


def is_safe_set(transitions: np.ndarray, accepting: np.ndarray, found: SafeSet) -> bool:
    """Whether ``found`` has the property the walk relies on: every byte of its set leads every
    state of its set to a live, non-accepting state of its set (tests check `safe_set` with it)."""
    members = [byte for byte in range(HIGH_BIT) if (int(found.byte_set[byte >> 6]) >> (byte & 63)) & 1]
    for state in np.flatnonzero(found.states).tolist():
        for byte in members:
            target = int(transitions[state, byte])
            if target < 0 or accepting[target] or not found.states[target]:
                return False
    return not found.byte_set[1] >> np.uint64(63)  # bit 127 (bytes from 0x7f up) is never safe
