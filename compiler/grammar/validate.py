"""Well-formedness checks on a grammar IR, run by every front-end before compilation.

Errors (typed, with the line/column of the offending definition or use):

- `UndefinedSymbolError`: the start symbol, a nonterminal or a terminal used in a rule, or
  an ``%ignore`` name, that nothing defines.
- `EmptyGrammarError`: the start symbol derives no string (the language is empty).
- `UnproductiveRuleError`: a nonterminal reachable from the start symbol, or a terminal
  used by a reachable rule, that derives no finite string (``a: a "x"``, ``X: /[^\\s\\S]/``).
  Such a rule is always a mistake, and silently dropping it would change what users think
  the grammar says.

Warnings: rules unreachable from the start symbol are reported with `GrammarWarning` and
are *not* an error: lark drops them silently and grammars often keep spare rules.
`prune_unreachable` removes them.
"""

from __future__ import annotations

import warnings

from automask.compiler.grammar.errors import EmptyGrammarError, UndefinedSymbolError, UnproductiveRuleError
from automask.compiler.grammar.ir import Grammar, NonTerminal, Rule, SourceLocation, Terminal
from automask.compiler.regex.ast import Alternation, CharSet, Concat, Empty, Product, RegexNode, Repeat


class GrammarWarning(UserWarning):
    """A grammar that works but probably is not what its author meant."""


def check_grammar(grammar: Grammar) -> None:
    """Raise a `GrammarDefinitionError` subclass if ``grammar`` is malformed; warn on unreachable rules."""
    defined = set(grammar.nonterminals())
    terminals = {terminal.name for terminal in grammar.terminals}
    if grammar.start not in defined:
        raise UndefinedSymbolError(grammar.start, grammar.source, None, used_in="<start>")
    for rule, symbol in grammar.symbols_used():
        known = defined if isinstance(symbol, NonTerminal) else terminals
        if symbol.name not in known:
            raise UndefinedSymbolError(
                symbol.name, grammar.source, _offset(rule.location), used_in=rule.origin
            )
    for name in grammar.ignore:
        if name not in terminals:
            raise UndefinedSymbolError(name, grammar.source, None, used_in="%ignore")

    reachable = reachable_nonterminals(grammar)
    productive_terminals = {t.name for t in grammar.terminals if regex_is_productive(t.regex)}
    productive = productive_nonterminals(grammar, productive_terminals)
    if grammar.start not in productive:
        raise EmptyGrammarError(grammar.start, grammar.source, _offset(grammar.location_of(grammar.start)))
    culprits = [
        (rule, name)
        for rule in grammar.rules
        if rule.origin in reachable
        for name in [rule.origin, *(s.name for s in rule.expansion if isinstance(s, Terminal))]
        if name not in productive and name not in productive_terminals
    ]
    if culprits:
        rule, name = min(culprits, key=lambda pair: (pair[1].startswith("_"), _offset(pair[0].location) or 0))
        location = grammar.location_of(name) or rule.location
        raise UnproductiveRuleError(name, grammar.source, _offset(location))
    unreachable = [name for name in defined if name not in reachable]
    if unreachable:
        warnings.warn(
            f"rules unreachable from {grammar.start!r} are ignored: {', '.join(sorted(unreachable))}",
            GrammarWarning,
            stacklevel=3,
        )


def prune_unreachable(grammar: Grammar) -> Grammar:
    """``grammar`` without rules unreachable from the start symbol and without unused terminals."""
    reachable = reachable_nonterminals(grammar)
    rules = tuple(rule for rule in grammar.rules if rule.origin in reachable)
    used = {s.name for rule in rules for s in rule.expansion if isinstance(s, Terminal)} | set(grammar.ignore)
    terminals = tuple(t for t in grammar.terminals if t.name in used)
    return Grammar(grammar.start, rules, terminals, grammar.ignore, grammar.source, grammar.longest_match)


def reachable_nonterminals(grammar: Grammar) -> set[str]:
    table = grammar.rules_by_origin()
    reachable = {grammar.start}
    frontier = [grammar.start]
    while frontier:
        for rule in table.get(frontier.pop(), ()):
            for symbol in rule.expansion:
                if isinstance(symbol, NonTerminal) and symbol.name not in reachable:
                    reachable.add(symbol.name)
                    frontier.append(symbol.name)
    return reachable


def productive_nonterminals(grammar: Grammar, productive_terminals: set[str]) -> set[str]:
    """Nonterminals that derive at least one finite string (least fixpoint)."""
    productive: set[str] = set()

    def derives(rule: Rule) -> bool:
        return all(
            (s.name in productive) if isinstance(s, NonTerminal) else (s.name in productive_terminals)
            for s in rule.expansion
        )

    changed = True
    while changed:
        changed = False
        for rule in grammar.rules:
            if rule.origin not in productive and derives(rule):
                productive.add(rule.origin)
                changed = True
    return productive


def regex_is_productive(node: RegexNode) -> bool:
    """True iff the regex AST matches at least one string."""
    if isinstance(node, CharSet):
        return bool(node.ranges)
    if isinstance(node, Empty):
        return True
    if isinstance(node, Concat):
        return all(regex_is_productive(item) for item in node.items)
    if isinstance(node, Alternation):
        return any(regex_is_productive(option) for option in node.options)
    if isinstance(node, Repeat):
        return node.min == 0 or regex_is_productive(node.item)
    if isinstance(node, Product):  # maybe empty: the terminal's DFA construction says so
        left = regex_is_productive(node.left)
        return left and regex_is_productive(node.right) if node.mode == "intersection" else left
    raise TypeError(f"not a regex AST node: {node!r}")


def _offset(location: SourceLocation | None) -> int | None:
    return None if location is None else location.offset
