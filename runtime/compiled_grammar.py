"""Compiled grammars: the immutable, shareable result of compilation; `matcher()` makes per-sequence state.

`CompiledGrammar` is the abstract base every constraint kind shares (vocabulary, source
description, compile statistics, `matcher()`).  `DFAGrammar` is the regular case: a
`ByteDFA` plus its `TokenIndex`, matched by `DFAMatcher`.  Grammar-based kinds (CFG, JSON
Schema) subclass `CompiledGrammar` with their own matcher.

Instances are never mutated after construction, so one compiled grammar may serve any
number of threads, each with its own matchers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.token_index.index import TokenIndex
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.matcher import Matcher


class CompiledGrammar(ABC):
    """A constraint compiled against one vocabulary.  Immutable and thread-safe."""

    def __init__(self, vocab: Vocabulary, source: str, stats: dict[str, Any]) -> None:
        self._vocab = vocab
        self._source = source
        self._stats = dict(stats)

    @property
    def vocab(self) -> Vocabulary:
        return self._vocab

    @property
    def source(self) -> str:
        """What was compiled, for messages and logs (e.g. ``"regex: \\d+"``)."""
        return self._source

    @property
    def stats(self) -> dict[str, Any]:
        """Compile statistics (``compile_seconds``, ``num_states``, ``index_bytes`` ...); a copy."""
        return dict(self._stats)

    @abstractmethod
    def matcher(self) -> Matcher:
        """A fresh matcher at the start state."""

    def __repr__(self) -> str:
        source = self._source if len(self._source) <= 60 else self._source[:57] + "..."
        return f"{type(self).__name__}({source!r}, vocab={self._vocab.name!r})"


class DFAGrammar(CompiledGrammar):
    """A regular constraint: a `ByteDFA` and its `TokenIndex`.

    Besides the two, it precomputes the plain-Python views the matcher's per-token work
    reads (``state_row`` as a list, rows as a list of views, a flat transition memoryview),
    because Python-level indexing of those is several times faster than of numpy arrays.
    """

    def __init__(
        self, dfa: ByteDFA, index: TokenIndex, vocab: Vocabulary, source: str, stats: dict[str, Any]
    ) -> None:
        if index.num_states != dfa.num_states or index.vocab_size != vocab.size:
            raise ValueError("token index does not match the DFA / vocabulary")
        super().__init__(vocab, source, stats)
        self.dfa = dfa
        self.index = index
        self.words = index.words
        self.state_row: list[int] = index.state_row.tolist()
        self.row_views: list[np.ndarray] = list(index.rows)
        self.transitions_flat = (
            memoryview(np.ascontiguousarray(dfa.transitions, dtype=np.int32)).cast("B").cast("i")
        )
        self.accepting: list[bool] = dfa.accepting.tolist()
        self.token_bytes = vocab.token_bytes
        self.eos_ids = vocab.eos_ids
        eos_row = np.zeros(self.words, dtype=np.uint32)
        for token_id in vocab.eos_ids:
            eos_row[token_id >> 5] |= np.uint32(1 << (token_id & 31))
        self.eos_row = eos_row.view(np.int32)
        self.eos_row.setflags(write=False)
        self.single_live_byte: list[int] = _single_live_byte(dfa).tolist()

    def matcher(self) -> Matcher:
        from automask.runtime.dfa_matcher import DFAMatcher

        return DFAMatcher(self)


def _single_live_byte(dfa: ByteDFA) -> np.ndarray:
    """int32 ``[num_states]``: the only non-DEAD byte out of a state, or -1 if there are 0 or several."""
    live = dfa.transitions != DEAD
    count = live.sum(axis=1)
    first = live.argmax(axis=1).astype(np.int32)
    return np.where(count == 1, first, -1).astype(np.int32)
