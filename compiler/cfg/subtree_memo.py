"""Per-grammar memo of trie subtrees read by an Earley set's lexer entries (`_kernels.fill_mask_jobs`).

Why: when a terminal ends inside a token (after an ``%ignore``d blank, after ``-`` or ``(`` in
an expression), the rest of the token is read from the Earley set that follows.  Walking the
trie below that point at every mask is what made uncached masks cost milliseconds (below
`` `` alone the llama3 trie has ~90k nodes).  What that walk finds *before* a terminal ends
again depends only on where it starts and on the set's entries' DFA start states (its lexer
signature, `set_index.SetIndex`), not on the parse context: so it is computed once per
``(signature, root list)`` and reused by every context with that signature.

A *root list* (code, see `_kernels.fill_mask_jobs`) is a list of *start nodes*: the
children of the completion points of an initial entry's slot on the bytes the signature's
entries can start with (odd codes), or the nodes of a memo group (even codes).  One memo
(id ``k``) holds, for the tokens below the start nodes (inclusive):

- the tokens some entry reads to their end without its terminal having to end before: a
  token list ``token_pool[memo_token_offsets[k] : memo_token_offsets[k + 1]]``, or, when the
  list would be long (`ROW_TOKENS_PER_WORD`), the row ``memo_rows[memo_row[k]]``
  (``memo_row[k] = -1`` for a list);
- its *groups* ``memo_group_offsets[k] .. memo_group_offsets[k + 1]``: group ``g`` is entry
  ``group_entry[g]`` and the nodes ``node_pool[group_node_offsets[g] : group_node_offsets[g +
  1]]`` (preorder): the children of the nodes after which that entry's terminal may end,
  where the set after it starts reading.  They are the root list of code ``2 group_code[g]``,
  where ``group_code[g]`` is the first group with the same nodes.  Why canonical codes: many
  memos end in the same root lists (the nodes where a run of blanks or a string may end,
  below different starts), and a code per group made each of them a separate memo, walked
  again, whose groups were new codes in turn (json.lark built 20k memos for 1k distinct root
  lists).  Only a group that is its own code keeps its nodes in ``node_pool`` (the others'
  ranges are empty: they are read through their code).

The hash table (``table_keys`` int64 / ``table_values`` int32, open addressing, linear
probing, -1 = empty, `_kernels.hash_slot`) maps ``signature << JOB_SHIFT | code`` to ``k``.

Thread-safety: building holds a lock.  Arrays are grown as a *generation*: while nothing
must grow, new data is written in place past what readers use, and a key is written to the
table only after its data; when anything must grow (or the table passes half full) every
array is copied into a new generation and published as a new snapshot, so a reader's
snapshot is always consistent.  Bounded by ``max_bytes``: `start_mask` drops the memo
(a cache only; ``generation`` changes, so group codes of the old one are never used again)
when it is larger, only between masks so that one mask always finishes.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from automask.compiler.cfg import _kernels, _memo_kernels
from automask.compiler.cfg.longest_match import extends_match
from automask.compiler.cfg.set_index import SetIndex
from automask.compiler.cfg.tables import GrammarTables
from automask.compiler.cfg.terminal_cache import TrieChildren, walk_with_completions
from automask.compiler.token_index.trie import TokenTrie
from automask.runtime.bitmask import set_token_bits

if TYPE_CHECKING:
    from automask.compiler.cfg.token_walk import SlotArrays


class MemoArrays(NamedTuple):
    """A consistent snapshot of a `SubtreeMemo` (layout: the module docstring)."""

    table_keys: np.ndarray
    table_values: np.ndarray
    memo_row: np.ndarray
    memo_token_offsets: np.ndarray
    token_pool: np.ndarray
    memo_rows: np.ndarray
    memo_group_offsets: np.ndarray
    group_entry: np.ndarray
    group_code: np.ndarray
    group_node_offsets: np.ndarray
    node_pool: np.ndarray


_FIELDS = MemoArrays._fields

BUILD_SECONDS = 4.0
"""Time one grammar may spend building memos in all (and only as it earns it, `SubtreeMemo.earn`).  Grammars whose contexts need few memos
(JSON, arithmetic: 0.4-3 s) get them all; one that would need too many (``sql.lark``, where a
name may end before almost any byte) stops building and its masks use the frontier walk."""

EARN_RATE = 2.0
"""Build-time credit per second of frontier walks (`SubtreeMemo.earn`).  Measured on llama3:
1 gave MaskBench masks p99 3.5 ms but left the CFG suite's repeated walks on the frontier
walk (json.gbnf p50 64 µs); 16 the reverse (p99 6.8 ms, 33 µs); 2 sits between."""


ROW_TOKENS_PER_WORD = 8
"""A memo is stored as a row once it has more than ``words / 8`` tokens: OR-ing a token list
costs about one scattered read-modify-write per token, a row one vector instruction per eight
words (uint32 in AVX2), so a list of ``words / 8`` tokens costs about what the row does.  On
the CFG suite's walks (llama3, 4,009 words), replaying the recorded calls of the jobs kernel,
this threshold rather than ``words`` took a mask from 44 to 34 µs on ``arithmetic.lark``, 47
to 26 on ``python.lark`` and 27 to 23 on ``sql.lark``."""


MEMO_SECONDS_PER_CALL = 0.002
"""About how long one `_memo_kernels.build_memos` call may take (it cannot read a clock): keys
are passed in chunks sized by the time memos have taken so far, and the deadline of `build`
is checked between chunks."""


class SubtreeMemo:
    """``(lexer signature, trie node)`` -> what the signature's entries read below the node."""

    def __init__(
        self,
        tables: GrammarTables,
        trie: TokenTrie,
        children: TrieChildren,
        words: int,
        index: SetIndex,
        max_bytes: int,
        initial_credit: float = 0.0,
    ) -> None:
        self.tables = tables
        self.trie = trie
        self.children = children
        self.words = words
        self.row_tokens = max(1, words // ROW_TOKENS_PER_WORD)
        """Memos with more tokens than this are stored as rows (see `ROW_TOKENS_PER_WORD`)."""
        self.index = index
        self.max_bytes = max_bytes
        self.num_nodes = int(trie.node_byte.shape[0])
        self.build_seconds_left = BUILD_SECONDS
        """What is left of this grammar's `BUILD_SECONDS` (spent by `build`, under the lock)."""
        self.build_credit = initial_credit
        """Seconds `build` may still spend before the grammar has paid as much in walks (`earn`)."""
        self._seconds_per_memo = 20e-6  # a running estimate, to size `build`'s chunks
        self._needed_scratch = np.zeros(len(_memo_kernels.NEEDED_FIELDS), dtype=np.int64)  # under the lock
        self._lock = threading.Lock()
        self._walk_args = (  # what every `_memo_kernels.build_memos` call reads, in its order
            tables.transitions, tables.accepting, tables.longest_states, trie.node_byte, trie.node_depth,
            trie.node_end, trie.token_offsets, trie.token_ids, trie.max_depth, children.offsets,
            children.bytes, children.nodes,
        )  # fmt: skip
        self._row = np.zeros(words, dtype=np.uint32)  # scratch of `_build`, under the lock
        self._reset()

    def _reset(self) -> None:
        self.generation = getattr(self, "generation", 0) + 1  # group ids of older generations are void
        # First sizes: room for a few dozen memos (about 40 KB), so that a one-shot grammar
        # rarely copies its arrays into a new generation (each copy rehashes the table).
        self._arrays = {
            "table_keys": np.full(256, -1, dtype=np.int64),
            "table_values": np.zeros(256, dtype=np.int32),
            "memo_row": np.zeros(128, dtype=np.int32),
            "memo_token_offsets": np.zeros(129, dtype=np.int64),
            "token_pool": np.zeros(2048, dtype=np.int32),
            "memo_rows": np.zeros((1, self.words), dtype=np.uint32),
            "memo_group_offsets": np.zeros(129, dtype=np.int64),
            "group_entry": np.zeros(512, dtype=np.int32),
            "group_code": np.zeros(512, dtype=np.int32),
            "group_node_offsets": np.zeros(513, dtype=np.int64),
            "node_pool": np.zeros(2048, dtype=np.int32),
            "root_keys": np.full(1024, -1, dtype=np.int64),  # root lists by content (`_memo_kernels`)
            "root_groups": np.zeros(1024, dtype=np.int32),
        }
        # memos, groups, rows, root lists stored (`_memo_kernels.build_memos` updates them)
        self._counters = np.zeros(4, dtype=np.int64)
        self._publish()

    def _publish(self) -> None:
        """A new snapshot of the current generation's arrays (only when they are replaced:
        inserts write in place past what readers use)."""
        self._snapshot = MemoArrays(*(self._arrays[name] for name in _FIELDS))
        self._array_args = tuple(
            self._arrays[name] for name in _memo_kernels.NEEDED_FIELDS
        )  # `build_memos` order
        self._nbytes = sum(int(array.nbytes) for array in self._arrays.values())

    @property
    def nbytes(self) -> int:
        """Bytes of the published arrays (summed when a snapshot is published, read per mask)."""
        return self._nbytes

    @property
    def num_memos(self) -> int:
        return int(self._counters[0])

    def arrays(self) -> MemoArrays:
        return self._snapshot

    def start_mask(self) -> None:
        """Called before each mask: past ``max_bytes``, drop the memo (never inside a mask)."""
        if self.nbytes > self.max_bytes:
            with self._lock:
                if self.nbytes > self.max_bytes:
                    self._reset()

    def build(self, keys: list[tuple[int, int]], slots: SlotArrays, deadline: float = math.inf) -> int:
        """Memoise the ``(signature, root list code)`` of ``keys`` not memoised yet (one walk each).

        ``slots``: the `TerminalTokenTable` snapshot the odd codes (initial completion points)
        refer to.  Stops once ``time.perf_counter()`` passes ``deadline`` (checked between
        chunks of `_memo_kernels.build_memos` calls, `MEMO_SECONDS_PER_CALL`); returns how many
        of ``keys`` (a prefix) are memoised.
        """
        with self._lock:
            started = time.perf_counter()
            deadline = min(deadline, started + self.build_seconds_left)
            done = 0
            try:
                while done < len(keys):
                    now = time.perf_counter()
                    if now > deadline:
                        return done
                    budget = min(deadline - now, MEMO_SECONDS_PER_CALL)
                    chunk = keys[done : done + max(1, int(budget / self._seconds_per_memo))]
                    chunk_started = now
                    self._build_chunk(chunk, slots)
                    spent = time.perf_counter() - chunk_started
                    self._seconds_per_memo = 0.5 * self._seconds_per_memo + 0.5 * spent / len(chunk)
                    done += len(chunk)
            finally:
                spent = time.perf_counter() - started
                self.build_seconds_left -= spent
                self.build_credit = max(0.0, self.build_credit - spent)
        return len(keys)

    def _build_chunk(self, keys: list[tuple[int, int]], slots: SlotArrays) -> None:
        """`_memo_kernels.build_memos` over ``keys``, growing the arrays (a new generation)
        whenever the kernel stops for room."""
        shift = _kernels.JOB_SHIFT
        memo_keys = np.array([(signature << shift) | code for signature, code in keys], dtype=np.int64)
        sets = self.index.arrays()  # holds every signature of ``keys`` (made before any job)
        needed = self._needed_scratch
        start = 0
        while True:
            start += int(
                _memo_kernels.build_memos(
                    memo_keys[start:], sets.sig_state_offsets, sets.sig_states, slots.byte_offsets, slots.byte_nodes,
                    *self._walk_args, self._row, self.row_tokens, self._counters, needed, *self._array_args,
                )
            )  # fmt: skip
            if start == len(keys):
                return
            self._new_generation(dict(zip(_memo_kernels.NEEDED_FIELDS, needed.tolist(), strict=True)))

    def earn(self, walk_seconds: float) -> None:
        """Credit ``walk_seconds`` of frontier walks that memos would have saved (ski rental).

        Building a memo pays off only if its contexts come back: a grammar compiled for one
        short output (a MaskBench schema, a tool call) would spend more building than it
        ever saves.  So a grammar builds memos only with the time it has already spent
        walking for lack of them (times `EARN_RATE`): within a small factor of the best choice
        made knowing the future, and long-lived grammars still get their memos.
        """
        # A race loses a little credit: speed only, never a mask.
        self.build_credit += EARN_RATE * walk_seconds

    def _start_nodes(self, signature: int, code: int, slots: SlotArrays) -> np.ndarray:
        """The start nodes of root list ``code`` under ``signature`` (see `_kernels.fill_mask_jobs`):
        `_memo_kernels.slot_start_nodes` for an initial slot, a group's nodes."""
        if code & 1:
            return _memo_kernels.slot_start_nodes(
                code >> 1, np.ascontiguousarray(self.index.signature_states(signature), dtype=np.int32),
                self.tables.transitions, slots.byte_offsets, slots.byte_nodes, *self.children,
            )  # fmt: skip
        offsets, group = self._arrays["group_node_offsets"], code >> 1
        return self._arrays["node_pool"][offsets[group] : offsets[group + 1]]

    def _start_nodes_reference(self, signature: int, code: int, slots: SlotArrays) -> np.ndarray:
        """Pure-Python `_start_nodes`: per byte some entry of ``signature`` reads first, the
        children on it of the slot's completion points that have one."""
        if not code & 1:
            return self._start_nodes(signature, code, slots)
        slot, children = code >> 1, self.children
        first_bytes = np.flatnonzero(
            (self.tables.transitions[self.index.signature_states(signature)] >= 0).any(axis=0)
        )
        found: list[int] = []
        for byte in first_bytes.tolist():
            at = slot * 257 + byte
            for m in slots.byte_nodes[slots.byte_offsets[at] : slots.byte_offsets[at + 1]].tolist():
                positions = range(children.offsets[m + 1], children.offsets[m + 2])
                found.extend(int(children.nodes[p]) for p in positions if children.bytes[p] == byte)
        return np.unique(np.array(found, dtype=np.int32))

    def _walk(
        self, signature: int, code: int, slots: SlotArrays
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(tokens, group entries, group node offsets, group nodes)`` of one memo
        (`_memo_kernels.memo_walk`, which `build_memos` calls per key; here for the tests)."""
        trie, tables, children = self.trie, self.tables, self.children
        return _memo_kernels.memo_walk(
            tables.transitions, tables.accepting, tables.longest_states, trie.node_byte, trie.node_depth, trie.node_end,
            trie.token_offsets, trie.token_ids, trie.max_depth, children.offsets, children.bytes,
            children.nodes, np.ascontiguousarray(self.index.signature_states(signature), dtype=np.int32),
            np.ascontiguousarray(self._start_nodes(signature, code, slots), dtype=np.int32), self._row,
        )  # fmt: skip

    def _walk_reference(
        self, signature: int, code: int, slots: SlotArrays
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pure-Python specification of `_walk`: the start nodes of each byte walked on their
        own (`_kernels.walk_subtrees`, each start node's subtree apart, overlaps read again),
        the results merged."""
        trie, tables = self.trie, self.tables
        children = self.children
        below = self._start_nodes_reference(signature, code, slots)
        entry_states = self.index.signature_states(signature)
        row = self._row
        point_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for start_byte in np.unique(trie.node_byte[below]).tolist():
            starts = below[trie.node_byte[below] == start_byte]
            stepped = tables.transitions[entry_states, start_byte]
            live = np.flatnonzero(stepped >= 0).astype(np.int32)
            if live.shape[0] == 0:
                continue
            states = np.ascontiguousarray(stepped[live], dtype=np.int32)
            found_nodes, found_entries, found_states = walk_with_completions(
                tables.transitions, tables.accepting, trie, states, starts, row
            )
            own = trie.token_ids[
                _concatenated_ranges(trie.token_offsets[starts], trie.token_offsets[starts + 1])
            ]
            set_token_bits(row, own)  # live at the start node
            # Completion points: found by the walk below each start node, plus the start nodes.
            inner = children.offsets[starts + 2] > children.offsets[starts + 1]
            ends = tables.accepting[states]
            point_parts.append((found_nodes, live[found_entries], found_states))
            point_parts.append(
                (
                    np.repeat(starts[inner], int(ends.sum())),
                    np.tile(live[ends], int(inner.sum())),
                    np.tile(states[ends], int(inner.sum())),
                )
            )
        if not point_parts:
            empty = np.zeros(0, dtype=np.int32)
            return empty, empty, np.zeros(1, dtype=np.int64), empty
        candidates = trie.token_ids[
            _concatenated_ranges(trie.token_offsets[below], trie.token_offsets[trie.node_end[below]])
        ]
        words = candidates >> 5
        tokens = candidates[((row[words] >> (candidates & 31).astype(np.uint32)) & 1).astype(bool)]
        _, first_seen = np.unique(tokens, return_index=True)  # nested roots list a token again
        tokens = tokens[np.sort(first_seen)]
        row[words] = 0  # the scratch row is zero again
        point_nodes, point_entries, point_states = (
            np.concatenate(part) for part in zip(*point_parts, strict=True)
        )
        groups = _groups(point_nodes.astype(np.int32), point_entries, point_states, children, tables)
        return (tokens.astype(np.int32), *groups)

    def _insert_reference(
        self,
        key: int,
        tokens: np.ndarray,
        groups: np.ndarray,
        node_offsets: np.ndarray,
        nodes: np.ndarray,
    ) -> None:
        """Append one memo in numpy passes: the specification of the insert half of
        `_memo_kernels.build_memos` (codes, room, `append_memo`, the root table)."""
        arrays = self._arrays
        memo, num_groups, num_rows = (int(count) for count in self._counters[:3])
        as_row = tokens.shape[0] > self.row_tokens
        token_first = int(arrays["memo_token_offsets"][memo])
        token_stop = token_first + (0 if as_row else tokens.shape[0])
        group_stop = num_groups + groups.shape[0]
        codes, kept = self._group_codes_reference(num_groups, groups, node_offsets, nodes)
        kept_counts = np.where(kept, np.diff(node_offsets), 0)
        node_first = int(arrays["group_node_offsets"][num_groups])
        kept_offsets = node_first + np.concatenate(([0], np.cumsum(kept_counts))).astype(np.int64)
        node_stop = int(kept_offsets[-1])
        needed = self._needed(tokens, groups, node_offsets, kept)
        if any(arrays[name].shape[0] < size for name, size in needed.items()):
            arrays = self._new_generation(needed)
        if as_row:
            row = arrays["memo_rows"][num_rows]
            row[:] = 0
            set_token_bits(row, tokens)
            arrays["memo_row"][memo] = num_rows
        else:
            arrays["token_pool"][token_first:token_stop] = tokens
            arrays["memo_row"][memo] = -1
        arrays["memo_token_offsets"][memo + 1] = token_stop
        arrays["group_entry"][num_groups:group_stop] = groups
        arrays["group_code"][num_groups:group_stop] = codes
        arrays["group_node_offsets"][num_groups + 1 : group_stop + 1] = kept_offsets[1:]
        arrays["node_pool"][node_first:node_stop] = nodes[np.repeat(kept, np.diff(node_offsets))]
        arrays["memo_group_offsets"][memo + 1] = group_stop
        _probe_insert(arrays["table_keys"], arrays["table_values"], key, memo)
        for g in np.flatnonzero(kept).tolist():
            roots = nodes[node_offsets[g] : node_offsets[g + 1]]
            _probe_insert(
                arrays["root_keys"], arrays["root_groups"], root_list_hash_reference(roots),
                num_groups + g,
            )  # fmt: skip
        self._counters[:] = (
            memo + 1,
            group_stop,
            num_rows + (1 if as_row else 0),
            self._counters[3] + kept.sum(),
        )

    def _needed(
        self, tokens: np.ndarray, groups: np.ndarray, node_offsets: np.ndarray, kept: np.ndarray
    ) -> dict[str, int]:
        """The sizes every array needs for one more memo: the specification of
        `_memo_kernels._needed_sizes`, which `build_memos` checks before writing a memo."""
        arrays, memo, num_groups = self._arrays, self.num_memos, int(self._counters[1])
        as_row = tokens.shape[0] > self.row_tokens
        token_stop = int(arrays["memo_token_offsets"][memo]) + (0 if as_row else tokens.shape[0])
        group_stop = num_groups + groups.shape[0]
        kept_nodes = int(np.diff(node_offsets)[kept].sum())
        node_stop = int(arrays["group_node_offsets"][num_groups]) + kept_nodes
        root_lists = 2 * (int(self._counters[3]) + int(kept.sum())) + 1
        return {
            "table_keys": 2 * (memo + 1) + 1,
            "table_values": 2 * (memo + 1) + 1,
            "memo_row": memo + 1,
            "memo_token_offsets": memo + 2,
            "token_pool": token_stop,
            "memo_rows": int(self._counters[2]) + (1 if as_row else 0),
            "memo_group_offsets": memo + 2,
            "group_entry": group_stop,
            "group_code": group_stop,
            "group_node_offsets": group_stop + 1,
            "node_pool": node_stop,
            "root_keys": root_lists,
            "root_groups": root_lists,
        }

    def _group_codes_reference(
        self, num_groups: int, groups: np.ndarray, node_offsets: np.ndarray, nodes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(group_code, kept)`` of new groups ``num_groups ..``: the first group (stored, or
        earlier in this memo) with the same nodes, and whether that is the group itself
        (only those keep their nodes: `_start_nodes` reads a root list through its code).  A linear
        scan: the specification of the root table of `_memo_kernels.build_memos`."""
        arrays = self._arrays
        stored_offsets, pool = arrays["group_node_offsets"], arrays["node_pool"]
        known = [
            (pool[stored_offsets[g] : stored_offsets[g + 1]].tobytes(), g)
            for g in range(num_groups)
            if arrays["group_code"][g] == g
        ]
        codes = np.empty(groups.shape[0], dtype=np.int32)
        kept = np.zeros(groups.shape[0], dtype=bool)
        for g in range(groups.shape[0]):
            roots = nodes[node_offsets[g] : node_offsets[g + 1]].tobytes()
            code = next((group for content, group in known if content == roots), None)
            if code is None:
                code = num_groups + g
                kept[g] = True
                known.append((roots, code))
            codes[g] = code
        return codes, kept

    def _new_generation(self, needed: dict[str, int]) -> dict[str, np.ndarray]:
        """Copies of every array, each with room for ``needed`` (doubling); the hash tables are rehashed."""
        old = self._arrays
        arrays: dict[str, np.ndarray] = {}
        for name, array in old.items():
            size = array.shape[0]
            while size < needed[name]:
                size *= 2
            if name in _HASH_TABLES:
                arrays[name] = (
                    np.full(size, -1, dtype=np.int64) if name.endswith("keys") else np.zeros(size, np.int32)
                )
                continue
            grown = np.zeros((size, *array.shape[1:]), dtype=array.dtype)
            grown[: array.shape[0]] = array
            arrays[name] = grown
        _memo_kernels.rehash_table(
            old["table_keys"], old["table_values"], arrays["table_keys"], arrays["table_values"]
        )
        _memo_kernels.rehash_root_lists(
            int(self._counters[1]), arrays["group_code"], arrays["group_node_offsets"],
            arrays["node_pool"], arrays["root_keys"], arrays["root_groups"],
        )  # fmt: skip
        self._arrays = arrays
        self._publish()
        return arrays


_HASH_TABLES = ("table_keys", "table_values", "root_keys", "root_groups")


def _probe_insert(keys: np.ndarray, values: np.ndarray, key: int, value: int) -> None:
    """Store ``key -> value`` in an open-addressing table (linear probing from `_kernels.hash_slot`)."""
    size = keys.shape[0]
    at = _kernels.hash_slot(key, size - 1)
    while keys[at] >= 0:
        at = (at + 1) & (size - 1)
    values[at] = value
    keys[at] = key  # last: a reader that sees the key sees its data


def root_list_hash_reference(nodes: np.ndarray) -> int:
    """Pure-Python `_memo_kernels._root_list_hash` (64-bit wrapping arithmetic by masking)."""
    mask = (1 << 64) - 1
    multiplier = int(_memo_kernels._ROOT_HASH_MULTIPLIER) & mask
    value = 1
    for node in nodes.tolist():
        value = ((value ^ node) * multiplier) & mask
    signed = value - (1 << 64) if value >= 1 << 63 else value
    return (signed ^ (signed >> 29)) & 0x7FFFFFFFFFFFFFFF


def _concatenated_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """``concatenate([arange(a, b) for a, b in zip(starts, stops)])`` (int64), vectorised."""
    starts, stops = starts.astype(np.int64), stops.astype(np.int64)
    counts = stops - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(firsts - starts, counts)


def _groups(
    nodes: np.ndarray, entries: np.ndarray, states: np.ndarray, children: TrieChildren, tables: GrammarTables
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Completion points ``(node, entry)`` (``states``: the DFA state there) grouped by entry,
    as the children of their nodes: one group per entry, each child once; a child whose byte
    extends a longest-match terminal (`longest_match`) follows no end of it.

    Returns ``(group entries int32 [G], node offsets int64 [G + 1], start nodes int32)``.
    """
    positions = _concatenated_ranges(children.offsets[nodes + 1], children.offsets[nodes + 2])
    counts = children.offsets[nodes + 2] - children.offsets[nodes + 1]
    child_bytes = children.bytes[positions].astype(np.int32)
    child_nodes = children.nodes[positions].astype(np.int64)
    point_entries = np.repeat(entries, counts).astype(np.int64)
    point_states = np.repeat(states, counts)
    ends = ~(
        tables.longest_states[point_states]
        & extends_match(tables.transitions, tables.accepting, point_states, child_bytes)
    )
    keys = np.unique((point_entries[ends] << 32) | child_nodes[ends])  # sorted by (entry, node), each once
    group_entries = (keys >> 32).astype(np.int32)
    start_nodes = (keys & 0xFFFFFFFF).astype(np.int32)
    total = keys.shape[0]
    if total:
        starts = np.concatenate(([0], np.flatnonzero(np.diff(group_entries) != 0) + 1)).astype(np.int64)
    else:
        starts = np.zeros(0, dtype=np.int64)
    return group_entries[starts], np.append(starts, total).astype(np.int64), start_nodes
