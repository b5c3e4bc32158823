"""Per-vocabulary caches of the CFG engine: terminal DFAs and their token rows, shared by grammars.

Why: a JSON-Schema back-end compiles thousands of grammars against one vocabulary, and they
keep using the same few terminals (JSON string bodies, numbers, whitespace, literals).  What
the mask needs from a terminal depends only on the terminal's DFA and the vocabulary, never
on the grammar around it, so it is computed once per vocabulary and shared.

`TerminalCache` (one per `Vocabulary`, kept with it through `Vocabulary.derived`, see
`terminal_cache`) holds, each bounded by ``max_terminals`` (a cache only: the least recently
used entries are evicted, grammars keep what they already hold):

- ``dfa(regex, limits)``: regex AST (a frozen, hashable `automask.compiler.regex.ast` node)
  -> its minimal `ByteDFA`.  The DFA does not depend on the vocabulary; it is kept here only
  so that its lifetime is tied to an object that grammars already share (no module-level
  cache).
- ``terminal_rows(dfa)``: a terminal DFA -> its `TerminalRows`, keyed by the DFA's exact
  tables (start, accepting and transition bytes).  The same regex gives the same DFA
  (construction is deterministic), so the same leaf terminal hits across grammars.

`TerminalRows` fills, lazily and once per DFA state, what `_kernels.fill_mask` needs for a
lexer entry in that state (one full-trie walk, `_kernels.walk_subtrees`):

- ``row``: uint32 ``[W]`` - the tokens whose bytes keep the DFA alive from that state;
- ``completions``: int32 - the trie nodes, in preorder, with descendants, after which the DFA
  accepts (where the terminal may end inside a token).

Only states that are the initial lexer entry of some mask are ever built (for JSON a handful:
each terminal's start state and the states inside a string), so compile time does not pay
for the rest.  Thread-safe: filling holds the object's lock; published results are read-only.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from automask.compiler.automata._kernels import (
    FINGERPRINT_MULTIPLIERS,
    table_fingerprint,
)
from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.automata.dfa import breadth_first_order_reference
from automask.compiler.cfg import _kernels, _plain_kernels
from automask.compiler.cfg.longest_match import extends_match
from automask.compiler.cfg.plain_slice import PlainSlice, build_plain_slice
from automask.compiler.cfg.safe_subtrees import (
    NO_SAFE_SET,
    SafeSet,
    byte_weights,
    safe_set,
    subtree_byte_sets,
)
from automask.compiler.limits import CompileLimits
from automask.compiler.regex import RegexNode, ast_to_dfa
from automask.compiler.token_index.index import refine_to_depth
from automask.compiler.token_index.trie import TokenTrie, token_trie
from automask.compiler.vocabulary.vocabulary import Vocabulary

_NO_SKIP = np.zeros(0, dtype=np.int32)
_NO_SKIP.setflags(write=False)
_NO_SUBTREE_SETS = np.zeros((0, 2), dtype=np.uint64)
_NO_SUBTREE_SETS.setflags(write=False)

DEFAULT_MAX_TERMINALS = 512
"""Terminal DFAs (and, separately, regexes) a vocabulary's `TerminalCache` keeps before clearing."""


class StateRow(NamedTuple):
    """What the mask needs for one DFA state (both arrays read-only)."""

    row: np.ndarray  # uint32 [W]
    completions: np.ndarray  # int32 trie nodes, preorder
    by_byte_offsets: np.ndarray  # int64 [257]: completion nodes with a child on byte b are
    by_byte_nodes: np.ndarray  # by_byte_nodes[by_byte_offsets[b] : by_byte_offsets[b + 1]] (preorder)
    longest_by_byte_offsets: np.ndarray  # the same without the (node, b) where b extends the match
    longest_by_byte_nodes: np.ndarray  # (what a terminal under longest match uses, `longest_match`)


class TrieChildren(NamedTuple):
    """The trie's child lists as CSR (`_kernels.child_lists`), kept with the vocabulary."""

    offsets: np.ndarray
    bytes: np.ndarray
    nodes: np.ndarray


