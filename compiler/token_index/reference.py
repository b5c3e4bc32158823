"""Pure-Python specifications of the token-index kernels (slow; used by tests and debugging).

`allowed_rows_reference` is the definition of the index: token ``t`` is allowed at state
``s`` iff walking every byte of ``t`` from ``s`` never reaches ``DEAD`` (every `ByteDFA`
state is live, so that is exactly "the output stays a viable prefix").  Special and empty
tokens are never allowed; EOS ids are allowed iff ``s`` is accepting.
"""

from __future__ import annotations

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.bitmask import bitmask_words


def allowed_row_reference(dfa: ByteDFA, vocab: Vocabulary, state: int) -> np.ndarray:
    """The bitmask row (int32 words) of tokens allowed at ``state``."""
    words = np.zeros(bitmask_words(vocab.size), dtype=np.uint32)
    for token_id, data in enumerate(vocab.token_bytes):
        if token_id in vocab.special_ids or not data:
            continue
        if dfa.step(state, data) != DEAD:
            words[token_id >> 5] |= np.uint32(1 << (token_id & 31))
    if dfa.accepting[state]:
        for token_id in vocab.eos_ids:
            words[token_id >> 5] |= np.uint32(1 << (token_id & 31))
    return words.view(np.int32)


def allowed_rows_reference(dfa: ByteDFA, vocab: Vocabulary) -> np.ndarray:
    """int32 ``[num_states, words]``: `allowed_row_reference` for every state."""
    return np.stack([allowed_row_reference(dfa, vocab, s) for s in range(dfa.num_states)])


def refine_partition_reference(columns: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """One Moore round (spec of `_kernels.refine_partition`): classes numbered by first occurrence."""
    numbering: dict[tuple[int, ...], int] = {}
    out = np.empty(len(classes), dtype=np.int32)
    for s in range(len(classes)):
        signature = (int(classes[s]),) + tuple(int(classes[t]) if t >= 0 else -1 for t in columns[s])
        out[s] = numbering.setdefault(signature, len(numbering))
    return out


def build_trie_reference(vocab: Vocabulary) -> list[tuple[int, int, int, list[int]]]:
    """The depth-first trie as ``(byte, depth, subtree_end, token_ids)`` per node (spec of `trie.build_token_trie`).

    Built the obvious way: nested dicts, then a recursive preorder walk with children in
    byte order.
    """
    root: dict = {}
    for token_id, data in enumerate(vocab.token_bytes):
        if token_id in vocab.special_ids or not data:
            continue
        node = root
        for byte in data:
            node = node.setdefault(byte, {})
        node.setdefault(None, []).append(token_id)

    nodes: list[tuple[int, int, int, list[int]]] = []

    def visit(children: dict, depth: int) -> None:
        for byte in sorted(k for k in children if k is not None):
            child = children[byte]
            index = len(nodes)
            nodes.append((byte, depth, -1, sorted(child.get(None, []))))
            visit(child, depth + 1)
            nodes[index] = (byte, depth, len(nodes), nodes[index][3])

    visit(root, 1)
    return nodes
