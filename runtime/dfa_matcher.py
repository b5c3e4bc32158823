"""`DFAMatcher`: the per-sequence state of a regular constraint (`DFAGrammar`).

State: the current `ByteDFA` state (or ``TERMINATED`` once EOS was consumed) plus the list
of states before each consumed token, so ``rollback(n)`` restores ``history[-n]``, ``fork``
copies a short list and ``reset`` clears it.

Per step:

- `fill_next_token_bitmask` copies one precomputed row of the `TokenIndex`.
- `consume_token` tests the token's bit, then walks its bytes through the DFA (a few
  bytes; per-token transitions are deliberately not stored).

Termination: consuming an EOS id terminates the matcher.  A terminated matcher allows only
the EOS ids; consuming one again succeeds and is recorded like any token (so ``rollback``
and ``num_consumed`` stay consistent for finished rows of a batch that keep emitting EOS),
leaving it terminated.  Every other token is refused.  Rolling back past the first EOS
un-terminates it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from automask.runtime.bitmask import as_numpy_bitmask
from automask.runtime.forced_text import greedy_tokens
from automask.runtime.matcher import HistoryMatcher

if TYPE_CHECKING:
    from automask.runtime.compiled_grammar import DFAGrammar

TERMINATED = -2
"""Pseudo-state after EOS (never a DFA state, which are >= 0)."""


class DFAMatcher(HistoryMatcher):
    """Matcher over a `DFAGrammar`.  Not thread-safe: fork one per sequence."""

    _grammar: DFAGrammar

    def _start_state(self) -> int:
        return self._grammar.dfa.start

    # -- masks --------------------------------------------------------------------------
    def fill_next_token_bitmask(self, bitmask, row: int = 0) -> None:
        grammar = self._grammar
        array = as_numpy_bitmask(bitmask)
        words = grammar.words
        if array.shape[1] < words:
            raise ValueError(f"bitmask has {array.shape[1]} words per row, the vocabulary needs {words}")
        state = self._state
        source = grammar.eos_row if state == TERMINATED else grammar.row_views[grammar.state_row[state]]
        if array.shape[1] == words:
            array[row] = source
        else:
            target = array[row]
            target[:words] = source
            target[words:] = 0

    def accepts_token(self, token_id: int) -> bool:
        grammar = self._grammar
        state = self._state
        if state == TERMINATED:
            return token_id in grammar.eos_ids
        if not 0 <= token_id < grammar.index.vocab_size:
            return False
        word = int(grammar.row_views[grammar.state_row[state]][token_id >> 5])
        return bool((word >> (token_id & 31)) & 1)

    def is_accepting(self) -> bool:
        state = self._state
        return state == TERMINATED or self._grammar.accepting[state]

    def is_terminated(self) -> bool:
        return self._state == TERMINATED

    # -- advancing ----------------------------------------------------------------------
    def consume_token(self, token_id: int) -> bool:
        if not self.accepts_token(token_id):
            return False
        grammar = self._grammar
        if token_id in grammar.eos_ids:
            self._advance(TERMINATED)
            return True
        # The bit test guarantees the walk never meets DEAD.
        state = self._state
        table = grammar.transitions_flat
        for byte in grammar.token_bytes[token_id]:
            state = table[state * 256 + byte]
        self._advance(state)
        return True

    # -- jump-forward -------------------------------------------------------------------
    def forced_bytes(self) -> bytes:
        """Bytes every continuation starts with: follow the DFA while the state is not
        accepting and has exactly one live outgoing byte."""
        state = self._state
        if state == TERMINATED:
            return b""
        grammar = self._grammar
        single = grammar.single_live_byte
        accepting = grammar.accepting
        table = grammar.transitions_flat
        out = bytearray()
        # Every state is live, so such a chain cannot cycle; the bound is a safeguard.
        for _ in range(len(accepting)):
            byte = single[state]
            if accepting[state] or byte < 0:
                break
            out.append(byte)
            state = table[state * 256 + byte]
        return bytes(out)

    def forced_tokens(self) -> list[int]:
        """Tokens spelling `forced_bytes` (greedy longest match, see `runtime.forced_text`)."""
        return greedy_tokens(self.forced_bytes(), self._grammar.vocab)
