"""The plain-content slice of a vocabulary: what lets a string's row skip most of the trie.

Why: a state inside a JSON string (or a bounded string, a pattern over text) allows almost
every token, so its token row is a walk of the whole trie (2.5-5 ms at 128k tokens), and
bounded strings have a distinct state per position, each walked on first use: that was the
mask p99 of MaskBench.  llguidance's "slicer" precomputes rows for common lexer languages;
this is that idea for the one slice that matters in JSON: tokens made only of *plain text*
(code points other than ``"``, ``\\`` and the C0 controls, as complete UTF-8 characters).

`PlainSlice` (one per vocabulary, kept by `terminal_cache.TerminalCache`):

- ``node_plain_max`` int32 per trie node: the most characters of a token in the node's
  subtree if every token there is plain, else a large number;
- ``rows`` uint32 ``[M + 1, W]``: row ``L`` holds the plain tokens of at most ``L`` characters.

For a DFA state that reads at least ``L`` characters of any plain text without dying or
accepting (`_plain_kernels.plain_depths`), its row is ``rows[L]`` plus a walk of the trie
that skips every subtree with ``node_plain_max <= L`` (`_kernels.walk_subtrees`): the rows
and completion points are exactly the full walk's (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.cfg import _plain_kernels
from automask.compiler.cfg._kernels import node_parents
from automask.compiler.token_index.trie import TokenTrie
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.bitmask import set_token_bits

NOT_PLAIN = np.iinfo(np.int32).max


@dataclass(frozen=True)
class PlainSlice:
    node_plain_max: np.ndarray
    rows: np.ndarray

    @property
    def max_chars(self) -> int:
        return int(self.rows.shape[0]) - 1


def plain_chars(data: bytes) -> int:
    """Characters of ``data`` if it is plain text (see the module docstring), else -1."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return -1
    if not text or any(char in '"\\' or ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF for char in text):
        return -1
    return len(text)


def tokens_plain_chars(tokens: list[bytes]) -> np.ndarray:
    """`plain_chars` of every token, in one kernel call (`_plain_kernels.token_plain_chars`)."""
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum([len(token) for token in tokens], out=offsets[1:])
    data = np.frombuffer(b"".join(tokens), dtype=np.uint8)
    return _plain_kernels.token_plain_chars(data, offsets)


def build_plain_slice(vocab: Vocabulary, trie: TokenTrie, words: int) -> PlainSlice:
    """The plain slice of ``vocab`` over ``trie`` (once per vocabulary: decodes every token)."""
    chars = np.full(vocab.size, -1, dtype=np.int64)
    regular = trie.token_ids  # regular tokens only: special ones are not in the trie
    chars[regular] = tokens_plain_chars([vocab.token_bytes[token_id] for token_id in regular.tolist()])
    # Per trie node: the tokens ending there, then the subtree's maximum (children come after
    # their parent in preorder, so a reverse sweep folds each node into its parent).
    num_nodes = trie.node_byte.shape[0]
    own = np.zeros(num_nodes, dtype=np.int64)
    ends_here = np.repeat(np.arange(num_nodes), np.diff(trie.token_offsets[: num_nodes + 1]))
    token_chars = chars[trie.token_ids[: ends_here.shape[0]]]
    token_chars = np.where(token_chars < 0, NOT_PLAIN, token_chars)
    np.maximum.at(own, ends_here, token_chars)
    subtree = _plain_kernels.subtree_maxima(own, node_parents(trie.node_depth))
    max_chars = int(chars.max()) if (chars > 0).any() else 0
    rows = np.zeros((max_chars + 1, words), dtype=np.uint32)
    plain = np.flatnonzero(chars > 0)
    for length in range(1, max_chars + 1):
        rows[length] = rows[length - 1]
        ids = plain[chars[plain] == length]
        set_token_bits(rows[length], ids)
    node_plain_max = np.minimum(subtree, NOT_PLAIN).astype(np.int32)
    for array in (node_plain_max, rows):
        array.setflags(write=False)
    return PlainSlice(node_plain_max, rows)


def subtree_maxima_reference(own: np.ndarray, trie: TokenTrie) -> np.ndarray:
    """Pure-Python specification of `_plain_kernels.subtree_maxima`: per node, the maximum of
    ``own`` over its subtree (its preorder range)."""
    ends = trie.node_end.tolist()
    return np.array([max(own[node : ends[node]].tolist()) for node in range(len(ends))], dtype=np.int64)


_PLAIN_ASCII = ((0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7F))
_PLAIN_MULTIBYTE = (  # (lead bytes, then the range of each continuation byte)
    ((0xC2, 0xDF), ((0x80, 0xBF),)),
    ((0xE0, 0xE0), ((0xA0, 0xBF), (0x80, 0xBF))),
    ((0xE1, 0xEC), ((0x80, 0xBF), (0x80, 0xBF))),
    ((0xED, 0xED), ((0x80, 0x9F), (0x80, 0xBF))),
    ((0xEE, 0xEF), ((0x80, 0xBF), (0x80, 0xBF))),
    ((0xF0, 0xF0), ((0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF))),
    ((0xF1, 0xF3), ((0x80, 0xBF), (0x80, 0xBF), (0x80, 0xBF))),
    ((0xF4, 0xF4), ((0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF))),
)


def plain_depths_reference(transitions: np.ndarray, accepting: np.ndarray, cap: int) -> np.ndarray:
    """Pure-Python specification of `_plain_kernels.plain_depths` (sets of states per byte)."""

    def step(states: set[int], low: int, high: int) -> set[int] | None:
        reached: set[int] = set()
        for state in states:
            for byte in range(low, high + 1):
                target = int(transitions[state, byte])
                if target < 0 or accepting[target]:
                    return None
                reached.add(target)
        return reached

    def one_character(state: int) -> set[int] | None:
        ends: set[int] = set()
        for low, high in _PLAIN_ASCII:
            reached = step({state}, low, high)
            if reached is None:
                return None
            ends |= reached
        for (low, high), continuations in _PLAIN_MULTIBYTE:
            current = step({state}, low, high)
            for continuation in continuations:
                if current is None:
                    return None
                current = step(current, *continuation)
            if current is None:
                return None
            ends |= current
        return ends

    successors = [one_character(state) for state in range(transitions.shape[0])]
    depth = [0] * transitions.shape[0]
    for _ in range(cap):
        updated = [
            0 if following is None else min(cap, 1 + min((depth[t] for t in following), default=cap))
            for following in successors
        ]
        if updated == depth:
            break
        depth = updated
    return np.array(depth, dtype=np.int32)
