"""A slow, obviously-correct character-level Earley recognizer over the grammar IR.

This is the test oracle for the token-level engine: it answers "is this text in the
language?" (`EarleyRecognizer.accepts`) and "can this text still be extended into the
language?" (`EarleyRecognizer.is_viable_prefix`) with no lexer and no heuristics.

How: every terminal's regex AST is lowered into ordinary rules whose only terminal symbols
are single-character sets, ``%ignore`` becomes an ``IGNORE*`` nonterminal placed before
every terminal and at the end, and the resulting character grammar is run through a plain
Earley recognizer (Aycock-Horspool nullable handling, so left recursion, ambiguity and
empty rules all work).  Unproductive rules are pruned first, so every item alive after the
last character can still be completed: a non-empty final Earley set means "viable prefix".

Bounded: texts longer than ``max_text_chars``, character grammars larger than
``max_grammar_symbols`` and charts with more than ``max_items`` items raise
`CompileLimitExceeded` instead of running away.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from automask.compiler.grammar.ir import Grammar, NonTerminal
from automask.compiler.regex.ast import Alternation, CharSet, Concat, Empty, Product, RegexNode, Repeat
from automask.errors import CompileLimitExceeded

# A character-grammar symbol: an int is a nonterminal id, a `_CharTest` one character.


@dataclass(frozen=True, slots=True)
class _CharTest:
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def matches(self, code: int) -> bool:
        index = bisect.bisect_right(self.starts, code) - 1
        return index >= 0 and code <= self.ends[index]


_CharSymbol = int | _CharTest


class EarleyRecognizer:
    """Recognizer for one `Grammar`; build once, query many texts."""

    def __init__(
        self,
        grammar: Grammar,
        *,
        longest_match: frozenset[str] | None = None,
        max_text_chars: int = 20_000,
        max_items: int = 5_000_000,
        max_grammar_symbols: int = 2_000_000,
    ):
        self.max_text_chars = max_text_chars
        self.max_items = max_items
        self._max_symbols = max_grammar_symbols
        self._symbol_count = 0
        self._names: list[str] = []
        self._ids: dict[str, int] = {}
        self._rules: list[tuple[int, tuple[_CharSymbol, ...]]] = []
        self._start = self._lower_grammar(grammar)
        if longest_match is None:
            longest_match = (
                frozenset(t.name for t in grammar.terminals) if grammar.longest_match else frozenset()
            )
        self._longest: dict[int, RegexNode] = {
            self._ids[f"<terminal {t.name}>"]: t.regex for t in grammar.terminals if t.name in longest_match
        }
        self._prune_unproductive()
        self._by_lhs: dict[int, list[int]] = {}
        for index, (lhs, _rhs) in enumerate(self._rules):
            self._by_lhs.setdefault(lhs, []).append(index)
        self._nullable = self._nullable_set()

    # ----------------------------------------------------------------- queries

    def accepts(self, text: str) -> bool:
        """True iff ``text`` is a complete sentence of the grammar."""
        final = self._chart(text)
        rules = self._rules
        return any(
            rules[rule][0] == self._start and dot == len(rules[rule][1]) and origin == 0
            for rule, dot, origin in final
        )

    def is_viable_prefix(self, text: str) -> bool:
        """True iff some continuation of ``text`` (possibly empty) is accepted."""
        return bool(self._chart(text))

    # ------------------------------------------------------------ Earley proper

    def _chart(self, text: str) -> set[tuple[int, int, int]]:
        """The Earley set after reading all of ``text`` (empty once the text is dead)."""
        if len(text) > self.max_text_chars:
            raise CompileLimitExceeded("max_text_chars", len(text), self.max_text_chars)
        rules, by_lhs, nullable = self._rules, self._by_lhs, self._nullable
        current: set[tuple[int, int, int]] = {(rule, 0, 0) for rule in by_lhs.get(self._start, ())}
        history: list[dict[int, list[tuple[int, int, int]]]] = []
        total = 0
        for position in range(len(text) + 1):
            waiting: dict[int, list[tuple[int, int, int]]] = {}
            history.append(waiting)
            scans: list[tuple[int, int, int, _CharTest]] = []
            agenda = list(current)
            while agenda:
                rule, dot, origin = agenda.pop()
                lhs, rhs = rules[rule]
                if dot == len(rhs):
                    if (
                        lhs in self._longest
                        and position < len(text)
                        and self._extends(lhs, text, origin, position)
                    ):
                        continue  # longest match: the next character makes a longer match
                    for parent_rule, parent_dot, parent_origin in history[origin].get(lhs, ()):
                        advanced = (parent_rule, parent_dot + 1, parent_origin)
                        if advanced not in current:
                            current.add(advanced)
                            agenda.append(advanced)
                    continue
                symbol = rhs[dot]
                if isinstance(symbol, _CharTest):
                    scans.append((rule, dot, origin, symbol))
                    continue
                waiting.setdefault(symbol, []).append((rule, dot, origin))
                for predicted_rule in by_lhs.get(symbol, ()):
                    predicted = (predicted_rule, 0, position)
                    if predicted not in current:
                        current.add(predicted)
                        agenda.append(predicted)
                if symbol in nullable:
                    advanced = (rule, dot + 1, origin)
                    if advanced not in current:
                        current.add(advanced)
                        agenda.append(advanced)
            total += len(current)
            if total > self.max_items:
                raise CompileLimitExceeded(
                    "max_items", total, self.max_items, hint="text or grammar too large"
                )
            if position == len(text):
                return current
            code = ord(text[position])
            current = {(rule, dot + 1, origin) for rule, dot, origin, test in scans if test.matches(code)}
            if not current:
                return current
        return current  # pragma: no cover - the loop always returns

    def _extends(self, terminal: int, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` plus the next character is again a match of the terminal:
        the longest-match rule, decided on one byte (a character outside ASCII never blocks)."""
        if ord(text[end]) >= 0x80:
            return False
        codes = [ord(c) for c in text[start : end + 1]]
        return len(codes) in _match_ends(self._longest[terminal], codes, {0})

    # --------------------------------------------------- lowering to characters

    def _nonterminal(self, name: str) -> int:
        if name not in self._ids:
            self._ids[name] = len(self._names)
            self._names.append(name)
        return self._ids[name]

    def _fresh(self, hint: str) -> int:
        return self._nonterminal(f"{hint}#{len(self._names)}")

    def _add_rule(self, lhs: int, rhs: list[_CharSymbol]) -> None:
        self._symbol_count += len(rhs) + 1
        if self._symbol_count > self._max_symbols:
            raise CompileLimitExceeded("max_grammar_symbols", self._symbol_count, self._max_symbols)
        self._rules.append((lhs, tuple(rhs)))

    def _lower_grammar(self, grammar: Grammar) -> int:
        ignore_id: int | None = None
        if grammar.ignore:
            ignore_id = self._nonterminal("<ignore>*")
            self._add_rule(ignore_id, [])
            for name in grammar.ignore:
                self._add_rule(ignore_id, [ignore_id, self._nonterminal(f"<terminal {name}>")])
        for terminal in grammar.terminals:
            self._add_rule(
                self._nonterminal(f"<terminal {terminal.name}>"), self._lower_regex(terminal.regex)
            )
        for rule in grammar.rules:
            rhs: list[_CharSymbol] = []
            for symbol in rule.expansion:
                if isinstance(symbol, NonTerminal):
                    rhs.append(self._nonterminal(symbol.name))
                else:
                    if ignore_id is not None:
                        rhs.append(ignore_id)
                    rhs.append(self._nonterminal(f"<terminal {symbol.name}>"))
            self._add_rule(self._nonterminal(rule.origin), rhs)
        start = self._nonterminal("<start>")
        self._add_rule(
            start, [self._nonterminal(grammar.start)] + ([ignore_id] if ignore_id is not None else [])
        )
        return start

    def _lower_regex(self, node: RegexNode) -> list[_CharSymbol]:
        """``node`` as a symbol sequence, adding helper rules for alternation and repetition."""
        if isinstance(node, CharSet):
            return [_CharTest(tuple(a for a, _ in node.ranges), tuple(b for _, b in node.ranges))]
        if isinstance(node, Empty):
            return []
        if isinstance(node, Concat):
            return [symbol for item in node.items for symbol in self._lower_regex(item)]
        if isinstance(node, Alternation):
            choice = self._fresh("<alt>")
            for option in node.options:
                self._add_rule(choice, self._lower_regex(option))
            return [choice]
        if isinstance(node, Repeat):
            body = self._lower_regex(node.item)
            if node.max is None:
                tail = self._fresh("<star>")
                self._add_rule(tail, [])
                self._add_rule(tail, [*body, tail])
                return body * node.min + [tail]
            tail_symbols: list[_CharSymbol] = []
            for _ in range(node.max - node.min):
                optional = self._fresh("<opt>")
                self._add_rule(optional, [])
                self._add_rule(optional, [*body, *tail_symbols])
                tail_symbols = [optional]
            self._symbol_count += len(body) * node.min
            if self._symbol_count > self._max_symbols:
                raise CompileLimitExceeded("max_grammar_symbols", self._symbol_count, self._max_symbols)
            return body * node.min + tail_symbols
        if isinstance(node, Product):
            raise NotImplementedError("the reference oracle has no rule form for a product of regexes")
        raise TypeError(f"not a regex AST node: {node!r}")

    def _prune_unproductive(self) -> None:
        productive: set[int] = set()

        def is_productive(symbol: _CharSymbol) -> bool:
            return bool(symbol.starts) if isinstance(symbol, _CharTest) else symbol in productive

        changed = True
        while changed:
            changed = False
            for lhs, rhs in self._rules:
                if lhs not in productive and all(is_productive(symbol) for symbol in rhs):
                    productive.add(lhs)
                    changed = True
        self._rules = [(lhs, rhs) for lhs, rhs in self._rules if all(is_productive(s) for s in rhs)]

    def _nullable_set(self) -> frozenset[int]:
        nullable: set[int] = set()
        changed = True
        while changed:
            changed = False
            for lhs, rhs in self._rules:
                if lhs not in nullable and all(isinstance(s, int) and s in nullable for s in rhs):
                    nullable.add(lhs)
                    changed = True
        return frozenset(nullable)


