"""A byte-level Earley parser over terminals whose lexing is done by terminal DFAs.

Semantics (the grammar IR's, i.e. lark's ``dynamic_complete``): a terminal may end at any
byte where its regex accepts; every possible end is explored.  The parse state after a
byte is a `ParseState`:

- ``entries``: the live lexer *entries* ``(global DFA state, origin EarleySet)``: "some
  terminal ``T`` (the owner of the DFA state) started right after the Earley set ``origin``
  and has read the bytes since into that state".  Items of ``origin`` waiting on ``T``
  advance when the DFA accepts.
- ``here``: the `EarleySet` created at this byte (when some terminal ended here, or at the
  start), else ``None``.  Its expected terminals have entries at their DFA start states.

Earley sets exist only at bytes where a terminal ended, and are immutable, persistent and
position-free: items are ``(rule, dot, origin)`` with ``origin`` the `EarleySet` *object*
the item started at (no chart, no integer positions).  A set is fully determined by the
completions that created it, the key ``frozenset((terminal, origin set), ...)``, so
`EarleyEngine.complete` memoises sets by that key: the trie walk that computes a mask and
the `consume_token` that follows meet the same sets, and equal sets reached at different
byte positions are shared (sound because nothing depends on the position itself).

Viability: all rules are productive and every DFA state is live, so every item and entry
can be completed to a sentence; a state is a viable prefix iff it has an entry or a
``here`` set.  It is a complete sentence iff ``here`` holds the finished start rule.

Nullable terminals (regex matching ``""``) and nullable nonterminals use Aycock-Horspool:
an item expecting a nullable symbol also advances over it immediately.
"""

from __future__ import annotations

import threading

from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.tables import GrammarTables, terminal_symbol
from automask.errors import CompileLimitExceeded

Item = tuple[int, int, "EarleySet"]

_HERE = object()
"""Stands for "the set itself" in the content key of a set (see `EarleyEngine._close`)."""


class EarleySet:
    """One Earley set.  ``waiting[symbol]`` lists the items whose next symbol is ``symbol``."""

    __slots__ = ("items", "waiting", "entries", "accepting", "__weakref__")

    def __init__(self) -> None:
        self.items: frozenset[Item] = frozenset()
        self.waiting: dict[int, list[Item]] = {}
        self.entries: tuple[tuple[int, EarleySet], ...] = ()
        self.accepting = False

    def __repr__(self) -> str:
        return f"<EarleySet {len(self.items)} items, {len(self.entries)} entries>"


class ParseState:
    """The immutable parser state after some bytes (see the module docstring)."""

    __slots__ = ("entries", "here")

    def __init__(self, entries: tuple[tuple[int, EarleySet], ...], here: EarleySet | None) -> None:
        self.entries = entries
        self.here = here

    @property
    def is_accepting(self) -> bool:
        return self.here is not None and self.here.accepting


