"""`TokenIndex`: for every DFA state, the bitmask row of tokens allowed next.

Layout (immutable numpy):

- ``rows``: int32 ``[num_rows, words]`` -- *deduplicated* allowed-token rows in the
  `runtime.bitmask` layout (bit ``t % 32`` of word ``t // 32``), EOS bits set for
  accepting states, special and empty tokens never set.
- ``state_row``: int32 ``[num_states]`` -- the row of each DFA state.

A decoding step is then one row copy.  Per-token transitions are *not* stored: consuming a
token walks its few bytes through the `ByteDFA` instead.

Build (`build_token_index`):

1. A depth-first token trie over the vocabulary (`trie.build_token_trie`).
2. An ``L``-bounded state equivalence, ``L`` = longest token in bytes: two states whose
   sets of viable byte strings agree on all strings of length <= ``L`` allow the same
   tokens.  Moore refinement, starting from one class of live states, for at most ``L``
   rounds (stopping once stable), then split by acceptance (the EOS bits).  For
   ``[^"]{0,500}`` this leaves about ``L + 1`` classes per UTF-8 position state instead
   of one per repetition (llama3, ``L`` = 128: 1016 classes for 4001 states).
3. One trie walk per class (`_kernels.fill_allowed_rows`, which releases the GIL, so the
   classes of a chunk are split across threads), in chunks; identical rows are shared,
   and ``max_index_bytes`` is checked as the table grows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.token_index import _kernels
from automask.compiler.token_index.reference import allowed_rows_reference
from automask.compiler.token_index.trie import TokenTrie, token_trie
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.bitmask import bitmask_words

_CHUNK_BYTES = 16 << 20
"""Rows are computed this many bytes at a time, so memory is bounded before deduplication."""

_ROWS_PER_THREAD = 16
"""Fewer rows than this per extra thread are not worth a thread."""


def _worker_count(num_rows: int) -> int:
    """Threads for the trie walks: the usable CPUs, but only when there is enough work."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, num_rows // _ROWS_PER_THREAD))


@dataclass(frozen=True, eq=False)
class TokenIndex:
    """Allowed-token rows per DFA state (see the module docstring for the layout)."""

    state_row: np.ndarray
    rows: np.ndarray
    vocab_size: int
    num_classes: int

    def __post_init__(self) -> None:
        self.state_row.setflags(write=False)
        self.rows.setflags(write=False)

    @property
    def num_states(self) -> int:
        return int(self.state_row.shape[0])

    @property
    def num_rows(self) -> int:
        return int(self.rows.shape[0])

    @property
    def words(self) -> int:
        return int(self.rows.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays."""
        return int(self.rows.nbytes + self.state_row.nbytes)

    def row_of(self, state: int) -> np.ndarray:
        """The int32 bitmask row of ``state`` (a read-only view)."""
        return self.rows[self.state_row[state]]

    def allowed(self, state: int, token: int) -> bool:
        """Whether ``token`` is allowed at ``state``; ids outside the vocabulary never are."""
        if not 0 <= token < self.vocab_size:
            return False
        word = int(self.rows[self.state_row[state], token >> 5])
        return bool((word >> (token & 31)) & 1)


def refine_to_depth(transitions: np.ndarray, initial: np.ndarray, depth: int) -> np.ndarray:
    """int32 classes refining ``initial`` (class ids ``0 .. k-1``) by at most ``depth`` Moore
    rounds: equal iff equal initially and, for every string of at most ``depth`` bytes, both
    die or both reach equal classes (`_kernels.refine_partition` per round)."""
    # Bytes with identical columns behave identically; refine on distinct columns only.
    first_byte_of_column: dict[bytes, int] = {}
    for byte in range(transitions.shape[1]):
        first_byte_of_column.setdefault(transitions[:, byte].tobytes(), byte)
    columns = np.ascontiguousarray(transitions[:, sorted(first_byte_of_column.values())], dtype=np.int32)
    classes = np.ascontiguousarray(initial, dtype=np.int32)
    count = int(classes.max()) + 1 if classes.shape[0] else 0
    refined = np.empty_like(classes)
    for _ in range(depth):
        if count == classes.shape[0]:
            break
        new_count = _kernels.refine_partition(columns, classes, refined)
        classes, refined = refined, classes
        if new_count == count:
            break
        count = new_count
    return classes


def bounded_equivalence(dfa: ByteDFA, depth: int) -> np.ndarray:
    """int32 ``[num_states]`` class ids: equal iff same acceptance and same viable strings up to ``depth``.

    Classes are numbered ``0 .. k-1``.
    """
    classes = refine_to_depth(dfa.transitions, np.zeros(dfa.num_states, dtype=np.int32), depth)
    split = classes.astype(np.int64) * 2 + dfa.accepting.astype(np.int64)
    _, numbered = np.unique(split, return_inverse=True)
    return numbered.astype(np.int32).reshape(dfa.num_states)


class _RowTable:
    """Distinct rows in first-seen order, with the ``max_index_bytes`` limit enforced as it grows.

    Rows are bucketed by a cheap vectorised 64-bit hash and compared exactly within a bucket.
    """

    def __init__(self, words: int, num_states: int, limits: CompileLimits) -> None:
        self.rows: list[np.ndarray] = []
        self._by_hash: dict[int, list[int]] = {}
        self._words = words
        self._base_bytes = num_states * 4
        self._limits = limits
        # Odd multipliers, one per word, from a fixed seed (a hash, not randomness).
        self._multipliers = np.random.default_rng(0x5EED).integers(1, 2**63, size=words, dtype=np.uint64) | 1

    def add_all(self, rows: np.ndarray) -> list[int]:
        """Add uint32 ``rows [n, words]``; returns each row's index in the table."""
        with np.errstate(over="ignore"):
            hashes = (rows * self._multipliers).sum(axis=1, dtype=np.uint64).tolist()
        return [self._add(row, h) for row, h in zip(rows, hashes, strict=True)]

    def _add(self, row: np.ndarray, row_hash: int) -> int:
        candidates = self._by_hash.setdefault(row_hash, [])
        for index in candidates:
            if np.array_equal(self.rows[index], row):
                return index
        self._limits.check("max_index_bytes", self._base_bytes + (len(self.rows) + 1) * self._words * 4)
        candidates.append(len(self.rows))
        self.rows.append(row.copy())
        return len(self.rows) - 1

    def stacked(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, self._words), dtype=np.int32)
        return np.stack(self.rows).view(np.int32)