MAX_RESIDUAL_STATES = 64
"""Residual languages with more states are not looked up by `residual_key`: the shared tails
that matter (string bodies, number tails) are small, and the search for a large residual
(a string with a large maxLength: a distinct residual at every position) would cost more
than it saves."""

DEFAULT_MAX_RESIDUAL_ROWS = 2048
"""`StateRow`s a vocabulary keeps by residual language, least recently used evicted first (a
row is 16 KiB at 128k tokens)."""


class LeastRecentlyUsed:
    """A thread-safe mapping of at most ``capacity`` entries that evicts the least recently used.

    Why not clear when full: MaskBench-like use compiles thousands of grammars whose own
    terminals (keys, enums) crowd the shared ones (string bodies, numbers, chunks); clearing
    dropped the shared rows with them every few dozen schemas.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key):
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


ROWS_BEFORE_CLASSES = 16
"""Rows a large terminal DFA builds one by one before it computes its `depth_classes`."""

MIN_STATES_FOR_CLASSES = 1024
"""Terminal DFAs with more states share rows between depth-equivalent states (`depth_classes`;
computing the classes costs about as much as a few row walks, so small DFAs do not)."""


def depth_classes(transitions: np.ndarray, accepting: np.ndarray, depth: int) -> np.ndarray:
    """int32 class per state: equal iff the states agree on acceptance and viability of every
    string of at most ``depth`` bytes (`token_index.index.refine_to_depth` from the accepting
    partition).

    Why: a token row and the completion points only look ``max_depth`` bytes ahead (the longest
    token), so such states have the same `StateRow`.  In a bounded string (``maxLength: 1024``,
    the chunks of a long string) every position is its own state -- a whole-trie walk each --
    but all positions more than a token's length from the end read alike.
    """
    _, initial = np.unique(accepting, return_inverse=True)  # class ids 0 .. k-1
    return refine_to_depth(transitions, initial.reshape(-1), depth)


def residual_key(transitions: np.ndarray, accepting: np.ndarray, state: int) -> bytes | None:
    """The digest of the residual language of ``state`` in a minimal DFA, or None where rows
    are not shared by residual: past `MAX_RESIDUAL_STATES` reachable states, or a *narrow*
    residual (no state with more than `NARROW_RESIDUAL_BYTES` live bytes, such as the rest of
    a property name), whose walk costs less than this key.
    `TerminalCache.residual_rows` shares `StateRow`s by it across terminals.

    Why: a state's row and completion points depend only on the language read from it, not
    on the terminal around it.  Terminals that differ only before a common tail share it:
    the "any other key" DFA of every schema ends in the generic string body, as do keys,
    patterns and bounded strings; those body states allow almost every token, so each of
    their rows is a whole-trie walk (3-6 ms at 128k tokens), once per schema without this.
    The residual DFA is canonically numbered (breadth first from the state, successors by
    byte, `_kernels.residual_encoding`); terminal DFAs are minimal, so equal digests (128
    bits) mean equal languages.
    """
    encoding, widest = _kernels.residual_encoding(transitions, accepting, state, MAX_RESIDUAL_STATES)
    if encoding.shape[0] == 0 or widest <= NARROW_RESIDUAL_BYTES:
        return None
    return hashlib.blake2b(encoding.tobytes(), digest_size=16).digest()


def residual_encoding_reference(
    transitions: np.ndarray, accepting: np.ndarray, state: int, limit: int
) -> tuple[np.ndarray, int]:
    """numpy specification of `_kernels.residual_encoding`."""
    order = breadth_first_order_reference(transitions, state)
    if len(order) > limit:
        return np.zeros(0, dtype=np.int8), 0
    order = np.asarray(order, dtype=np.int64)
    new_id = np.full(transitions.shape[0] + 1, -1, dtype=np.int8)  # index -1 (DEAD) -> DEAD
    new_id[order] = np.arange(order.shape[0], dtype=np.int8)
    targets = transitions[order]
    encoding = np.concatenate((new_id[targets], accepting[order].astype(np.int8)[:, None]), axis=1)
    return encoding.reshape(-1), int((targets >= 0).sum(axis=1).max())


NARROW_RESIDUAL_BYTES = 8
"""Residuals whose states have at most this many live bytes each are not shared (`residual_key`):
their walk visits few trie nodes, cheaper than the key (a property name's tail: 17 µs against 29)."""


assert MAX_RESIDUAL_STATES <= 127, "residual_key numbers states in int8"


class TerminalRows:
    """One terminal DFA's per-state token rows and completion points over one vocabulary's trie."""

    def __init__(
        self,
        transitions: np.ndarray,
        accepting: np.ndarray,
        trie: TokenTrie,
        children: TrieChildren,
        words: int,
        residual_rows: LeastRecentlyUsed | None = None,
        plain_slice: Callable[[], PlainSlice] | None = None,
        safe_trie: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.transitions = np.ascontiguousarray(transitions, dtype=np.int32)
        self.accepting = np.ascontiguousarray(accepting, dtype=np.bool_)
        for array in (self.transitions, self.accepting):
            array.setflags(write=False)
        self.trie = trie
        self.children = children
        self.words = words
        self.residual_rows = residual_rows
        self._lock = threading.Lock()
        self._states: dict[int, StateRow] = {}
        self._classes: np.ndarray | None = None  # `depth_classes`, for large DFAs, on first use
        self._by_class: dict[int, StateRow] = {}
        self._plain_slice = plain_slice
        self._plain_depths: np.ndarray | None = None  # `_plain_kernels.plain_depths`, on first build
        self._all_narrow: bool | None = None  # `_keyed`, on first use
        self._safe_trie = safe_trie

    @property
    def num_states(self) -> int:
        return int(self.transitions.shape[0])

    def _worth_classes(self) -> bool:
        """Whether to compute `depth_classes` now: a large DFA (a bounded string) that has
        already needed `ROWS_BEFORE_CLASSES` rows -- a generation going through the string,
        not a short value -- so the classes' cost (tens of ms) is paid only where it saves."""
        return self.num_states > MIN_STATES_FOR_CLASSES and len(self._states) >= ROWS_BEFORE_CLASSES

    def state(self, local_state: int) -> StateRow:
        """The row and completion points of ``local_state`` (built on first use)."""
        found = self._states.get(local_state)
        if found is not None:
            return found
        with self._lock:
            found = self._states.get(local_state)
            if self._classes is None and self._worth_classes():
                self._classes = depth_classes(self.transitions, self.accepting, self.trie.max_depth)
                for state, state_row in self._states.items():
                    self._by_class.setdefault(int(self._classes[state]), state_row)
            if found is None and self._classes is not None:
                found = self._by_class.get(int(self._classes[local_state]))
                if found is not None:
                    self._states[local_state] = found
            if found is None:
                shared = self.residual_rows
                key = (
                    None
                    if shared is None or not self._keyed()
                    else residual_key(self.transitions, self.accepting, local_state)
                )
                found = None if key is None else shared.get(key)
                if found is None:
                    found = build_state_row(
                        self.transitions, self.accepting, self.trie, self.children, self.words, local_state,
                        *self._plain(local_state), None if self._safe_trie is None else self._safe_trie(),
                    )  # fmt: skip
                    if key is not None:
                        shared.put(key, found)
                self._states[local_state] = found
                if self._classes is not None:
                    self._by_class[int(self._classes[local_state])] = found
        return found

    def _keyed(self) -> bool:
        """Whether any state may have a `residual_key`: not when every state of a small DFA
        (a property name, a keyword) has at most `NARROW_RESIDUAL_BYTES` live bytes, where the
        key would be computed only to be refused.  Under the lock."""
        if self._all_narrow is None:
            small = self.num_states <= MAX_RESIDUAL_STATES
            self._all_narrow = (
                small and int((self.transitions >= 0).sum(axis=1).max()) <= NARROW_RESIDUAL_BYTES
            )
        return not self._all_narrow

    def _plain(self, local_state: int) -> tuple[PlainSlice | None, int]:
        """The vocabulary's plain slice and how many plain characters ``local_state`` surely
        reads (`plain_slice`); ``(None, 0)`` without a slice or for a narrow state (a property
        name's, which cannot read every plain character: the DFA's depths are not computed).
        Under the lock."""
        if (
            self._plain_slice is None
            or _live_byte_count(self.transitions, local_state) <= NARROW_RESIDUAL_BYTES
        ):
            return None, 0  # a plain character has far more than that many first bytes: depth 0
        plain = self._plain_slice()
        if self._plain_depths is None:
            self._plain_depths = _plain_kernels.plain_depths(
                self.transitions, self.accepting, plain.max_chars
            )
        return plain, int(self._plain_depths[local_state])


def _live_byte_count(transitions: np.ndarray, state: int) -> int:
    """How many bytes keep ``state`` alive (one row: a bounded string's DFA has thousands)."""
    return int(np.count_nonzero(transitions[state] >= 0))


def walk_with_completions(
    transitions: np.ndarray,
    accepting: np.ndarray,
    trie: TokenTrie,
    states: np.ndarray,
    roots: np.ndarray,
    row: np.ndarray,
    plain: PlainSlice | None = None,
    plain_depth: int = -1,
    safe: tuple[np.ndarray, SafeSet] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_kernels.walk_subtrees` with room for every completion point: ``(nodes, entries, states)``.

    The kernel stores only as many points as its buffers hold and returns the count, so a
    short first try is walked again with exact room (the bits of ``row`` are idempotent).
    With ``plain`` and ``plain_depth >= 0`` (true of every state in ``states``), the subtrees of
    plain tokens of at most that many characters are skipped: the caller ORs them in.  With
    ``safe`` (the trie's subtree byte sets and a safe set of ``states``, `safe_subtrees`), safe
    subtrees are OR-ed whole instead of walked.
    """
    skip_max = _NO_SKIP if plain is None else plain.node_plain_max
    skip_depth = -1 if plain is None else plain_depth
    subtree_sets = _NO_SUBTREE_SETS if safe is None else safe[0]
    safe_bytes, safe_states = NO_SAFE_SET if safe is None else safe[1]
    capacity = 256
    while True:
        nodes = np.empty(capacity, dtype=np.int32)
        entries = np.empty(capacity, dtype=np.int32)
        dfa_states = np.empty(capacity, dtype=np.int32)
        found = int(
            _kernels.walk_subtrees(
                transitions, accepting, trie.node_byte, trie.node_depth, trie.node_end,
                trie.token_offsets, trie.token_ids, trie.max_depth, states, roots, row, nodes, entries,
                dfa_states, skip_max, skip_depth, subtree_sets, safe_bytes, safe_states,
            )
        )  # fmt: skip
        if found <= capacity:
            return nodes[:found].copy(), entries[:found].copy(), dfa_states[:found].copy()
        capacity = found


def build_state_row(
    transitions: np.ndarray,
    accepting: np.ndarray,
    trie: TokenTrie,
    children: TrieChildren,
    words: int,
    state: int,
    plain: PlainSlice | None = None,
    plain_depth: int = 0,
    safe_trie: tuple[np.ndarray, np.ndarray] | None = None,
) -> StateRow:
    """Walk the whole trie from ``state`` once (numba): its token row and completion points.

    With ``plain_depth > 0`` (the state surely reads that many characters of plain text,
    `plain_slice`), the plain tokens that short are OR-ed in from ``plain.rows`` and the walk
    skips their subtrees (`walk_with_completions`); with ``safe_trie`` (the trie's subtree byte
    sets and byte weights, `safe_subtrees`), so does every subtree safe from ``state``.  The
    result is the same.
    """
    sliced = plain is not None and plain_depth > 0
    depth = min(plain_depth, plain.max_chars) if sliced else -1
    row = plain.rows[depth].copy() if sliced else np.zeros(words, dtype=np.uint32)
    starts = np.array([state], dtype=np.int32)
    safe = None
    if (
        safe_trie is not None
        and not (sliced and depth >= plain.max_chars)
        and _live_byte_count(transitions, state) > NARROW_RESIDUAL_BYTES
    ):
        # (the slice already skips every plain subtree; a narrow state's walk is short)
        subtree_sets, weights = safe_trie
        safe = (subtree_sets, safe_set(transitions, accepting, starts, weights))
    completions, _, completion_states = walk_with_completions(
        transitions, accepting, trie, starts, np.array([-1], dtype=np.int32), row,
        plain if sliced else None, depth, safe,
    )  # fmt: skip
    offsets, nodes, longest_offsets, longest_nodes = _kernels.completions_by_child_byte(
        completions, completion_states, children.offsets, children.bytes, transitions, accepting
    )
    if longest_nodes.shape[0] == nodes.shape[0]:  # no end extends the match: share the arrays
        longest_offsets, longest_nodes = offsets, nodes
    grouped = (offsets, nodes, longest_offsets, longest_nodes)
    for array in (row, completions, *grouped):
        array.setflags(write=False)
    return StateRow(row, completions, *grouped)


def completions_by_child_byte_reference(
    completions: np.ndarray,
    states: np.ndarray,
    children: TrieChildren,
    transitions: np.ndarray,
    accepting: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Completion nodes grouped by the bytes of their children (a node is in one group per child);
    numpy specification of `_kernels.completions_by_child_byte`, which `build_state_row` calls.

    A mask only needs the completion points where the set that follows can go on, i.e. whose
    node has a child on a byte that set can start with; this grouping lets it gather them.
    Returns ``(offsets [257], nodes)`` twice: all of them, then those where the child's byte
    does not extend the terminal to a longer match (``states``: the DFA state at each point),
    the only ends a terminal under longest match has.
    """
    first = children.offsets[completions.astype(np.int64) + 1]
    counts = children.offsets[completions.astype(np.int64) + 2] - first
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    positions = np.arange(total, dtype=np.int64) - np.repeat(starts, counts) + np.repeat(first, counts)
    child_bytes = children.bytes[positions]
    order = np.argsort(child_bytes, kind="stable")  # stable: preorder within each byte
    nodes = np.repeat(completions, counts)[order].astype(np.int32)
    sorted_bytes = child_bytes[order]
    offsets = np.zeros(257, dtype=np.int64)
    np.cumsum(np.bincount(sorted_bytes, minlength=256), out=offsets[1:])
    ends = ~extends_match(transitions, accepting, np.repeat(states, counts)[order], sorted_bytes)
    if ends.all():
        return offsets, nodes, offsets, nodes
    longest_offsets = np.zeros(257, dtype=np.int64)
    np.cumsum(np.bincount(sorted_bytes[ends], minlength=256), out=longest_offsets[1:])
    return offsets, nodes, longest_offsets, nodes[ends]


class TerminalCache:
    """A vocabulary's shared terminal DFAs and `TerminalRows` (see the module docstring)."""

    def __init__(self, vocab: Vocabulary, max_terminals: int = DEFAULT_MAX_TERMINALS) -> None:
        self.trie = token_trie(vocab)
        self.words = (vocab.size + 31) // 32
        self.max_terminals = max_terminals
        self.children = TrieChildren(*_kernels.child_lists(self.trie.node_depth, self.trie.node_byte))
        for array in self.children:
            array.setflags(write=False)
        self._dfas: LeastRecentlyUsed = LeastRecentlyUsed(max_terminals)
        self._rows: LeastRecentlyUsed = LeastRecentlyUsed(max_terminals)  # table digest -> rows
        self._rows_of_dfa: LeastRecentlyUsed = LeastRecentlyUsed(max_terminals)  # id -> (dfa, rows)
        self.residual_rows = LeastRecentlyUsed(DEFAULT_MAX_RESIDUAL_ROWS)  # `residual_key` -> rows
        self._vocab = vocab
        self._plain: PlainSlice | None = None
        self._safe_trie: tuple[np.ndarray, np.ndarray] | None = None
        self._lazy_lock = threading.Lock()  # builds the plain slice and the safe-subtree sets once

    def plain_slice(self) -> PlainSlice:
        """The vocabulary's `plain_slice.PlainSlice`, built on first use."""
        if self._plain is None:
            with self._lazy_lock:
                if self._plain is None:
                    self._plain = build_plain_slice(self._vocab, self.trie, self.words)
        return self._plain

    def safe_trie(self) -> tuple[np.ndarray, np.ndarray]:
        """The trie's subtree byte sets and byte weights (`safe_subtrees`), built on first use: a
        row walk needs them, a compile does not (a fresh process would load their kernel)."""
        if self._safe_trie is None:
            with self._lazy_lock:
                if self._safe_trie is None:
                    self._safe_trie = (subtree_byte_sets(self.trie), byte_weights(self.trie))
        return self._safe_trie

    def dfa(self, regex: RegexNode, limits: CompileLimits) -> ByteDFA:
        """``ast_to_dfa(regex, limits)``, memoised (the limits are re-checked on a hit)."""
        try:
            found = self._dfas.get(regex)
        except RecursionError:  # too deep to hash: let ast_to_dfa report it
            return ast_to_dfa(regex, limits)
        if found is not None:
            limits.check("max_dfa_states", found.num_states)
            return found
        dfa = ast_to_dfa(regex, limits)  # outside any lock: may be slow, and a race only duplicates work
        self._dfas.put(regex, dfa)
        return dfa

    def terminal_rows(self, dfa: ByteDFA) -> TerminalRows:
        """The shared `TerminalRows` of ``dfa`` over this vocabulary, keyed by its exact tables
        (equal regexes give the same `ByteDFA` object from `dfa`: looked up by identity first).

        Other objects are looked up by a fingerprint of the tables (`_kernels.table_fingerprint`,
        a blake2b digest cost 5-10x more on the keys of one-shot schemas) and the tables are
        compared on a match, so a fingerprint collision only costs sharing, never a wrong row.
        """
        known = self._rows_of_dfa.get(id(dfa))
        if known is not None and known[0] is dfa:
            return known[1]
        transitions = np.ascontiguousarray(dfa.transitions, dtype=np.int32)
        accepting = np.ascontiguousarray(dfa.accepting, dtype=np.bool_)
        key = (transitions.shape[0], int(table_fingerprint(transitions, accepting)))
        found = self._rows.get(key)
        shared = found is None
        if found is not None and not (
            np.array_equal(found.transitions, transitions) and np.array_equal(found.accepting, accepting)
        ):
            found = None  # a collision: this DFA gets rows of its own, the cached ones stay
        if found is None:
            found = TerminalRows(
                transitions,
                accepting,
                self.trie,
                self.children,
                self.words,
                self.residual_rows,
                self.plain_slice,
                self.safe_trie,
            )
            if shared:
                self._rows.put(key, found)  # a race builds two: speed only, both are right
        self._rows_of_dfa.put(id(dfa), (dfa, found))
        return found


def table_fingerprint_reference(transitions: np.ndarray, accepting: np.ndarray) -> int:
    """Pure-Python specification of `_kernels.table_fingerprint` (64-bit arithmetic by masking)."""
    mask = (1 << 64) - 1
    multipliers = [int(m) for m in FINGERPRINT_MULTIPLIERS]
    lanes = list(multipliers)
    flat = (transitions.reshape(-1).astype(np.int64) & 0xFFFFFFFF).tolist()
    whole = len(flat) - len(flat) % 4
    for at in range(whole):
        lane = at % 4
        lanes[lane] = ((lanes[lane] ^ flat[at]) * multipliers[(lane + 1) % 4]) & mask
    for at in range(whole, len(flat)):
        lanes[0] = ((lanes[0] ^ flat[at]) * multipliers[1]) & mask
    for flag in accepting.tolist():
        lanes[1] = ((lanes[1] ^ (2 + int(flag))) * multipliers[2]) & mask
    value = len(flat)
    for lane in lanes:
        value = ((value ^ (lane ^ (lane >> 29))) * multipliers[0]) & mask
    return value ^ (value >> 32)


def terminal_cache(vocab: Vocabulary) -> TerminalCache:
    """The `TerminalCache` of ``vocab``, built on first use and then kept with the vocabulary."""
    token_trie(vocab)  # first: `Vocabulary.derived` builders must not call `derived` (one lock)
    return vocab.derived("cfg_terminal_cache", TerminalCache)
