"""Grammar IR -> the integer tables the token-level Earley engine runs on.

What `build_grammar_tables` produces (`GrammarTables`, immutable):

- Symbols are ints: a nonterminal is ``n >= 0``; terminal ``t`` is ``-(t + 1)`` (`terminal_symbol`).
- Rules: ``rule_lhs[r]`` and ``rule_rhs[r]`` (a tuple of symbols); ``rules_of[n]`` lists the
  rules of nonterminal ``n``.  Rule ``start_rule`` is the augmented ``<start> -> start <ignore>``.
- ``%ignore`` is compiled away like the reference recognizer does it: a nullable,
  left-recursive helper ``<ignore> -> ε | <ignore> I`` (one rule per ignored terminal ``I``) is
  placed before every terminal occurrence and at the end.  Ignored terminals are then plain
  terminals, so the parser needs no special case.  When the one ignored terminal is closed
  under concatenation (``L(I) L(I) ⊆ L(I)``: ``WS: /[ \t]+/``), the helper is
  ``<ignore> -> ε | I`` instead, the same language without the ambiguity: a run of blanks is
  one ``I``, not every way of cutting it, so no blank starts a second ``I`` (which the mask's
  jobs and the Earley sets would otherwise follow after every blank of a run).
- Unproductive rules (using a terminal with an empty language, or a nonterminal that derives
  no finite string) are dropped; ``nullable`` holds the nonterminals deriving the empty
  string, ``nullable_terminals`` the terminals whose regex matches it.
- Lexer: every terminal's regex compiled to a minimal UTF-8 `ByteDFA`, all stacked into one
  *global* DFA state space: ``transitions`` int32 ``[S, 256]`` (DEAD = -1, targets are
  global ids), ``accepting`` bool ``[S]``, ``state_terminal`` int32 ``[S]`` (the terminal a
  state belongs to) and ``terminal_start[t]`` (terminal ``t``'s start state).  Each terminal's
  states are contiguous.  Every state is live (`ByteDFA` invariant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from automask.compiler.automata._kernels import shift_targets
from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.automata.product import product_dfa
from automask.compiler.cfg.flatten import flatten_regular
from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.longest_match import follow_terminals, longest_match_terminals
from automask.compiler.grammar.ir import Grammar, NonTerminal
from automask.compiler.limits import CompileLimits
from automask.compiler.regex import RegexNode, ast_to_dfa
from automask.compiler.regex.ast import concat
from automask.errors import CompileLimitExceeded, EmptyLanguage


def terminal_symbol(terminal_id: int) -> int:
    """The rule-symbol encoding of terminal ``terminal_id`` (always negative)."""
    return -(terminal_id + 1)


@dataclass(frozen=True, eq=False)
class GrammarTables:
    nonterminal_names: tuple[str, ...]
    terminal_names: tuple[str, ...]
    rule_lhs: tuple[int, ...]
    rule_rhs: tuple[tuple[int, ...], ...]
    rules_of: tuple[tuple[int, ...], ...]
    start_rule: int
    nullable: frozenset[int]
    nullable_terminals: frozenset[int]
    transitions: np.ndarray
    accepting: np.ndarray
    state_terminal: np.ndarray
    terminal_start: np.ndarray
    terminal_dfas: tuple[ByteDFA | None, ...] = ()
    """Each terminal's own DFA (``None``: empty language); its states are the global ids
    ``terminal_offset[t] ..``."""
    terminal_offset: tuple[int, ...] = ()
    longest: np.ndarray | None = None
    """bool ``[S]`` (read-only): the state's terminal follows longest match (`longest_match`);
    None when no terminal does (see `longest_states`)."""
    end_blocks: tuple[int, ...] | None = None
    """Per state, the next bytes its terminal may not end before (an int bit set, 0 for most);
    None when no terminal follows longest match."""
    longest_match_refused: tuple[str, ...] = ()
    """Terminals of a longest-match grammar that keep every split, because the rule could make
    a dead end of some prefix (`longest_match.longest_match_terminals`)."""

    @property
    def num_states(self) -> int:
        return int(self.transitions.shape[0])

    @cached_property
    def longest_states(self) -> np.ndarray:
        """`longest`, as all False when None (the kernels' argument)."""
        if self.longest is not None:
            return self.longest
        none = np.zeros(self.num_states, dtype=np.bool_)
        none.setflags(write=False)
        return none

    @property
    def longest_match_terminals(self) -> frozenset[str]:
        """Names of the terminals longest match applies to (`longest`)."""
        if self.longest is None:
            return frozenset()
        return frozenset(
            self.terminal_names[t] for t in np.unique(self.state_terminal[self.longest]).tolist()
        )

    @property
    def num_rules(self) -> int:
        return len(self.rule_lhs)


def build_grammar_tables(
    grammar: Grammar,
    limits: CompileLimits,
    cfg_limits: CFGLimits,
    dfa_of: Callable[[RegexNode, CompileLimits], ByteDFA] = ast_to_dfa,
) -> GrammarTables:
    """Lower ``grammar`` (already validated by its front-end) to `GrammarTables`.

    ``dfa_of`` compiles each terminal regex (default `ast_to_dfa`; the compiler passes the
    vocabulary's memo `terminal_cache.TerminalCache.dfa`, so repeated terminals are built once).

    Regular sub-grammars are first flattened into terminals (`flatten.flatten_regular`).
    Raises `EmptyLanguage` if the start symbol derives no string and `CompileLimitExceeded`
    if the grammar or the terminal DFAs exceed the limits.
    """
    if not grammar.longest_match:  # a flattened terminal would hide the ends the rule restricts
        grammar = flatten_regular(grammar, limits, cfg_limits.max_flat_states, dfa_of)
    used_terminals = {
        s.name for rule in grammar.rules for s in rule.expansion if not isinstance(s, NonTerminal)
    }
    terminal_names = tuple(
        t.name for t in grammar.terminals if t.name in used_terminals or t.name in grammar.ignore
    )
    terminal_ids = {name: index for index, name in enumerate(terminal_names)}

    dfas: list[ByteDFA | None] = []
    for name in terminal_names:
        try:
            dfas.append(dfa_of(grammar.terminal(name).regex, limits))
        except EmptyLanguage:
            dfas.append(None)  # unproductive: rules using it are pruned below
    total_states = sum(d.num_states for d in dfas if d is not None)
    limits.check("max_dfa_states", total_states)

    nonterminal_names: list[str] = []
    nonterminal_ids: dict[str, int] = {}

    def nonterminal(name: str) -> int:
        if name not in nonterminal_ids:
            nonterminal_ids[name] = len(nonterminal_names)
            nonterminal_names.append(name)
        return nonterminal_ids[name]

    raw_rules: list[tuple[int, tuple[int, ...]]] = []
    ignore_ids = [terminal_ids[name] for name in grammar.ignore if dfas[terminal_ids[name]] is not None]
    ignore_nt: int | None = None
    start_nt = nonterminal("<start>")
    if ignore_ids:
        ignore_nt = nonterminal("<ignore>")
        raw_rules.append((ignore_nt, ()))
        only = ignore_ids[0]
        if len(ignore_ids) == 1 and _closed_under_concatenation(
            grammar.terminal(terminal_names[only]).regex, dfas[only], limits, dfa_of
        ):
            raw_rules.append((ignore_nt, (terminal_symbol(only),)))
        else:
            raw_rules.extend((ignore_nt, (ignore_nt, terminal_symbol(t))) for t in ignore_ids)
    raw_rules.append((start_nt, (nonterminal(grammar.start),) + (() if ignore_nt is None else (ignore_nt,))))
    symbols = 0
    for rule in grammar.rules:
        rhs: list[int] = []
        for symbol in rule.expansion:
            if isinstance(symbol, NonTerminal):
                rhs.append(nonterminal(symbol.name))
            else:
                if ignore_nt is not None:
                    rhs.append(ignore_nt)
                rhs.append(terminal_symbol(terminal_ids[symbol.name]))
        symbols += len(rhs) + 1
        if symbols > cfg_limits.max_grammar_symbols:
            raise CompileLimitExceeded(
                "max_grammar_symbols", symbols, cfg_limits.max_grammar_symbols, hint="grammar too large"
            )
        raw_rules.append((nonterminal(rule.origin), tuple(rhs)))

    rules = _productive_rules(raw_rules, {terminal_symbol(t) for t, d in enumerate(dfas) if d is not None})
    if not any(lhs == start_nt for lhs, _ in rules):
        raise EmptyLanguage(f"start symbol {grammar.start!r} derives no string")
    start_rule = next(index for index, (lhs, _) in enumerate(rules) if lhs == start_nt)

    transitions, accepting, state_terminal, terminal_start = _stack_dfas(dfas)
    nullable_terminals = frozenset(
        t for t, d in enumerate(dfas) if d is not None and bool(d.accepting[d.start])
    )
    rules_of: list[list[int]] = [[] for _ in nonterminal_names]
    for index, (lhs, _) in enumerate(rules):
        rules_of[lhs].append(index)
    nullable = _nullable(rules, nullable_terminals)
    longest, end_blocks, refused = None, None, ()
    if grammar.longest_match:
        follow = follow_terminals(
            [lhs for lhs, _ in rules], [rhs for _, rhs in rules],
            nullable | {terminal_symbol(t) for t in nullable_terminals}, len(terminal_names),
        )  # fmt: skip
        kept, refused_ids, blocks = longest_match_terminals(
            transitions, accepting, state_terminal, terminal_start, follow, nullable_terminals, ignore_ids
        )
        if kept:
            longest = np.isin(state_terminal, np.array(sorted(kept), dtype=np.int32))
            longest.setflags(write=False)
            end_blocks = tuple(blocks)
        refused = tuple(terminal_names[t] for t in sorted(refused_ids))
    return GrammarTables(
        nonterminal_names=tuple(nonterminal_names),
        terminal_names=terminal_names,
        rule_lhs=tuple(lhs for lhs, _ in rules),
        rule_rhs=tuple(rhs for _, rhs in rules),
        rules_of=tuple(tuple(r) for r in rules_of),
        start_rule=start_rule,
        nullable=nullable,
        nullable_terminals=nullable_terminals,
        transitions=transitions,
        accepting=accepting,
        state_terminal=state_terminal,
        terminal_start=terminal_start,
        terminal_dfas=tuple(dfas),
        terminal_offset=tuple(
            np.cumsum([0] + [0 if d is None else d.num_states for d in dfas])[:-1].tolist()
        ),
        longest=longest,
        end_blocks=end_blocks,
        longest_match_refused=refused,
    )


def _closed_under_concatenation(
    regex: RegexNode,
    dfa: ByteDFA | None,
    limits: CompileLimits,
    dfa_of: Callable[[RegexNode, CompileLimits], ByteDFA],
) -> bool:
    """Whether ``L(regex) L(regex) ⊆ L(regex)`` (checked as an empty difference of DFAs); False
    when the check itself would exceed the limits (the helper then keeps the general form)."""
    if dfa is None:
        return False
    try:
        twice = dfa_of(concat([regex, regex]), limits)
        product_dfa(twice, dfa, "difference", limits)
    except EmptyLanguage:
        return True
    except CompileLimitExceeded:
        return False
    return False


def _productive_rules(
    rules: list[tuple[int, tuple[int, ...]]], productive_terminals: set[int]
) -> list[tuple[int, tuple[int, ...]]]:
    """The rules all of whose symbols derive some finite string (least fixpoint)."""
    productive: set[int] = set(productive_terminals)
    changed = True
    while changed:
        changed = False
        for lhs, rhs in rules:
            if lhs not in productive and all(s in productive for s in rhs):
                productive.add(lhs)
                changed = True
    return [(lhs, rhs) for lhs, rhs in rules if all(s in productive for s in rhs)]


def _nullable(rules: list[tuple[int, tuple[int, ...]]], nullable_terminals: frozenset[int]) -> frozenset[int]:
    """Nonterminals deriving the empty string (terminals whose regex matches it count as nullable)."""
    nullable: set[int] = {terminal_symbol(t) for t in nullable_terminals}
    changed = True
    while changed:
        changed = False
        for lhs, rhs in rules:
            if lhs not in nullable and all(s in nullable for s in rhs):
                nullable.add(lhs)
                changed = True
    return frozenset(s for s in nullable if s >= 0)


def _stack_dfas(dfas: list[ByteDFA | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One global state space: each terminal's states shifted by the states before it.

    One concatenation and one in-place kernel pass (`_kernels.shift_targets`): a schema grammar
    stacks hundreds to tens of thousands of 256-wide rows, and the per-block numpy passes of
    `stack_dfas_reference` cost three times as much."""
    present = [(terminal_id, dfa) for terminal_id, dfa in enumerate(dfas) if dfa is not None]
    sizes = np.array([dfa.num_states for _, dfa in present], dtype=np.int64)
    offsets = np.zeros(len(present), dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    if present:
        transitions = np.concatenate([dfa.transitions for _, dfa in present])
        accepting = np.concatenate([dfa.accepting for _, dfa in present])
    else:
        transitions, accepting = np.full((0, 256), -1, dtype=np.int32), np.zeros(0, dtype=bool)
    shift_targets(transitions, sizes, offsets)
    owner = np.repeat(np.array([terminal_id for terminal_id, _ in present], dtype=np.int32), sizes)
    terminal_start = np.full(len(dfas), -1, dtype=np.int32)
    for (terminal_id, dfa), offset in zip(present, offsets.tolist(), strict=True):
        terminal_start[terminal_id] = offset + dfa.start
    arrays = (transitions, accepting, owner, terminal_start)
    for array in arrays:
        array.setflags(write=False)
    return arrays


def stack_dfas_reference(dfas: list[ByteDFA | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_stack_dfas` block by block in numpy (its specification, for the tests)."""
    present = [(terminal_id, dfa) for terminal_id, dfa in enumerate(dfas) if dfa is not None]
    total = sum(dfa.num_states for _, dfa in present)
    transitions = np.full((total, 256), -1, dtype=np.int32)
    accepting = np.zeros(total, dtype=bool)
    owner = np.zeros(total, dtype=np.int32)
    terminal_start = np.full(len(dfas), -1, dtype=np.int32)
    offset = 0
    for terminal_id, dfa in present:
        stop = offset + dfa.num_states
        table = dfa.transitions
        np.add(table, offset, out=transitions[offset:stop], where=table >= 0, casting="unsafe")
        accepting[offset:stop] = dfa.accepting
        owner[offset:stop] = terminal_id
        terminal_start[terminal_id] = offset + dfa.start
        offset = stop
    return transitions, accepting, owner, terminal_start
