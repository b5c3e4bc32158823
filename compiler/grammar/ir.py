r"""The grammar IR: plain, immutable BNF that every grammar front-end lowers to.

Modelled on lark's ``grammar.py`` (Symbol / Terminal / Rule), kept deliberately small:

- `Grammar.start`: the name of the start nonterminal.
- `Grammar.rules`: a tuple of `Rule` ``origin -> expansion``; one `Rule` per alternative,
  so a nonterminal's alternatives are all rules with that origin, in source order.  An
  expansion is a tuple of `NonTerminal` / `Terminal` symbols; ``()`` is the empty string.
  There is no EBNF here: front-ends expand ``?``, ``*``, ``+``, ``{m,n}`` into helper rules.
- `Grammar.terminals`: a tuple of `TerminalDef`, each a named regular language given twice:
  ``regex`` (an `automask.compiler.regex.ast` node over code points, what compilation uses)
  and ``pattern`` (equivalent Python ``re`` source with flags inlined, for messages and
  for checking the AST against ``re``).
- `Grammar.ignore`: names of terminals that may appear, any number of times, before every
  terminal and at the end of the text (lark's ``%ignore``).  Ignored terminals are not used
  in rules.
- Priorities (`Rule.priority`, `TerminalDef.priority`) are kept for disambiguation; they do
  not change the language, so recognizers ignore them.
- `SourceLocation` (1-based line/column) on rules and terminals, for error messages;
  ``Grammar.source`` keeps the original text so errors can quote it.

Terminal semantics are *character level*: a text is in the language iff it splits into
``ignore* t1 ignore* t2 ... ignore* tn ignore*`` with each ``ti`` fully matching its
terminal's regex and the terminal sequence derivable from the start symbol.  No lexer priorities.

`Grammar.longest_match` (what lark's default Earley lexer, ``"dynamic"``, does for the usual
terminals) adds one lexical rule: a terminal does not end where the next byte would extend
it to a longer match of the same terminal, i.e. ``ti`` may not be followed by a byte ``b``
with ``ti b`` again in its language.  So ``xif`` is one ``NAME``, never ``NAME "if"``.  The
rule looks one byte ahead: a multi-byte character never blocks an end, and a continuation
that matches again only after several more bytes (``1.`` of ``/\d+(\.\d+)?/``) does not
either, so the language is between lark's ``dynamic`` and ``dynamic_complete``.  Without
the flag every split is allowed (lark's ``dynamic_complete``; llama.cpp's GBNF semantics).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from automask.compiler.regex.ast import RegexNode


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a definition starts in the grammar text: 1-based ``line`` and ``column``, 0-based ``offset``."""

    line: int
    column: int
    offset: int

    @staticmethod
    def at(source: str, offset: int) -> SourceLocation:
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        return SourceLocation(line, column, offset)


@dataclass(frozen=True, slots=True)
class NonTerminal:
    name: str


@dataclass(frozen=True, slots=True)
class Terminal:
    name: str


Symbol = NonTerminal | Terminal


@dataclass(frozen=True, slots=True)
class TerminalDef:
    """A named regular language: ``regex`` (AST) and, when the front-end had one, the same
    language as Python ``re`` source (``pattern``; None for ASTs built directly)."""

    name: str
    regex: RegexNode
    pattern: str | None
    priority: int = 0
    location: SourceLocation | None = field(default=None, compare=False)

    def source_text(self, max_chars: int = 120) -> str:
        """``pattern``, or the regex rendered as ``re`` source (cut after ``max_chars``)."""
        if self.pattern is not None:
            return self.pattern
        from automask.compiler.regex.display import display_regex

        return display_regex(self.regex, max_chars)


@dataclass(frozen=True, slots=True)
class Rule:
    """One alternative ``origin -> expansion``."""

    origin: str
    expansion: tuple[Symbol, ...]
    priority: int = 0
    location: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Grammar:
    start: str
    rules: tuple[Rule, ...]
    terminals: tuple[TerminalDef, ...]
    ignore: tuple[str, ...] = ()
    source: str = field(default="", compare=False, repr=False)
    longest_match: bool = False

    def nonterminals(self) -> tuple[str, ...]:
        """Defined nonterminal names, in order of first definition."""
        return tuple(dict.fromkeys(rule.origin for rule in self.rules))

    def alternatives(self, name: str) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.origin == name)

    def terminal(self, name: str) -> TerminalDef:
        for terminal in self.terminals:
            if terminal.name == name:
                return terminal
        raise KeyError(name)

    def rules_by_origin(self) -> dict[str, list[Rule]]:
        """A fresh ``origin -> alternatives`` dict (callers may mutate it)."""
        table: dict[str, list[Rule]] = {}
        for rule in self.rules:
            table.setdefault(rule.origin, []).append(rule)
        return table

    def symbols_used(self) -> Iterator[tuple[Rule, Symbol]]:
        for rule in self.rules:
            for symbol in rule.expansion:
                yield rule, symbol

    def location_of(self, name: str) -> SourceLocation | None:
        """Where nonterminal or terminal ``name`` is first defined, when known."""
        for rule in self.rules:
            if rule.origin == name and rule.location is not None:
                return rule.location
        for terminal in self.terminals:
            if terminal.name == name:
                return terminal.location
        return None
