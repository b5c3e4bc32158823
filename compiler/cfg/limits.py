"""Bounds on the work the CFG engine may do, so a pathological grammar fails fast.

`CompileLimits` (shared with the regex path) bounds the terminal DFAs (``max_dfa_states``)
and the precomputed per-state token rows (``max_index_bytes``).  `CFGLimits` bounds what is
specific to Earley parsing: grammar size, the size of one Earley set, the number of live
lexer entries after one byte, and the per-grammar caches of Earley sets and of masks.  Exceeding any of
them raises `automask.errors.CompileLimitExceeded` (at compile time or, for the per-byte
bounds, during matching).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CFGLimits:
    max_grammar_symbols: int = 2_000_000
    max_earley_items: int = 200_000
    """Items in one Earley set (ambiguous grammars can make sets large)."""
    max_frontier_entries: int = 100_000
    """Live ``(terminal DFA state, origin set)`` pairs after one byte."""
    max_cached_sets: int = 100_000
    """Earley sets a grammar memoises before it drops its cache (a cache only: never an error)."""
    max_flat_states: int = 2000
    """Largest DFA a regular sub-grammar is flattened into (larger ones keep their rules; 0: none)."""
    max_cached_masks: int = 2048
    """Token masks a compiled grammar caches by parse context (0 disables the cache)."""
    max_forced_bytes: int = 4096
    """Longest `forced_bytes` answer."""
    initial_memo_credit: float = 1.0
    """Seconds of subtree-memo building a fresh grammar may spend before it has earned more
    in frontier walks (`SubtreeMemo.earn`).  A grammar compiled from Lark/GBNF text usually
    serves many outputs; a JSON-Schema grammar usually one, and starts with none
    (`json_schema_api.JSON_SCHEMA_CFG_LIMITS`)."""
    max_subtree_memo_bytes: int = 64 * 2**20
    """Memoised trie subtrees per grammar (`subtree_memo.SubtreeMemo`; a cache only: dropped when larger)."""
    max_completion_nodes: int = 50_000_000
    """Precomputed (state, trie node) completion points, summed over all terminal states."""


DEFAULT_CFG_LIMITS = CFGLimits()
