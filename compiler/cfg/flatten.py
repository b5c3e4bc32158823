"""Flatten regular sub-grammars into terminals (one DFA each) before building the tables.

Why: character-level grammars (GBNF above all) spell strings, numbers and blanks as rules
over one-character terminals, so a terminal ends after every byte and the mask walk must ask
the Earley parser at every trie node.  A nonterminal whose language is regular can instead be
one terminal: its DFA is walked by the precomputed, context-independent token rows, and the
parser only sees where the whole construct ends.  The language is unchanged, so every
guarantee of the engine still holds.

Which nonterminals are regular here (a sound, simple subset): those whose alternatives use
only terminals and other regular nonterminals, plus *linear self-recursion*: all recursive
alternatives are ``N -> N x`` (left-linear: ``N = base x*``) or all are ``N -> x N``
(right-linear: ``N = x* base``), which is how the front-ends lower ``*`` / ``+``.

Only grammars without ``%ignore`` are flattened (an ignored terminal may appear between any
two terminals, which a single terminal would not allow).  Flattening is top-down: each
occurrence of a regular nonterminal in a rule that is kept becomes the nonterminal's
terminal, unless that terminal's DFA would exceed ``max_flat_states``, in which case the
nonterminal keeps its rules and its own right-hand sides are flattened instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.grammar.ir import Grammar, NonTerminal, Rule, Terminal, TerminalDef
from automask.compiler.limits import CompileLimits
from automask.compiler.regex import ast as regex_ast
from automask.compiler.regex import ast_to_dfa
from automask.errors import CompileLimitExceeded, EmptyLanguage

FLAT_PREFIX = "__flat_"


def flatten_regular(
    grammar: Grammar,
    limits: CompileLimits,
    max_flat_states: int,
    dfa_of: Callable[[regex_ast.RegexNode, CompileLimits], ByteDFA] = ast_to_dfa,
) -> Grammar:
    """``grammar`` with regular nonterminals replaced by terminals (same language).

    ``dfa_of`` compiles a regex AST (default `ast_to_dfa`; the compiler passes a memoised one,
    `terminal_cache.TerminalCache.dfa`, so the DFA built here is reused for the terminal).
    """
    if grammar.ignore or max_flat_states <= 0:
        return grammar
    alternatives = grammar.rules_by_origin()
    terminals = {t.name: t for t in grammar.terminals}
    regexes: dict[str, regex_ast.RegexNode | None] = {}
    in_progress: set[str] = set()

    def symbol_regex(symbol, owner: str) -> regex_ast.RegexNode | None:
        if isinstance(symbol, Terminal):
            return terminals[symbol.name].regex
        if symbol.name == owner:
            return None
        return regex_of(symbol.name)

    def sequence_regex(symbols, owner: str) -> regex_ast.RegexNode | None:
        parts = []
        for symbol in symbols:
            part = symbol_regex(symbol, owner)
            if part is None:
                return None
            parts.append(part)
        return regex_ast.concat(parts)

    def regex_of(name: str) -> regex_ast.RegexNode | None:
        if name in regexes:
            return regexes[name]
        if name in in_progress or name not in alternatives:
            return None  # mutual recursion (not handled) or undefined
        in_progress.add(name)
        try:
            regexes[name] = _rule_regex(name, alternatives[name], sequence_regex)
        finally:
            in_progress.discard(name)
        return regexes[name]

    # A candidate larger than `max_flat_states` stays rules anyway: give up on it early (the
    # unminimised subset DFA may be a few times the minimal one, its NFA larger still).
    candidate_limits = dataclasses.replace(
        limits,
        max_dfa_states=min(limits.max_dfa_states, 8 * max_flat_states),
        max_nfa_states=min(limits.max_nfa_states, 64 * max_flat_states),
    )
    kept_rules: list[Rule] = []
    new_terminals: dict[str, TerminalDef] = {}
    flat_of: dict[str, str | None] = {}  # nonterminal -> its terminal name, None = keep rules
    visited: set[str] = set()
    queue = [grammar.start]

    def flat_terminal(name: str) -> str | None:
        if name not in flat_of:
            node = regex_of(name)
            flat_of[name] = None
            if node is not None:
                try:
                    dfa = dfa_of(node, candidate_limits)
                except (CompileLimitExceeded, EmptyLanguage):
                    dfa = None
                if dfa is not None and dfa.num_states <= max_flat_states:
                    terminal_name = f"{FLAT_PREFIX}{name}"
                    new_terminals[terminal_name] = TerminalDef(terminal_name, node, f"<{name}>")
                    flat_of[name] = terminal_name
        return flat_of[name]

    while queue:
        name = queue.pop()
        if name in visited:
            continue
        visited.add(name)
        for rule in alternatives.get(name, ()):
            expansion = []
            for symbol in rule.expansion:
                if isinstance(symbol, NonTerminal):
                    flat = flat_terminal(symbol.name) if symbol.name != name else None
                    if flat is not None:
                        expansion.append(Terminal(flat))
                        continue
                    queue.append(symbol.name)
                expansion.append(symbol)
            kept_rules.append(Rule(rule.origin, tuple(expansion), rule.priority, rule.location))
    if not new_terminals:
        return grammar
    return Grammar(
        grammar.start,
        tuple(kept_rules),
        grammar.terminals + tuple(new_terminals.values()),
        grammar.ignore,
        grammar.source,
    )


def _rule_regex(name: str, rules, sequence_regex) -> regex_ast.RegexNode | None:
    """The regex of nonterminal ``name`` from its alternatives, or None if not (simply) regular."""
    base, left, right = [], [], []
    for rule in rules:
        expansion = rule.expansion
        positions = [i for i, s in enumerate(expansion) if isinstance(s, NonTerminal) and s.name == name]
        if not positions:
            node = sequence_regex(expansion, name)
            if node is None:
                return None
            base.append(node)
        elif positions == [0] and len(expansion) > 1:
            node = sequence_regex(expansion[1:], name)
            if node is None:
                return None
            left.append(node)
        elif positions == [len(expansion) - 1] and len(expansion) > 1:
            node = sequence_regex(expansion[:-1], name)
            if node is None:
                return None
            right.append(node)
        else:
            return None  # N -> N, N in the middle, or several occurrences
    if not base or (left and right):
        return None
    core = regex_ast.alternation(base)
    if left:
        return regex_ast.concat([core, regex_ast.repeat(regex_ast.alternation(left), 0, None)])
    if right:
        return regex_ast.concat([regex_ast.repeat(regex_ast.alternation(right), 0, None), core])
    return core