def _match_ends(node: RegexNode, codes: list[int], starts: set[int]) -> set[int]:
    """The positions where a match of ``node`` starting at one of ``starts`` can end."""
    if isinstance(node, CharSet):
        return {p + 1 for p in starts if p < len(codes) and any(a <= codes[p] <= b for a, b in node.ranges)}
    if isinstance(node, Empty):
        return set(starts)
    if isinstance(node, Concat):
        for item in node.items:
            starts = _match_ends(item, codes, starts)
        return starts
    if isinstance(node, Alternation):
        return set().union(*(_match_ends(option, codes, starts) for option in node.options))
    if isinstance(node, Repeat):
        for _ in range(node.min):
            starts = _match_ends(node.item, codes, starts)
        reached, frontier, count = set(starts), set(starts), node.min
        while frontier and (node.max is None or count < node.max):
            frontier = _match_ends(node.item, codes, frontier) - reached
            reached |= frontier
            count += 1
        return reached
    raise NotImplementedError(f"the reference matcher has no rule for {type(node).__name__}")


def accepts(grammar: Grammar, text: str) -> bool:
    """One-shot `EarleyRecognizer.accepts`."""
    return EarleyRecognizer(grammar).accepts(text)


def is_viable_prefix(grammar: Grammar, text: str) -> bool:
    """One-shot `EarleyRecognizer.is_viable_prefix`."""
    return EarleyRecognizer(grammar).is_viable_prefix(text)