class EarleyEngine:
    """Builds Earley sets and holds their memo; one per compiled grammar, shared by its matchers.

    Sharing the memo makes sets *canonical* across matchers: the same completions from the
    same origins give the same set object, so a `ParseState`'s ``entries`` tuple identifies
    its whole parse context and can key the grammar's mask cache.  Thread-safe: lookups are
    single dict reads; building a missing set holds ``_lock`` (sets are immutable once
    published).
    """

    __slots__ = (
        "tables",
        "limits",
        "_lock",
        "_memo",
        "_by_content",
        "_transitions",
        "_accepting",
        "_owner",
        "_start_of",
        "_has_out",
    )

    def __init__(self, tables: GrammarTables, limits: CFGLimits) -> None:
        self.tables = tables
        self.limits = limits
        self._lock = threading.Lock()
        self._memo: dict[frozenset[tuple[int, EarleySet]], EarleySet] = {}
        self._by_content: dict[frozenset[tuple[int, int, object]], EarleySet] = {}
        self._transitions = memoryview(tables.transitions).cast("B").cast("i") if tables.num_states else []
        self._accepting: list[bool] = tables.accepting.tolist()
        self._owner: list[int] = tables.state_terminal.tolist()
        self._start_of: list[int] = tables.terminal_start.tolist()
        self._has_out: list[bool] = (tables.transitions >= 0).any(axis=1).tolist()

    # ------------------------------------------------------------------ states

    def initial_state(self) -> ParseState:
        with self._lock:
            first = EarleySet()
            first = self._close(first, [(self.tables.start_rule, 0, first)])
        return ParseState(first.entries, first)

    def step_byte(self, state: ParseState, byte: int) -> ParseState | None:
        """The state after one more byte, or ``None`` if no continuation is viable."""
        table, accepting, owner = self._transitions, self._accepting, self._owner
        entries: dict[tuple[int, EarleySet], None] = {}
        completions: set[tuple[int, EarleySet]] = set()
        for dfa_state, origin in state.entries:
            target = table[dfa_state * 256 + byte]
            if target < 0:
                continue
            entries[(target, origin)] = None
            if accepting[target]:
                completions.add((owner[target], origin))
        here = None
        if completions:
            here = self.complete(frozenset(completions))
            entries.update(dict.fromkeys(here.entries))
        if not entries and here is None:
            return None
        if len(entries) > self.limits.max_frontier_entries:
            raise CompileLimitExceeded(
                "max_frontier_entries",
                len(entries),
                self.limits.max_frontier_entries,
                hint="grammar too ambiguous",
            )
        return ParseState(tuple(entries), here)

    def step_bytes(self, state: ParseState, data: bytes) -> ParseState | None:
        for byte in data:
            state = self.step_byte(state, byte)
            if state is None:
                return None
        return state

    def live_bytes(self, state: ParseState) -> list[int]:
        """The bytes that keep ``state`` viable (each some entry's live transition)."""
        table = self._transitions
        live: set[int] = set()
        for dfa_state, _ in state.entries:
            base = dfa_state * 256
            live.update(b for b in range(256) if table[base + b] >= 0)
        return sorted(live)

    # ------------------------------------------------------------- Earley sets

    def complete(self, key: frozenset[tuple[int, EarleySet]]) -> EarleySet:
        """The Earley set after terminals ``(terminal, origin)`` of ``key`` all ended here (memoised)."""
        memo = self._memo
        found = memo.get(key)
        if found is not None:
            return found
        with self._lock:
            found = memo.get(key)
            if found is not None:
                return found
            return self._complete_locked(key)

    def _complete_locked(self, key: frozenset[tuple[int, EarleySet]]) -> EarleySet:
        memo = self._memo
        created = EarleySet()
        agenda: list[Item] = []
        for terminal, origin in key:
            agenda.extend(
                (rule, dot + 1, parent)
                for rule, dot, parent in origin.waiting.get(terminal_symbol(terminal), ())
            )
        created = self._close(created, agenda)
        if len(memo) >= self.limits.max_cached_sets:
            memo.clear()
        memo[key] = created
        return created

    def _close(self, target: EarleySet, agenda: list[Item]) -> EarleySet:
        """Fill ``target`` with the Earley closure (predict / complete) of the ``agenda`` items.

        Returns ``target``, or an existing set with the same items (origins compared by
        identity, ``target`` itself standing for "here").  Sharing such sets is what keeps
        ambiguous splits finite: ``%ignore WS`` with ``WS: /[ ]+/`` can split a run of
        spaces many ways, but every split leads to the same set, so lexer entries stay
        deduplicated instead of multiplying with each origin.
        """
        tables = self.tables
        rule_lhs, rule_rhs, rules_of = tables.rule_lhs, tables.rule_rhs, tables.rules_of
        nullable, nullable_terminals = tables.nullable, tables.nullable_terminals
        limit = self.limits.max_earley_items
        items: set[Item] = set()
        waiting: dict[int, list[Item]] = {}
        predicted: set[int] = set()
        pending = list(agenda)
        while pending:
            item = pending.pop()
            if item in items:
                continue
            items.add(item)
            if len(items) > limit:
                raise CompileLimitExceeded(
                    "max_earley_items", len(items), limit, hint="grammar too ambiguous"
                )
            rule, dot, origin = item
            rhs = rule_rhs[rule]
            if dot == len(rhs):
                parents = waiting if origin is target else origin.waiting
                # Copy: completing a nullable derivation here may append to this very list.
                for parent_rule, parent_dot, parent_origin in list(parents.get(rule_lhs[rule], ())):
                    pending.append((parent_rule, parent_dot + 1, parent_origin))
                continue
            symbol = rhs[dot]
            waiting.setdefault(symbol, []).append(item)
            if symbol >= 0:
                if symbol not in predicted:
                    predicted.add(symbol)
                    pending.extend((predicted_rule, 0, target) for predicted_rule in rules_of[symbol])
                if symbol in nullable:
                    pending.append((rule, dot + 1, origin))
            elif -symbol - 1 in nullable_terminals:
                pending.append((rule, dot + 1, origin))
        content = frozenset((rule, dot, _HERE if origin is target else origin) for rule, dot, origin in items)
        existing = self._by_content.get(content)
        if existing is not None:
            return existing
        if len(self._by_content) >= self.limits.max_cached_sets:
            self._by_content.clear()
        self._by_content[content] = target
        target.items = frozenset(items)
        target.waiting = waiting
        start_rule = tables.start_rule
        finished = len(rule_rhs[start_rule])
        target.accepting = any(rule == start_rule and dot == finished for rule, dot, _ in items)
        start_of, has_out = self._start_of, self._has_out
        target.entries = tuple(
            (start_of[-symbol - 1], target)
            for symbol in waiting
            if symbol < 0 and has_out[start_of[-symbol - 1]]
        )
        return target
