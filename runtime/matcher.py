"""The `Matcher` interface: one per generated sequence, driven once per decoding step.

Every constraint kind (regex, CFG, JSON Schema) exposes this same API, shaped like
xgrammar's and llguidance's so that serving engines can swap automask in:

    m.fill_next_token_bitmask(bitmask, row)   # int32 words, bit j%32 of word j//32 = token j allowed
    m.consume_token(t) -> bool                # False and unchanged if t is not allowed
    m.validate_tokens(ids) -> int             # length of the allowed prefix, state unchanged
    m.rollback(n); m.fork(); m.reset(); m.is_accepting(); m.is_terminated()
    m.forced_bytes(); m.forced_tokens()       # jump-forward text

EOS is allowed exactly when the output so far is a complete word; consuming it terminates
the matcher.  A terminated matcher allows only EOS again (so finished rows of a batch can
keep emitting it) and `rollback` can un-terminate it.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class Matcher(ABC):
    """Per-sequence constraint state.  Not thread-safe; fork one per sequence instead."""

    @abstractmethod
    def fill_next_token_bitmask(self, bitmask, row: int = 0) -> None:
        """Write the allowed-token bits for the next step into ``bitmask[row]``.

        ``bitmask`` is an int32 array or tensor ``[batch, ceil(V/32)]`` (numpy or a CPU torch
        tensor; for CUDA fill a CPU mask and copy).  Words past the vocabulary are zeroed.
        """

    @abstractmethod
    def accepts_token(self, token_id: int) -> bool:
        """Whether ``token_id`` is allowed next (a single check, no full mask)."""

    @abstractmethod
    def consume_token(self, token_id: int) -> bool:
        """Advance by one token.  Returns False, leaving the state unchanged, if it is not allowed."""

    def consume_tokens(self, token_ids: Sequence[int]) -> int:
        """Consume tokens until one is refused; returns how many were consumed."""
        for n, t in enumerate(token_ids):
            if not self.consume_token(int(t)):
                return n
        return len(token_ids)

    def validate_tokens(self, token_ids: Sequence[int]) -> int:
        """Length of the longest allowed prefix of ``token_ids``; the state is left unchanged."""
        n = self.consume_tokens(token_ids)
        self.rollback(n)
        return n

    @abstractmethod
    def rollback(self, num_tokens: int) -> None:
        """Undo the last ``num_tokens`` consumed tokens (EOS included)."""

    @abstractmethod
    def fork(self) -> Matcher:
        """An independent copy sharing the immutable compiled data (cheap)."""

    @abstractmethod
    def reset(self) -> None:
        """Back to the start state with an empty history."""

    @abstractmethod
    def is_accepting(self) -> bool:
        """Whether the output so far is a complete word (EOS would be allowed)."""

    @abstractmethod
    def is_terminated(self) -> bool:
        """Whether EOS has been consumed."""

    @abstractmethod
    def forced_bytes(self) -> bytes:
        """The bytes every continuation must start with (empty if there is a choice or EOS is allowed)."""

    @abstractmethod
    def forced_tokens(self) -> list[int]:
        """Tokens spelling a prefix of `forced_bytes`, each allowed in turn (for jump-forward decoding)."""

    @property
    @abstractmethod
    def num_consumed(self) -> int:
        """How many tokens have been consumed (the rollback horizon)."""

    def allowed_token_ids(self) -> np.ndarray:
        """Allowed token ids as an int array (convenience for tests and samplers; uses the full mask)."""
        from automask.runtime.bitmask import allocate_numpy_bitmask, bitmask_to_token_ids

        vocab_size = self.vocab_size
        bm = allocate_numpy_bitmask(1, vocab_size)
        self.fill_next_token_bitmask(bm, 0)
        return bitmask_to_token_ids(bm[0], vocab_size)

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...


class HistoryMatcher(Matcher):
    """A matcher whose state is one immutable value, plus the value before each consumed token.

    Rolling back restores an earlier value, forking copies the (short) list of values, and the
    compiled grammar is shared.  Subclasses say where a sequence starts (`_start_state`) and
    advance with `_advance`; the matchers of every constraint kind keep their state this way.
    """

    def __init__(self, grammar) -> None:
        self._grammar = grammar
        self._state = self._start_state()
        self._history: list = []

    @abstractmethod
    def _start_state(self):
        """The state of an empty output."""

    def _advance(self, new_state) -> None:
        self._history.append(self._state)
        self._state = new_state

    def rollback(self, num_tokens: int) -> None:
        if num_tokens < 0 or num_tokens > len(self._history):
            raise ValueError(f"cannot roll back {num_tokens} tokens; {len(self._history)} consumed")
        if num_tokens:
            self._state = self._history[-num_tokens]
            del self._history[-num_tokens:]

    def fork(self):
        twin = copy.copy(self)
        twin._history = self._history.copy()
        return twin

    def reset(self) -> None:
        self._state = self._start_state()
        self._history.clear()

    @property
    def num_consumed(self) -> int:
        return len(self._history)

    @property
    def vocab_size(self) -> int:
        return self._grammar.vocab.size
