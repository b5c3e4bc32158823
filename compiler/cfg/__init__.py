"""The token-level context-free grammar engine (see ``docs/cfg-engine.md``).

- `tables`: grammar IR -> integer rules + all terminal regexes as one stacked byte DFA.
- `earley`: a byte-level Earley parser whose terminals are lexed by those DFAs; immutable,
  persistent parse states (cheap rollback / fork).
- `token_walk` + `_kernels`: token masks = precomputed per-DFA-state token rows (context
  independent) + a numba trie walk below the points where a terminal may end inside a token.

The public entry point is `automask.grammar_api.compile_grammar`; the matcher is
`automask.runtime.cfg_matcher.CFGMatcher`.
"""
