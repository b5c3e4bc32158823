"""Programmatic grammars: an EBNF expression API lowered to the BNF grammar IR.

    g = GrammarBuilder(start="root")
    g.rule("root", seq(lit("SELECT "), ref("cols"), opt(seq(" LIMIT ", regex(r"[1-9][0-9]*")))))
    g.rule("cols", choice(["id", "name", "email"]))
    grammar = g.build()

Expressions are immutable: `lit` (a string, optionally case-insensitive), `regex` (Python
``re`` syntax), `char_class` (a ready regex-AST `CharSet`), `ref` (a rule or a named
terminal), `seq`, `alt`, `choice` (one of many strings), `opt`, `star`, `plus`, `repeat`.
A bare ``str`` inside `seq`/`alt` means `lit`.  Lowering follows lark: each literal, regex
or class becomes a (deduplicated) anonymous terminal, ``*``/``+``/``?``/``{m,n}`` become
left-recursive helper rules named ``__<rule>_<kind>_<n>``.  The GBNF front-end builds the
same expressions, so both share this lowering.

Input-dependent templates: `choice_grammar` (one of candidate strings known at run time)
and `sql_grammar_for_schema` (the bundled SQL grammar with table and column names
restricted to a schema).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from automask.compiler.grammar.ir import (
    Grammar,
    NonTerminal,
    Rule,
    SourceLocation,
    Symbol,
    Terminal,
    TerminalDef,
)
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.compiler.grammar.validate import check_grammar, prune_unreachable
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import NOTHING, CharSet, RegexNode, literal

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Lit:
    text: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str


@dataclass(frozen=True, slots=True)
class CharClass:
    """A ready regex AST (usually one `CharSet`) with its Python ``re`` rendering."""

    node: RegexNode
    pattern: str


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    options: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Rep:
    item: Expr
    min: int
    max: int | None


Expr = Lit | Regex | CharClass | Ref | Seq | Alt | Rep
ExprLike = Expr | str


def _expr(item: ExprLike) -> Expr:
    return Lit(item) if isinstance(item, str) else item


def lit(text: str, *, ignore_case: bool = False) -> Lit:
    return Lit(text, ignore_case)


def regex(pattern: str) -> Regex:
    return Regex(pattern)


def char_class(node: CharSet, pattern: str) -> CharClass:
    return CharClass(node, pattern)


def ref(name: str) -> Ref:
    return Ref(name)


def seq(*items: ExprLike) -> Seq:
    return Seq(tuple(_expr(item) for item in items))


def alt(*options: ExprLike) -> Alt:
    return Alt(tuple(_expr(option) for option in options))


def choice(strings: Iterable[str], *, ignore_case: bool = False) -> Alt:
    """Exactly one of ``strings`` (duplicates removed, order kept)."""
    return Alt(tuple(Lit(text, ignore_case) for text in dict.fromkeys(strings)))


def opt(item: ExprLike) -> Rep:
    return Rep(_expr(item), 0, 1)


def star(item: ExprLike) -> Rep:
    return Rep(_expr(item), 0, None)


def plus(item: ExprLike) -> Rep:
    return Rep(_expr(item), 1, None)


def repeat(item: ExprLike, minimum: int, maximum: int | None) -> Rep:
    if minimum < 0 or (maximum is not None and maximum < minimum):
        raise ValueError(f"bad repetition bounds {{{minimum},{maximum}}}")
    return Rep(_expr(item), minimum, maximum)


# ------------------------------------------------------------------ builder


class GrammarBuilder:
    """Collects rules and terminals, then lowers them to an immutable `Grammar` with `build`."""

    def __init__(
        self, start: str = "root", *, limits: CompileLimits = DEFAULT_LIMITS, longest_match: bool = False
    ):
        self.start = start
        self.limits = limits
        self.longest_match = longest_match
        self._rules: list[tuple[str, Expr, SourceLocation | None]] = []
        self._named_terminals: dict[str, TerminalDef] = {}
        self._ignore: list[str] = []

    def rule(self, name: str, expr: ExprLike, *, location: SourceLocation | None = None) -> GrammarBuilder:
        """Add ``name -> expr``; calling again with the same name adds alternatives."""
        self._rules.append((name, _expr(expr), location))
        return self

    def terminal(self, name: str, pattern: str, *, priority: int = 0) -> GrammarBuilder:
        """Define a named terminal (Python ``re`` syntax) that `ref` can use."""
        self._named_terminals[name] = TerminalDef(name, python_regex_to_ast(pattern), pattern, priority)
        return self

    def ignore(self, name: str) -> GrammarBuilder:
        """Allow named terminal ``name`` anywhere between terminals (lark's ``%ignore``)."""
        self._ignore.append(name)
        return self

    def build(self, *, source: str = "", prune: bool = True) -> Grammar:
        """Lower to BNF, validate (`check_grammar`) and drop unreachable rules if ``prune``."""
        lowering = _Lowering(self.limits, set(self._named_terminals))
        rules: list[Rule] = []
        for name, expr, location in self._rules:
            options = expr.options if isinstance(expr, Alt) and expr.options else (expr,)
            for option in options:
                rules.append(Rule(name, tuple(lowering.sequence(option, name)), 0, location))
        rules.extend(lowering.helper_rules)
        terminals = (*self._named_terminals.values(), *lowering.terminals.values())
        grammar = Grammar(
            self.start, tuple(rules), tuple(terminals), tuple(self._ignore), source, self.longest_match
        )
        check_grammar(grammar)
        return prune_unreachable(grammar) if prune else grammar


class _Lowering:
    """EBNF expression -> BNF symbols, collecting anonymous terminals and helper rules."""

    def __init__(self, limits: CompileLimits, named_terminals: set[str]):
        self.limits = limits
        self.named_terminals = named_terminals
        self.terminals: dict[str, TerminalDef] = {}  # pattern -> definition
        self.helper_rules: list[Rule] = []
        self._helpers = 0

    def sequence(self, expr: Expr, owner: str) -> list[Symbol]:
        if isinstance(expr, Seq):
            return [symbol for item in expr.items for symbol in self.sequence(item, owner)]
        if isinstance(expr, Lit):
            if not expr.text:
                return []
            pattern = re.escape(expr.text)
            node = literal(expr.text)
            if expr.ignore_case:
                pattern = f"(?i:{pattern})"
                node = python_regex_to_ast(pattern)
            return [self._terminal(pattern, node)]
        if isinstance(expr, Regex):
            return [self._terminal(expr.pattern, python_regex_to_ast(expr.pattern))]
        if isinstance(expr, CharClass):
            return [self._terminal(expr.pattern, expr.node)]
        if isinstance(expr, Ref):
            return [Terminal(expr.name) if expr.name in self.named_terminals else NonTerminal(expr.name)]
        if isinstance(expr, Alt):
            if not expr.options:  # matches nothing: validation reports the empty language
                return [self._terminal(r"[^\s\S]", NOTHING)]
            helper = self._helper(owner, "alt")
            for option in expr.options:
                self._add(helper, self.sequence(option, owner))
            return [NonTerminal(helper)]
        if isinstance(expr, Rep):
            return self._repeat(expr, owner)
        raise TypeError(f"not a grammar expression: {expr!r}")

    def _repeat(self, expr: Rep, owner: str) -> list[Symbol]:
        self.limits.check("max_repeat", expr.max if expr.max is not None else expr.min)
        body = self.sequence(expr.item, owner)
        if len(body) != 1:  # share one symbol so copies stay small
            group = self._helper(owner, "group")
            self._add(group, body)
            body = [NonTerminal(group)]
        if expr.max is None:
            loop = self._helper(owner, "star" if expr.min == 0 else "plus")
            self._add(loop, [] if expr.min == 0 else body)
            self._add(loop, [NonTerminal(loop), *body])
            return body * max(expr.min - 1, 0) + [NonTerminal(loop)]
        symbols = body * expr.min
        if expr.max > expr.min:
            optional_tail: list[Symbol] = []
            for _ in range(expr.max - expr.min):
                optional = self._helper(owner, "opt")
                self._add(optional, [])
                self._add(optional, [*body, *optional_tail])
                optional_tail = [NonTerminal(optional)]
            symbols += optional_tail
        return symbols

    def _terminal(self, pattern: str, node: RegexNode) -> Terminal:
        existing = self.terminals.get(pattern)
        if existing is None:
            existing = TerminalDef(f"__ANON_{len(self.terminals)}", node, pattern)
            self.terminals[pattern] = existing
        return Terminal(existing.name)

    def _helper(self, owner: str, kind: str) -> str:
        self._helpers += 1
        return f"__{owner}_{kind}_{self._helpers}"

    def _add(self, origin: str, expansion: list[Symbol]) -> None:
        self.helper_rules.append(Rule(origin, tuple(expansion)))


# ---------------------------------------------------------------- templates


def choice_grammar(candidates: Sequence[str], *, ignore_case: bool = False) -> Grammar:
    """A grammar whose language is exactly ``candidates`` (strings chosen at run time).

    An empty candidate list raises `EmptyGrammarError`: nothing could ever be generated.
    """
    return GrammarBuilder("root").rule("root", choice(candidates, ignore_case=ignore_case)).build()


SQL_TABLE_RULE = "table_name"
SQL_COLUMN_RULE = "column_name"


def sql_grammar_for_schema(schema: Mapping[str, Sequence[str]]) -> Grammar:
    """The bundled SQLite SELECT grammar with identifiers restricted to ``schema``.

    ``schema`` maps table names to column names.  Table references may only name those
    tables and column references only those columns (any table's: which table a column
    belongs to depends on the FROM clause, which a context-free grammar cannot track).
    Identifiers match case-insensitively, as in SQLite; aliases (``AS t1``) stay free.
    """
    from automask.compiler.grammar.lark_frontend import grammar_from_lark
    from automask.grammars import load_bundled

    if not schema or not any(schema.values()):
        raise ValueError("the schema needs at least one table with at least one column")
    base = grammar_from_lark(load_bundled("sql.lark"))
    tables = list(dict.fromkeys(schema))
    columns = list(dict.fromkeys(column for names in schema.values() for column in names))
    terminals = list(base.terminals)
    rules = [rule for rule in base.rules if rule.origin not in (SQL_TABLE_RULE, SQL_COLUMN_RULE)]
    for rule_name, prefix, names in (
        (SQL_TABLE_RULE, "SCHEMA_TABLE", tables),
        (SQL_COLUMN_RULE, "SCHEMA_COLUMN", columns),
    ):
        location = base.location_of(rule_name)
        for index, name in enumerate(names):
            pattern = f"(?i:{re.escape(name)})"
            terminal = TerminalDef(f"{prefix}_{index}", python_regex_to_ast(pattern), pattern, 1)
            terminals.append(terminal)
            rules.append(Rule(rule_name, (Terminal(terminal.name),), 0, location))
    grammar = Grammar(
        base.start, tuple(rules), tuple(terminals), base.ignore, base.source, base.longest_match
    )
    check_grammar(grammar)
    return prune_unreachable(grammar)
