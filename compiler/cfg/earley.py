"""A byte-level Earley parser over terminals whose lexing is done by terminal DFAs.

Semantics (the grammar IR's): a terminal may end at any byte where its regex accepts (lark's
``dynamic_complete``), except where longest match forbids it (below); every possible end is
explored.  The parse state after a byte is a `ParseState`:

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

Longest match (`longest_match`): a terminal that ended here in a state that blocks some next
bytes only counts for the other bytes.  ``here`` and ``entries`` are computed as if every end
counted (what EOS and bytes no end blocks see); ``held`` (a `HeldEnds`) keeps the lexer
entries that go on and every end with the bytes it blocks, and `EarleyEngine.step_byte` /
`EarleyEngine.mask_variants` rebuild the set from the ends a given byte allows.  The module
`longest_match` proves, per grammar, that this never leaves a live-looking dead end.

Nullable terminals (regex matching ``""``) and nullable nonterminals use Aycock-Horspool:
an item expecting a nullable symbol also advances over it immediately.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.longest_match import first_byte_bits
from automask.compiler.cfg.tables import GrammarTables, terminal_symbol
from automask.errors import CompileLimitExceeded

Item = tuple[int, int, "EarleySet"]
ALL_BYTES = (1 << 256) - 1
MaskPart = tuple[int, tuple[tuple[int, "EarleySet"], ...], "EarleySet | None"]
"""One part of a mask, `EarleyEngine.mask_variants`: ``(first bytes, lexer entries, fresh set)``."""


class EarleySet:
    """One Earley set, in two parts (see `EarleyEngine._close`):

    - its *kernel*, the items started at an earlier set: ``waiting[symbol]`` lists those whose
      next symbol is ``symbol``;
    - its `Prediction`, the items started here (shared by every set that predicts the same
      nonterminals): ``prediction.waiting[symbol]`` lists their ``(rule, dot)``, the origin
      being this set.
    """

    __slots__ = (
        "kernel",
        "waiting",
        "prediction",
        "entries",
        "entry_states",
        "accepting",
        "first_bytes",
        "__weakref__",
    )

    def __init__(self) -> None:
        self.kernel: frozenset[Item] = frozenset()
        self.waiting: dict[int, list[Item]] = {}
        self.prediction: Prediction = NO_PREDICTION
        self.entries: tuple[tuple[int, EarleySet], ...] = ()
        self.entry_states: tuple[int, ...] = ()  # the entries' DFA start states (a lexer signature)
        self.accepting = False
        self.first_bytes = -1  # the bytes its entries can start with (int bit set); -1: not computed

    def __repr__(self) -> str:
        size = len(self.kernel) + self.prediction.size
        return f"<EarleySet {size} items, {len(self.entries)} entries>"


class Prediction:
    """The items a set starts itself when it expects the nonterminals ``seeds``: the union of
    their prediction closures (`EarleyEngine._prediction`), with the set as every item's origin.

    Why shared: they depend only on the grammar and ``seeds``, while most items of a set are
    such predictions, so `EarleyEngine._close` builds only the kernel item by item and takes
    this part ready-made (one object per distinct ``seeds``, memoised per grammar).
    """

    __slots__ = ("waiting", "size", "accepting", "starts")

    def __init__(
        self,
        waiting: dict[int, tuple[tuple[int, int], ...]],
        size: int,
        accepting: bool,
        starts: frozenset[int],
    ) -> None:
        self.waiting = waiting  # next symbol -> (rule, dot) of the items expecting it
        self.size = size  # number of items
        self.accepting = accepting  # the start rule completes among them (a nullable start)
        self.starts = starts  # DFA start states of the terminals they expect (with a transition)


NO_PREDICTION = Prediction({}, 0, False, frozenset())


class HeldEnds:
    """Terminal ends at one byte that some next bytes forbid (longest match, see the module
    docstring): ``lexing``, the lexer entries that go on; ``ends``, ``(blocked bytes as an int
    bit set, terminal, origin)`` of every end; ``blocked``, the union of the bit sets."""

    __slots__ = ("lexing", "ends", "blocked", "variants")

    def __init__(
        self, lexing: tuple[tuple[int, EarleySet], ...], ends: tuple[tuple[int, int, EarleySet], ...]
    ):
        self.lexing = lexing
        self.ends = ends
        blocked = 0
        for bits, _, _ in ends:
            blocked |= bits
        self.blocked = blocked
        self.variants: list[MaskPart] | None = None

    def allowed_ends(self, byte: int) -> frozenset[tuple[int, EarleySet]]:
        return frozenset((terminal, origin) for bits, terminal, origin in self.ends if not (bits >> byte) & 1)


def _blocked_groups(held: HeldEnds) -> list[tuple[int, int]]:
    """The held-back bytes grouped by the ends that block them: ``(byte bit set, bit set over
    positions in held.ends)`` pairs, ordered by their lowest byte.

    Why groups and not bytes: a name-like terminal under longest match blocks its end on every
    byte that extends it (63 for an identifier), and every byte of a group allows the same ends;
    asking `HeldEnds.allowed_ends` byte by byte cost 15-30 µs a held mask on the bundled SQL and
    Python grammars.  Refined end by end: at most one split per group and end.
    """
    groups = [(held.blocked, 0)]
    for position, (bits, _, _) in enumerate(held.ends):
        refined = []
        for group, blockers in groups:
            if group & bits:
                refined.append((group & bits, blockers | 1 << position))
            if group & ~bits:
                refined.append((group & ~bits, blockers))
        groups = refined
    groups.sort(key=lambda pair: pair[0] & -pair[0])
    return groups


class ParseState:
    """The immutable parser state after some bytes (see the module docstring)."""

    __slots__ = ("entries", "here", "held")

    def __init__(
        self,
        entries: tuple[tuple[int, EarleySet], ...],
        here: EarleySet | None,
        held: HeldEnds | None = None,
    ) -> None:
        self.entries = entries
        self.here = here
        self.held = held

    @property
    def mask_key(self) -> tuple:
        """What the state's token mask depends on (canonical sets, see `EarleyEngine`)."""
        held = self.held
        return self.entries if held is None else (self.entries, held.ends)

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
        "_predictions",
        "_seeded",
        "_transitions",
        "_accepting",
        "_owner",
        "_start_of",
        "_has_out",
        "_block_bits",
    )

    def __init__(self, tables: GrammarTables, limits: CFGLimits) -> None:
        self.tables = tables
        self.limits = limits
        self._lock = threading.Lock()
        self._memo: dict[frozenset[tuple[int, EarleySet]], EarleySet] = {}
        self._by_content: dict[frozenset[Item], EarleySet] = {}
        self._predictions: dict[int, tuple[tuple[tuple[int, int, int | None], ...], frozenset[int]]] = {}
        self._seeded: dict[frozenset[int], Prediction] = {}
        self._transitions = memoryview(tables.transitions).cast("B").cast("i") if tables.num_states else []
        self._accepting: list[bool] = tables.accepting.tolist()
        self._owner: list[int] = tables.state_terminal.tolist()
        self._start_of: list[int] = tables.terminal_start.tolist()
        self._has_out: list[bool] = (tables.transitions >= 0).any(axis=1).tolist()
        self._block_bits = tables.end_blocks  # per state: the next bytes its end is blocked on

    # ------------------------------------------------------------------ states

    def initial_state(self) -> ParseState:
        with self._lock:
            first = self._close(EarleySet(), [], frozenset((self.tables.rule_lhs[self.tables.start_rule],)))
        return ParseState(first.entries, first)

    def step_byte(self, state: ParseState, byte: int) -> ParseState | None:
        """The state after one more byte, or ``None`` if no continuation is viable."""
        table, accepting, owner = self._transitions, self._accepting, self._owner
        current = state.entries
        held = state.held
        if held is not None and (held.blocked >> byte) & 1:
            current = self._entries_after_ends(held, held.allowed_ends(byte))
        entries: dict[tuple[int, EarleySet], None] = {}
        completions: dict[tuple[int, EarleySet], int] = {}  # (terminal, origin) -> blocked bytes
        block_bits = self._block_bits
        for dfa_state, origin in current:
            target = table[dfa_state * 256 + byte]
            if target < 0:
                continue
            entries[(target, origin)] = None
            if accepting[target]:
                key = (owner[target], origin)
                if block_bits is None:
                    completions[key] = 0
                else:  # the same terminal from the same origin set in two states: blocked where both are
                    bits = block_bits[target]
                    completions[key] = completions.get(key, bits) & bits
        here = None
        new_held = None
        if completions:
            here = self.complete(frozenset(completions))
            if block_bits is not None and any(completions.values()):
                # Only bytes the new set's terminals can start with matter: on any other byte its
                # entries die at once, and so do those of a set built from fewer ends.
                live = self._first_bytes(here)
                if any(bits & live for bits in completions.values()):
                    new_held = HeldEnds(
                        tuple(entries),
                        tuple(
                            (bits & live, terminal, origin)
                            for (terminal, origin), bits in completions.items()
                        ),
                    )
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
        return ParseState(tuple(entries), here, new_held)

    def _first_bytes(self, earley_set: EarleySet) -> int:
        """The bytes ``earley_set``'s entries can start with (an int bit set, kept on the set)."""
        found = earley_set.first_bytes
        if found < 0:
            table = self.tables.transitions
            found = 0
            for start, _ in earley_set.entries:
                found |= first_byte_bits(table, start)
            earley_set.first_bytes = found  # immutable value: a race only computes it twice
        return found

    def _entries_after_ends(
        self, held: HeldEnds, ends: frozenset[tuple[int, EarleySet]]
    ) -> tuple[tuple[int, EarleySet], ...]:
        """The lexer entries that go on, plus those of the set after ``ends`` (if any)."""
        if not ends:
            return held.lexing
        return tuple(dict.fromkeys(held.lexing + self.complete(ends).entries))

    def mask_variants(self, state: ParseState) -> list[MaskPart]:
        """``(first bytes as an int bit set, entries, fresh set)``: a token starting with one of
        the bytes may be read from those lexer entries; the mask is the union over the variants,
        each cut to its first bytes.  ``fresh set``: the Earley set made at this byte whose
        lexer entries (all at DFA start states) are among ``entries``, or ``None`` (a mask may
        read them through one precomputed union row, `TerminalTokenTable.union_slot`).

        One variant (every byte, ``state.entries``, ``state.here``) unless longest match holds
        back some of the ends made here (`HeldEnds`).  Then: the entries that go on, for every
        byte (a mask is a union over its initial entries, so they are walked once); the set of
        all ends, for the bytes no end blocks; the set of the ends a group of blocked bytes
        allows, for that group (none when no end is allowed)."""
        held = state.held
        if held is None:
            return [(ALL_BYTES, state.entries, state.here)]
        if held.variants is None:
            by_ends: dict[frozenset[tuple[int, EarleySet]], int] = {}
            for group, blockers in _blocked_groups(held):
                ends = frozenset(
                    (terminal, origin)
                    for position, (_, terminal, origin) in enumerate(held.ends)
                    if not (blockers >> position) & 1
                )
                by_ends[ends] = by_ends.get(ends, 0) | group
            here = state.here
            assert here is not None  # ends were made here
            variants: list[MaskPart] = [
                (ALL_BYTES, held.lexing, None),
                (ALL_BYTES & ~held.blocked, here.entries, here),
            ]
            for ends, bits in by_ends.items():
                if ends:
                    made = self.complete(ends)
                    variants.append((bits, made.entries, made))
            held.variants = [variant for variant in variants if variant[1]]
            # (a race only computes the same list twice)
        return held.variants

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
            symbol = terminal_symbol(terminal)
            for rule, dot, parent in origin.waiting.get(symbol, ()):
                agenda.append((rule, dot + 1, parent))
            for rule, dot in origin.prediction.waiting.get(symbol, ()):
                agenda.append((rule, dot + 1, origin))
        created = self._close(created, agenda)
        if len(memo) >= self.limits.max_cached_sets:
            memo.clear()
        memo[key] = created
        return created

    def _prediction(self, symbol: int) -> tuple[tuple[tuple[int, int, int | None], ...], frozenset[int]]:
        """What predicting nonterminal ``symbol`` adds to any set (memoised per grammar):
        ``(rule, dot, next symbol or None)`` of every item, all with the set itself as origin,
        and the nonterminals predicted on the way.

        Why: it depends only on the grammar, and `_close` spent most of its time re-deriving
        it item by item.  Items of the closure that complete (a nullable derivation) need no
        completion step: whoever waits on their (nullable) left-hand side also advances over
        it at once (Aycock-Horspool).
        """
        found = self._predictions.get(symbol)
        if found is not None:
            return found
        tables = self.tables
        rule_rhs, rules_of, nullable = tables.rule_rhs, tables.rules_of, tables.nullable
        nullable_terminals = tables.nullable_terminals
        items: dict[tuple[int, int], int | None] = {}
        predicted = {symbol}
        pending = [(rule, 0) for rule in rules_of[symbol]]
        while pending:
            item = pending.pop()
            if item in items:
                continue
            rule, dot = item
            rhs = rule_rhs[rule]
            if dot == len(rhs):
                items[item] = None
                continue
            following = rhs[dot]
            items[item] = following
            if following >= 0:
                if following not in predicted:
                    predicted.add(following)
                    pending.extend((predicted_rule, 0) for predicted_rule in rules_of[following])
                if following in nullable:
                    pending.append((rule, dot + 1))
            elif -following - 1 in nullable_terminals:
                pending.append((rule, dot + 1))
        found = (
            tuple((rule, dot, following) for (rule, dot), following in items.items()),
            frozenset(predicted),
        )
        self._predictions[symbol] = found
        return found

    def _seeded_prediction(self, seeds: frozenset[int]) -> Prediction:
        """The `Prediction` of a set expecting the nonterminals ``seeds`` (memoised per grammar)."""
        found = self._seeded.get(seeds)
        if found is not None:
            return found
        items: dict[tuple[int, int], int | None] = {}
        predicted: set[int] = set()
        for symbol in seeds:
            if symbol in predicted:  # inside another seed's closure: adds nothing
                continue
            closure, inner = self._prediction(symbol)
            predicted |= inner
            for rule, dot, following in closure:
                items[(rule, dot)] = following
        waiting: dict[int, list[tuple[int, int]]] = {}
        accepting = False
        start_rule = self.tables.start_rule
        for item, following in items.items():
            if following is None:
                accepting = accepting or item[0] == start_rule
            else:
                waiting.setdefault(following, []).append(item)
        starts = frozenset(self._lexer_starts(waiting))
        found = Prediction(
            {symbol: tuple(group) for symbol, group in waiting.items()}, len(items), accepting, starts
        )
        if len(self._seeded) >= self.limits.max_cached_sets:
            self._seeded.clear()
        self._seeded[seeds] = found
        return found

    def _lexer_starts(self, symbols: Iterable[int]) -> list[int]:
        """The DFA start states of the terminals among ``symbols`` that can read a byte: the
        lexer entries a set expecting them starts."""
        start_of, has_out = self._start_of, self._has_out
        return [start_of[-symbol - 1] for symbol in symbols if symbol < 0 and has_out[start_of[-symbol - 1]]]

    def _close(self, target: EarleySet, agenda: list[Item], seeds: frozenset[int] = frozenset()) -> EarleySet:
        """Fill ``target`` with the Earley closure (predict / complete) of the ``agenda`` items
        (all started at earlier sets) plus the prediction of the nonterminals ``seeds``.

        Only the *kernel*, the items started at earlier sets, is built item by item: the
        agenda, what completes through origin sets, and advances over nullable symbols.  The
        items started here are the prediction closure of the nonterminals the kernel expects
        (``seeds`` included), taken whole from `_seeded_prediction`.  That is complete: an item
        predicted here can only complete through nullable symbols, and whoever expects a
        nullable symbol also advances over it at once (Aycock-Horspool), so no completion
        step inside the set is needed.

        Returns ``target``, or an existing set with the same kernel (origins compared by
        identity), which determines the rest.  Sharing such sets is what keeps ambiguous
        splits finite: ``%ignore WS`` with ``WS: /[ ]+/`` can split a run of spaces many ways,
        but every split leads to the same set, so lexer entries stay deduplicated instead of
        multiplying with each origin.
        """
        tables = self.tables
        rule_lhs, rule_rhs = tables.rule_lhs, tables.rule_rhs
        nullable, nullable_terminals = tables.nullable, tables.nullable_terminals
        start_rule = tables.start_rule
        limit = self.limits.max_earley_items
        kernel: set[Item] = set()
        waiting: dict[int, list[Item]] = {}
        expected = set(seeds)
        accepting = False
        pending = agenda
        while pending:
            item = pending.pop()
            if item in kernel:
                continue
            kernel.add(item)
            if len(kernel) > limit:
                raise CompileLimitExceeded(
                    "max_earley_items", len(kernel), limit, hint="grammar too ambiguous"
                )
            rule, dot, origin = item
            rhs = rule_rhs[rule]
            if dot == len(rhs):
                if rule == start_rule:
                    accepting = True
                lhs = rule_lhs[rule]
                for parent, at, grand in origin.waiting.get(lhs, ()):
                    pending.append((parent, at + 1, grand))
                for parent, at in origin.prediction.waiting.get(lhs, ()):
                    pending.append((parent, at + 1, origin))
                continue
            symbol = rhs[dot]
            waiting.setdefault(symbol, []).append(item)
            if symbol >= 0:
                expected.add(symbol)
                if symbol in nullable:
                    pending.append((rule, dot + 1, origin))
            elif -symbol - 1 in nullable_terminals:
                pending.append((rule, dot + 1, origin))
        content = frozenset(kernel)
        existing = self._by_content.get(content)
        if existing is not None:
            return existing
        prediction = self._seeded_prediction(frozenset(expected))
        if len(kernel) + prediction.size > limit:
            raise CompileLimitExceeded(
                "max_earley_items", len(kernel) + prediction.size, limit, hint="grammar too ambiguous"
            )
        if len(self._by_content) >= self.limits.max_cached_sets:
            self._by_content.clear()
        self._by_content[content] = target
        target.kernel = content  # never changed again
        target.waiting = waiting
        target.prediction = prediction
        target.accepting = accepting or prediction.accepting
        starts = prediction.starts.union(self._lexer_starts(waiting))
        # Sorted: sets expecting the same terminals get the same entry order, so they share a
        # lexer signature (`set_index.SetIndex`) however their items were found.
        states = tuple(sorted(starts))
        target.entries = tuple([(start, target) for start in states])
        target.entry_states = states
        return target
