"""A byte trie over a vocabulary, flattened depth-first for the token-index kernel.

Only *regular* tokens (non-special, non-empty) enter the trie.  Token ids that share the
same bytes (SentencePiece ``-`` and its byte-fallback ``<0x2D>``) end at the same node.

Layout (all numpy, immutable; ``N`` = number of nodes, the root is not stored):

- ``node_byte``: uint8 ``[N]``, the byte on the edge into the node.
- ``node_depth``: int32 ``[N]``, 1 for children of the root; a node's bytes are the bytes
  of its ancestors followed by its own.
- ``node_end``: int32 ``[N]``, one past the last node of the node's subtree: nodes are in
  depth-first preorder, so the subtree of ``n`` is ``n .. node_end[n]-1`` and a kernel
  skips it by jumping to ``node_end[n]``.
- ``token_offsets``: int32 ``[N + 1]`` and ``token_ids``: int32 ``[T]``, CSR: the ids of
  the tokens whose bytes end exactly at node ``n`` are
  ``token_ids[token_offsets[n]:token_offsets[n + 1]]``.
- ``max_depth``: the longest token in bytes (``L``).

Preorder of a trie is the lexicographic order of its strings, so the trie is built from
the sorted token strings in one pass (`_kernels.build_trie_nodes`; its reference is
`reference.build_trie_reference`): each string adds one node per byte past its longest
common prefix with the previous string.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automask.compiler.token_index import _kernels
from automask.compiler.vocabulary.vocabulary import Vocabulary


@dataclass(frozen=True, eq=False)
class TokenTrie:
    node_byte: np.ndarray
    node_depth: np.ndarray
    node_end: np.ndarray
    token_offsets: np.ndarray
    token_ids: np.ndarray
    max_depth: int

    @property
    def num_nodes(self) -> int:
        return int(self.node_byte.shape[0])


_MAX_PADDED_BYTES = 256 << 20
"""Above this many bytes of NUL-padded token matrix, tokens are sorted in Python instead."""


def sort_by_bytes_numpy(flat_data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Stable order of the strings ``flat_data[starts[k]:starts[k]+lengths[k]]`` via fixed-width strings.

    Fast, memory ``len(starts) * max(lengths)``.  Fixed-width strings compare as if padded
    with NULs, so strings that differ only by trailing NULs tie and may come out in the
    wrong order (``b"a\\x00"`` before ``b"a"``); `build_trie_nodes` detects that.
    """
    width = int(lengths.max())
    row = np.repeat(np.arange(starts.size), lengths)
    column = np.arange(row.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix = np.zeros((starts.size, width), dtype=np.uint8)
    matrix[row, column] = flat_data[np.repeat(starts, lengths) + column]
    return np.argsort(matrix.view(f"S{width}").reshape(starts.size), kind="stable")


def sort_by_bytes_python(token_bytes, ids: np.ndarray) -> np.ndarray:
    """Stable order of the tokens ``ids`` by their bytes (exact; slower)."""
    return np.array(
        sorted(range(ids.size), key=[token_bytes[t] for t in ids.tolist()].__getitem__), dtype=np.int64
    )


def build_token_trie(vocab: Vocabulary) -> TokenTrie:
    """Flatten the regular tokens of ``vocab`` into a depth-first `TokenTrie`."""
    flat_data, flat_offsets = vocab.flat()  # special tokens have empty slices there
    all_lengths = np.diff(flat_offsets)
    ids = np.flatnonzero(all_lengths > 0).astype(np.int32)
    if ids.size == 0:
        empty = np.zeros(0, dtype=np.int32)
        return TokenTrie(np.zeros(0, np.uint8), empty, empty, np.zeros(1, np.int32), empty, max_depth=0)
    starts, lengths = flat_offsets[ids], all_lengths[ids]
    max_depth = int(lengths.max())
    total = int(lengths.sum())
    node_byte = np.zeros(total, dtype=np.uint8)
    node_depth = np.zeros(total, dtype=np.int32)
    node_end = np.zeros(total, dtype=np.int32)
    terminal_node = np.zeros(ids.size, dtype=np.int32)

    count = -1
    if ids.size * max_depth <= _MAX_PADDED_BYTES:
        order = sort_by_bytes_numpy(flat_data, starts, lengths)
        count = _kernels.build_trie_nodes(
            flat_data, starts[order], lengths[order], node_byte, node_depth, node_end, terminal_node
        )
    if count < 0:  # too wide for the matrix, or strings that differ only by trailing NULs
        order = sort_by_bytes_python(vocab.token_bytes, ids)
        count = _kernels.build_trie_nodes(
            flat_data, starts[order], lengths[order], node_byte, node_depth, node_end, terminal_node
        )
    # Sorted tokens are grouped by terminal node, in preorder, ids ascending within a node
    # (stable sorts of ascending ids): they are the CSR payload as they stand.
    token_offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.bincount(terminal_node, minlength=count), out=token_offsets[1:])
    arrays = (
        node_byte[:count].copy(),
        node_depth[:count].copy(),
        node_end[:count].copy(),
        token_offsets,
        ids[order],
    )
    for array in arrays:
        array.setflags(write=False)
    return TokenTrie(*arrays, max_depth=max_depth)


def token_trie(vocab: Vocabulary) -> TokenTrie:
    """The trie of ``vocab``, built on first use and then kept with the vocabulary.

    Building it is per-tokenizer preparation (like xgrammar's ``TokenizerInfo``): every
    grammar compiled for the same `Vocabulary` object reuses it.
    """
    return vocab.derived("token_trie", build_token_trie)
