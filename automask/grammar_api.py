"""`compile_grammar`: a context-free grammar (Lark or GBNF text, or a grammar IR) plus a vocabulary in,
a `CompiledGrammar` out (matched by `automask.runtime.cfg_matcher.CFGMatcher`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Literal

from automask.compiler.cfg.limits import DEFAULT_CFG_LIMITS, CFGLimits
from automask.compiler.grammar.ir import Grammar
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.compiled_grammar import CompiledGrammar


def compile_grammar(
    text: str,
    vocab: Vocabulary | str,
    *,
    syntax: Literal["lark", "gbnf"] = "lark",
    start: str | None = None,
    limits: CompileLimits | None = None,
    cfg_limits: CFGLimits | None = None,
    longest_match: bool | None = None,
) -> CompiledGrammar:
    """Compile grammar ``text`` into a token-level constraint for ``vocab``.

    ``syntax`` is ``"lark"`` (start symbol default ``start``) or ``"gbnf"`` (default
    ``root``).  The whole output must be a sentence of the grammar, with ``%ignore``d
    terminals allowed between terminals and at both ends.

    ``longest_match`` (default: True for Lark, as lark's own Earley lexer; False for GBNF,
    whose semantics are character level): a terminal does not end where the next byte extends
    it to a longer match, so ``xif`` is one ``NAME``, not ``NAME "if"``
    (`automask.compiler.grammar.ir.Grammar.longest_match`).  False lets a terminal end
    wherever its regex matches.  ``vocab`` is a `Vocabulary` or a built-in name.
    Raises `GrammarSyntaxError` (with line/column), `UnsupportedFeature`, `EmptyLanguage`
    or `CompileLimitExceeded`.
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    limits.check("max_source_chars", len(text))
    started = time.perf_counter()
    if syntax == "lark":  # import only the front-end needed (importing lark alone takes ~0.2 s)
        from automask.compiler.grammar.lark_frontend import grammar_from_lark

        grammar = grammar_from_lark(text, start=start or "start", longest_match=longest_match is not False)
    elif syntax == "gbnf":
        from automask.compiler.grammar.gbnf_frontend import grammar_from_gbnf

        grammar = grammar_from_gbnf(text, start=start or "root", limits=limits)
        if longest_match:
            grammar = replace(grammar, longest_match=True)
    else:
        raise ValueError(f"syntax must be 'lark' or 'gbnf', not {syntax!r}")
    parse_seconds = time.perf_counter() - started
    return _compile_ir(grammar, vocab, limits, cfg_limits, f"{syntax} grammar", parse_seconds)


def compile_grammar_ir(
    grammar: Grammar,
    vocab: Vocabulary | str,
    *,
    limits: CompileLimits | None = None,
    cfg_limits: CFGLimits | None = None,
    source: str = "grammar",
) -> CompiledGrammar:
    """Compile a grammar IR (`automask.compiler.grammar.ir.Grammar`, e.g. from the builder)."""
    return _compile_ir(grammar, vocab, limits, cfg_limits, source, 0.0)


def _compile_ir(
    grammar: Grammar,
    vocab: Vocabulary | str,
    limits: CompileLimits | None,
    cfg_limits: CFGLimits | None,
    source: str,
    parse_seconds: float,
) -> CompiledGrammar:
    from automask.api import _resolve_vocabulary
    from automask.compiler.cfg.tables import build_grammar_tables
    from automask.compiler.cfg.terminal_cache import terminal_cache
    from automask.compiler.cfg.token_walk import build_terminal_token_table
    from automask.runtime.cfg_matcher import CFGGrammar

    limits = DEFAULT_LIMITS if limits is None else limits
    cfg_limits = DEFAULT_CFG_LIMITS if cfg_limits is None else cfg_limits
    vocabulary = _resolve_vocabulary(vocab)
    started = time.perf_counter()
    # Per-vocabulary, shared by every grammar: the token trie, terminal DFAs, token rows.
    cache = terminal_cache(vocabulary)
    tables = build_grammar_tables(grammar, limits, cfg_limits, cache.dfa)
    tables_done = time.perf_counter()
    token_table = build_terminal_token_table(tables, cache, limits, cfg_limits)
    finished = time.perf_counter()
    stats = {
        "compile_seconds": finished - started + parse_seconds,
        "parse_seconds": parse_seconds,
        "tables_seconds": tables_done - started,
        "index_seconds": finished - tables_done,
        "num_rules": tables.num_rules,
        "num_terminals": len(tables.terminal_names),
        "num_states": tables.num_states,
        "longest_match": grammar.longest_match,
        # terminals of a longest-match grammar left with every split (see `cfg.longest_match`)
        "longest_match_refused": list(tables.longest_match_refused),
    }
    return CFGGrammar(tables, token_table, vocabulary, source, stats, cfg_limits)
