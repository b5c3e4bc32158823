"""Regular-expression front-end: pattern text -> AST -> minimal UTF-8 `ByteDFA`.

    from automask.compiler.regex import regex_to_dfa
    dfa = regex_to_dfa(r"\\d{4}-\\d{2}-\\d{2}")
    dfa.matches("2024-01-31".encode())  # True

Matching is *fullmatch*.  Other front-ends (JSON Schema, grammars) build `ast` nodes
directly and call `ast_to_dfa`.
"""

from __future__ import annotations

import sys

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.automata.dfa import minimize_byte_dfa, nfa_to_dfa
from automask.compiler.automata.finite import finite_language_dfa
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import RegexNode
from automask.compiler.regex.built import built_dfa, shared_built_dfas
from automask.compiler.regex.compose import compose_dfa, worth_composing
from automask.compiler.regex.finite_strings import small_finite_language
from automask.compiler.regex.parser import parse_regex
from automask.compiler.regex.to_nfa import ast_to_nfa
from automask.errors import CompileLimitExceeded, EmptyLanguage

__all__ = ["RegexNode", "ast_to_dfa", "parse_regex", "regex_to_dfa"]


def ast_to_dfa(node: RegexNode, limits: CompileLimits = DEFAULT_LIMITS) -> ByteDFA:
    """The minimal byte DFA accepting the UTF-8 encodings of ``node``'s strings.

    Raises `EmptyLanguage` if no string matches and `CompileLimitExceeded` when the NFA or
    DFA would exceed ``limits`` -- also for an AST nested too deeply to walk.

    A tagged node (a `Concat` subclass with a ``build_dfa(limits)`` method, like
    `json_schema.keys.KeyNotIn`) builds its own DFA, which must be this same minimal DFA.
    Equal directly built nodes are built once per call (`built.shared_built_dfas`).
    Small finite languages (literals, alternations of literals) skip the NFA: their minimal
    DFA is built from the strings directly; large counted repeats of prefix codes (JSON
    string bodies with ``maxLength``) are chained at the DFA level (`compose`).  Every path
    yields the same minimal DFA with the same canonical numbering (breadth-first from the
    start, successors by increasing byte).
    """
    with shared_built_dfas():
        return _ast_to_dfa(node, limits)


def _ast_to_dfa(node: RegexNode, limits: CompileLimits) -> ByteDFA:
    if hasattr(node, "build_dfa"):  # a front-end's tagged node or a `Product`: a direct construction
        return built_dfa(node, limits)
    words = small_finite_language(node)
    if words is not None:
        return finite_language_dfa(words)
    if worth_composing(node):
        try:
            composed = compose_dfa(node, limits, ast_to_dfa)
        except (EmptyLanguage, RecursionError):
            composed = None
        if composed is not None:
            return minimize_byte_dfa(composed)
    return _general_ast_to_dfa(node, limits)


def _general_ast_to_dfa(node: RegexNode, limits: CompileLimits) -> ByteDFA:
    """The general path: Thompson NFA, subset construction, trimming, Hopcroft."""
    try:
        nfa = ast_to_nfa(node, limits)
    except RecursionError:
        raise CompileLimitExceeded(
            "regex nesting depth",
            sys.getrecursionlimit() + 1,
            sys.getrecursionlimit(),
            hint="the expression tree is nested too deeply; flatten it",
        ) from None
    return nfa_to_dfa(nfa, limits)


def regex_to_dfa(
    pattern: str, limits: CompileLimits = DEFAULT_LIMITS, *, unicode_classes: bool = True
) -> ByteDFA:
    """Compile ``pattern`` (fullmatch semantics) to a minimal, trimmed UTF-8 `ByteDFA`.

    ``unicode_classes`` selects Unicode (default, like Python str patterns) or ASCII
    (JSON Schema / ECMA-style) meanings for ``\\d \\w \\s``; see `parser`.
    """
    return ast_to_dfa(parse_regex(pattern, limits, unicode_classes=unicode_classes), limits)
