"""The token-level context-free grammar engine (see ``docs/cfg-engine.md``).

- `tables`: grammar IR -> integer rules + all terminal regexes as one stacked byte DFA.
- `earley`: a byte-level Earley parser whose terminals are lexed by those DFAs; immutable,
  persistent parse states (cheap rollback / fork).
- `terminal_cache`: per-vocabulary memos shared by all grammars: regex -> DFA, and per terminal
  DFA its per-state token rows and completion points, built lazily.
- `token_walk` + `_kernels`: token masks = per-DFA-state token rows (context independent,
  filled on first use) + a numba trie walk below the points where a terminal may end inside
  a token.

The public entry point is `automask.grammar_api.compile_grammar`; the matcher is
`automask.runtime.cfg_matcher.CFGMatcher`.
"""