def _eos_words(vocab: Vocabulary, words: int) -> np.ndarray:
    eos = np.zeros(words, dtype=np.uint32)
    for token_id in vocab.eos_ids:
        eos[token_id >> 5] |= np.uint32(1 << (token_id & 31))
    return eos


def build_token_index(
    dfa: ByteDFA,
    vocab: Vocabulary,
    limits: CompileLimits = DEFAULT_LIMITS,
    *,
    use_reference: bool = False,
    trie: TokenTrie | None = None,
) -> TokenIndex:
    """Compute the allowed-token row of every state of ``dfa`` for ``vocab``.

    ``use_reference`` computes every state with the pure-Python per-token walk instead (slow;
    for tests).  ``trie`` may be passed to reuse one built for the same vocabulary.
    Raises `CompileLimitExceeded` (``max_index_bytes``) before the row table outgrows the limit.
    """
    words = bitmask_words(vocab.size)
    num_states = dfa.num_states
    limits.check("max_index_bytes", num_states * 4 + words * 4)
    table = _RowTable(words, num_states, limits)

    if use_reference:
        reference_rows = allowed_rows_reference(dfa, vocab).view(np.uint32)
        state_row = np.array(table.add_all(reference_rows), dtype=np.int32)
        return TokenIndex(state_row, table.stacked(), vocab.size, num_classes=num_states)

    if trie is None:
        trie = token_trie(vocab)
    classes = bounded_equivalence(dfa, trie.max_depth)
    num_classes = int(classes.max()) + 1 if num_states else 0
    _, representative = np.unique(classes, return_index=True)
    representative = representative.astype(np.int32)
    eos = _eos_words(vocab, words)
    transitions = np.ascontiguousarray(dfa.transitions, dtype=np.int32)
    class_row = np.empty(num_classes, dtype=np.int32)
    chunk = max(1, _CHUNK_BYTES // (words * 4))
    trie_arrays = (trie.node_byte, trie.node_depth, trie.node_end, trie.token_offsets, trie.token_ids)
    workers = _worker_count(num_classes)
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        for begin in range(0, num_classes, chunk):
            starts = np.ascontiguousarray(representative[begin : begin + chunk])
            out = np.zeros((len(starts), words), dtype=np.uint32)
            # The kernel releases the GIL: split the rows of the chunk across threads.
            bounds = np.linspace(0, len(starts), min(workers, len(starts)) + 1).astype(int)
            jobs = [
                (transitions, starts[a:b], *trie_arrays, trie.max_depth, out[a:b])
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                if b > a
            ]
            if pool is None:
                for job in jobs:
                    _kernels.fill_allowed_rows(*job)
            else:
                list(pool.map(lambda job: _kernels.fill_allowed_rows(*job), jobs))
            out[dfa.accepting[starts]] |= eos
            class_row[begin : begin + len(starts)] = table.add_all(out)
    state_row = class_row[classes] if num_states else np.zeros(0, dtype=np.int32)
    return TokenIndex(
        np.ascontiguousarray(state_row, dtype=np.int32), table.stacked(), vocab.size, num_classes
    )
