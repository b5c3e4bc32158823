"""Token index: per DFA state, the deduplicated bitmask row of tokens allowed next.

`build_token_index(dfa, vocab)` -> `TokenIndex`; see `index` for the layout and algorithm,
`trie` for the vocabulary trie, `_kernels` for the numba loops and `reference` for their
pure-Python specifications.
"""

from automask.compiler.token_index.index import TokenIndex, bounded_equivalence, build_token_index
from automask.compiler.token_index.trie import TokenTrie, build_token_trie, token_trie

__all__ = [
    "TokenIndex",
    "TokenTrie",
    "bounded_equivalence",
    "build_token_index",
    "build_token_trie",
    "token_trie",
]
