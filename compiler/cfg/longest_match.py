"""Longest-match lexing (`Grammar.longest_match`): which terminal ends a next byte forbids.

The rule: terminal ``T`` in DFA state ``s`` (accepting) may not end before byte ``b`` when
``b`` takes ``T`` to another accepting state -- the next byte would make a longer match of the
same terminal.  `state_block_bits` gives, per DFA state, those bytes as a 256-bit Python int
(0 for states that never block).  The engine applies it wherever a terminal ends before
a known byte: the parser's `EarleyEngine.step_byte`, the trie walks' completion points, and
the first byte of the next token (`EarleyEngine.mask_variants`).

Why not every terminal: the rule can make a prefix a dead end.  ``start: NAME NAME`` with no
``%ignore`` derives nothing under it (the first name never ends), yet ``"ab"`` looks like a
live prefix to the lexer, and a token mask would allow it.  `longest_match_terminals` keeps
the rule only for terminals for which it provably never does that: for every terminal ``U``
that may follow ``T`` (not matching the empty string), from every state of ``T`` some
accepting state is reachable whose blocked bytes leave one of ``U``'s first bytes free -- or
the same holds for an ignored terminal ``I`` that may sit between them, and for ``U`` after
``I``.  By induction over the rest of the text, every prefix the engine keeps can still be
completed.  Terminals failing the check keep the plain
semantics (every split); their names are reported (`GrammarTables.longest_match_refused`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def extends_match(
    transitions: np.ndarray, accepting: np.ndarray, states: np.ndarray, next_bytes: np.ndarray
) -> np.ndarray:
    """Whether each byte takes its state to an accepting state again (broadcast arrays): the
    ends longest match forbids.  The numba kernels inline the same test
    (`_kernels.extends_match`)."""
    targets = transitions[states, next_bytes]
    return (targets >= 0) & accepting[np.maximum(targets, 0)]


def state_block_bits(transitions: np.ndarray, accepting: np.ndarray, states: np.ndarray) -> list[int]:
    """For each state of ``states``: the bytes after which it is accepting again, as an int
    bit set (0 unless the state itself accepts)."""
    if states.shape[0] == 0:
        return []
    again = extends_match(transitions, accepting, states[:, None], np.arange(256)[None, :])
    again &= accepting[states][:, None]
    packed = np.packbits(again, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def first_byte_bits(transitions: np.ndarray, state: int) -> int:
    """The bytes a terminal can start with from ``state``, as an int bit set."""
    live = np.packbits(transitions[state] >= 0, bitorder="little")
    return int.from_bytes(live.tobytes(), "little")


def follow_terminals(
    rule_lhs: Sequence[int], rule_rhs: Sequence[tuple[int, ...]], nullable: frozenset[int], num_terminals: int
) -> list[set[int]]:
    """Per terminal id, the terminal ids that may come right after it in some sentential form
    (symbols as in `tables`: nonterminal ``n >= 0``, terminal ``-(t + 1)``; ``nullable`` holds
    the nullable symbols, terminals included).

    Two propagations over "is included in" graphs (a generated grammar has thousands of
    rules, so no repeated passes over all of them): FIRST flows from a symbol to the
    left-hand sides it can begin, FOLLOW from a left-hand side to the symbols that can end it.
    """
    first = _propagate(
        {symbol: {-symbol - 1} for rhs in rule_rhs for symbol in rhs if symbol < 0},
        [
            (symbol, lhs)
            for lhs, rhs in zip(rule_lhs, rule_rhs, strict=True)
            for symbol in _leading(rhs, nullable)
        ],
    )
    direct: dict[int, set[int]] = {}
    edges: list[tuple[int, int]] = []  # (A, X): FOLLOW(A) is in FOLLOW(X)
    for lhs, rhs in zip(rule_lhs, rule_rhs, strict=True):
        for position, symbol in enumerate(rhs):
            found = direct.setdefault(symbol, set())
            for later in _leading(rhs[position + 1 :], nullable):
                found |= first.get(later, set())
            if all(later in nullable for later in rhs[position + 1 :]):
                edges.append((lhs, symbol))
    follow = _propagate(direct, edges)
    return [follow.get(-t - 1, set()) for t in range(num_terminals)]


def _leading(symbols: Sequence[int], nullable: frozenset[int]) -> list[int]:
    """The symbols of ``symbols`` that can begin it: up to and including the first non-nullable."""
    leading = []
    for symbol in symbols:
        leading.append(symbol)
        if symbol not in nullable:
            break
    return leading


def _propagate(seeds: dict[int, set[int]], edges: list[tuple[int, int]]) -> dict[int, set[int]]:
    """The least sets with ``seeds[x]`` in ``sets[x]`` and ``sets[a]`` in ``sets[b]`` for each
    edge ``(a, b)`` (a worklist; each set only grows)."""
    sets = {node: set(values) for node, values in seeds.items()}
    targets: dict[int, list[int]] = {}
    for source, target in edges:
        if source != target:
            targets.setdefault(source, []).append(target)
    pending = list(sets)
    while pending:
        source = pending.pop()
        values = sets.get(source)
        if not values:
            continue
        for target in targets.get(source, ()):
            found = sets.setdefault(target, set())
            if not values <= found:
                found |= values
                pending.append(target)
    return sets


def longest_match_terminals(
    transitions: np.ndarray,
    accepting: np.ndarray,
    state_terminal: np.ndarray,
    terminal_start: np.ndarray,
    follow: list[set[int]],
    nullable_terminals: frozenset[int],
    ignored: Sequence[int],
) -> tuple[set[int], set[int], list[int]]:
    """``(kept, refused, block)``: the terminals longest match applies to, those it could leave
    a dead end for (see the module docstring; terminals that never block are in neither set),
    and per global state the bytes its end is blocked on (`state_block_bits`; 0 for states of
    terminals not kept).

    "``T`` can end before ``U``": from every state of ``T`` (a prefix may stop in any), some
    accepting state is reachable whose blocked bytes leave one of ``U``'s first bytes free.
    """
    num_terminals = terminal_start.shape[0]
    block = np.zeros(transitions.shape[0], dtype=object)
    states = np.flatnonzero(accepting)
    block[states] = state_block_bits(transitions, accepting, states)
    blocking = {int(state_terminal[s]) for s in states.tolist() if block[s]}
    first = [
        0 if terminal_start[t] < 0 else first_byte_bits(transitions, int(terminal_start[t]))
        for t in range(num_terminals)
    ]
    memo: dict[tuple[int, int], bool] = {}

    def ends_before(terminal: int, follower: int) -> bool:
        if terminal not in blocking:
            return True
        key = (terminal, first[follower])
        if key not in memo:
            memo[key] = _every_state_reaches(
                transitions, accepting, block, np.flatnonzero(state_terminal == terminal), first[follower]
            )
        return memo[key]

    # A terminal matching "" ends at its start inside the parser's closure, before any byte is
    # known (`earley`): it keeps every split (it may also end at once in lark).
    refused: set[int] = blocking & set(nullable_terminals)
    blocking -= refused
    kept = set(blocking)
    changed = True
    while changed:
        changed = False
        for terminal in sorted(kept):
            for follower in follow[terminal]:
                if follower in nullable_terminals or ends_before(terminal, follower):
                    continue
                if any(
                    ignore in follow[terminal]
                    and follower in follow[ignore]
                    and ends_before(terminal, ignore)
                    and (ignore not in kept or ends_before(ignore, follower))
                    for ignore in ignored
                ):
                    continue
                kept.discard(terminal)
                blocking.discard(terminal)  # from now on it ends anywhere
                refused.add(terminal)
                changed = True
                break
    kept_states = np.isin(state_terminal, np.array(sorted(kept), dtype=np.int32))
    return (
        kept,
        refused,
        [int(bits) if keep else 0 for bits, keep in zip(block.tolist(), kept_states.tolist(), strict=True)],
    )


def _every_state_reaches(
    transitions: np.ndarray, accepting: np.ndarray, block: np.ndarray, states: np.ndarray, follower_first: int
) -> bool:
    """Whether every state of ``states`` (one terminal's, contiguous) reaches an accepting
    state that may end before one of the bytes ``follower_first``."""
    if states.shape[0] == 0:
        return True
    low = int(states[0])
    good = np.array(
        [bool(accepting[s]) and bool(follower_first & ~int(block[s])) for s in states.tolist()], dtype=bool
    )
    local = transitions[states] - low  # targets stay inside the terminal's states
    has_edge = local >= 0
    local = np.where(has_edge, local, 0)
    while True:
        grown = good | (good[local] & has_edge).any(axis=1)
        if (grown == good).all():
            return bool(good.all())
        good = grown
