"""`CFGGrammar` (a compiled context-free constraint) and its per-sequence `CFGMatcher`.

The compiled part (`CFGGrammar`, immutable, shareable across threads): the integer grammar
tables with the stacked terminal DFAs (`compiler.cfg.tables`) and the per-DFA-state token
rows / completion points over the vocabulary trie (`compiler.cfg.token_walk`, filled lazily
from the vocabulary's shared `compiler.cfg.terminal_cache`).

The matcher's state is a persistent `ParseState` (`compiler.cfg.earley`): consuming a token
steps its bytes one at a time through the lexer entries and the Earley parser, producing a
new immutable state; ``history`` keeps the state before each consumed token, so
``rollback(n)`` restores ``history[-n]`` and ``fork`` copies a list of references.

Shared by all matchers of a grammar (both thread-safe, both caches only):

- the `EarleyEngine`, whose memo makes Earley sets canonical (equal parse contexts are the
  same objects), so a state's ``entries`` tuple identifies everything its mask depends on;
- the `SubtreeMemo`: what an Earley set's lexer entries read below trie nodes, keyed by the
  set's lexer signature (context free), so a new context reuses the subtree walks of similar
  ones (`compiler.cfg.subtree_memo`);
- the *mask cache*: ``entries`` -> the regular-token mask (uint32 ``[W]``, read-only, EOS
  excluded).  JSON-like grammars revisit few distinct contexts (inside a string at a given
  nesting, after ``,`` / ``:``), so most masks become one dict lookup and a row copy.
  Bounded by `CFGLimits.max_cached_masks` (cleared when full).

Termination follows `DFAMatcher`: consuming EOS (allowed exactly when the text so far is a
sentence) terminates; a terminated matcher allows only EOS again; rollback un-terminates.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from automask.compiler.cfg.earley import EarleyEngine, ParseState
from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.set_index import SetIndex
from automask.compiler.cfg.subtree_memo import SubtreeMemo
from automask.compiler.cfg.tables import GrammarTables
from automask.compiler.cfg.token_walk import JobScratch, TerminalTokenTable, fill_token_mask
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.bitmask import as_numpy_bitmask
from automask.runtime.compiled_grammar import CompiledGrammar
from automask.runtime.forced_text import greedy_tokens
from automask.runtime.matcher import HistoryMatcher


class CFGGrammar(CompiledGrammar):
    """A context-free constraint compiled against one vocabulary.

    The compiled tables are immutable; the shared caches (Earley sets, lowered sets, masks)
    only grow, are bounded by `CFGLimits`, and are safe to use from several threads.
    """

    def __init__(
        self,
        tables: GrammarTables,
        token_table: TerminalTokenTable,
        vocab: Vocabulary,
        source: str,
        stats: dict[str, Any],
        cfg_limits: CFGLimits,
    ) -> None:
        super().__init__(vocab, source, stats)
        self.tables = tables
        self.token_table = token_table
        self.cfg_limits = cfg_limits
        self.words = token_table.words
        self.token_bytes = vocab.token_bytes
        self.eos_ids = vocab.eos_ids
        self.special_ids = vocab.special_ids
        eos_row = np.zeros(self.words, dtype=np.uint32)
        for token_id in vocab.eos_ids:
            eos_row[token_id >> 5] |= np.uint32(1 << (token_id & 31))
        eos_row.setflags(write=False)
        self.eos_row = eos_row
        self.engine = EarleyEngine(tables, cfg_limits)
        self.initial_state = self.engine.initial_state()
        self.set_index = SetIndex(self.engine, cfg_limits.max_cached_sets)
        self.subtree_memo = SubtreeMemo(
            tables,
            token_table.trie,
            token_table.cache_children,
            self.words,
            self.set_index,
            cfg_limits.max_subtree_memo_bytes,
            cfg_limits.initial_memo_credit,
        )
        self._mask_cache: dict[tuple, np.ndarray] = {}
        self._scratch = threading.local()  # per-thread `JobScratch`

    def regular_token_mask(self, state: ParseState) -> np.ndarray:
        """The regular tokens allowed after ``state`` (uint32 ``[W]``, read-only; EOS not included)."""
        key = state.mask_key
        cache = self._mask_cache
        mask = cache.get(key)
        if mask is None:
            mask = np.zeros(self.words, dtype=np.uint32)
            self.fill_regular_token_mask(state, mask)
            mask.setflags(write=False)
            limit = self.cfg_limits.max_cached_masks
            if limit:
                if len(cache) >= limit:
                    cache.clear()
                cache[key] = mask
        return mask

    def fill_regular_token_mask(self, state: ParseState, out: np.ndarray) -> None:
        """OR the regular tokens allowed after ``state`` into ``out`` (uint32 ``[W]``), uncached.

        Where longest match holds back terminal ends until the next byte is known
        (`earley.HeldEnds`), the mask is a union of lexer-entry sets each cut to some first
        bytes (`EarleyEngine.mask_variants`); `token_walk.fill_token_mask` lowers them together."""
        scratch = getattr(self._scratch, "jobs", None)
        if scratch is None:
            scratch = self._scratch.jobs = JobScratch()
        fill_token_mask(
            self.set_index, self.token_table, self.subtree_memo, self.tables, state, out, scratch,
            self.cfg_limits.max_frontier_entries,
        )  # fmt: skip

    def matcher(self) -> CFGMatcher:
        return CFGMatcher(self)


_TERMINATED = None
"""History marker: the state after EOS."""


class CFGMatcher(HistoryMatcher):
    """Matcher over a `CFGGrammar`.  Not thread-safe: fork one per sequence."""

    _grammar: CFGGrammar

    def __init__(self, grammar: CFGGrammar) -> None:
        self._engine = grammar.engine
        super().__init__(grammar)  # state: a ParseState, None once terminated

    def _start_state(self) -> ParseState:
        return self._grammar.initial_state

    # -- masks --------------------------------------------------------------------------
    def fill_next_token_bitmask(self, bitmask, row: int = 0) -> None:
        grammar = self._grammar
        array = as_numpy_bitmask(bitmask)
        words = grammar.words
        if array.shape[1] < words:
            raise ValueError(f"bitmask has {array.shape[1]} words per row, the vocabulary needs {words}")
        state = self._state
        target = array[row]
        if state is None:
            target[:words] = grammar.eos_row.view(np.int32)
        else:
            if grammar.cfg_limits.max_cached_masks == 0 and target.flags.c_contiguous:
                target[:words] = 0  # no mask cache to fill: the kernel ORs straight into the row
                grammar.fill_regular_token_mask(state, target[:words].view(np.uint32))
            else:
                target[:words] = grammar.regular_token_mask(state).view(np.int32)
            if state.is_accepting:
                target[:words] |= grammar.eos_row.view(np.int32)
        if array.shape[1] > words:
            target[words:] = 0

    def _next_state(self, token_id: int) -> ParseState | None | bool:
        """The state after ``token_id``: a `ParseState`, ``None`` for EOS, ``False`` if refused."""
        grammar = self._grammar
        state = self._state
        if not 0 <= token_id < grammar.vocab.size:
            return False
        if token_id in grammar.eos_ids:
            return None if state is None or state.is_accepting else False
        if state is None or token_id in grammar.special_ids:
            return False
        data = grammar.token_bytes[token_id]
        if not data:
            return False
        following = self._engine.step_bytes(state, data)
        return False if following is None else following

    def accepts_token(self, token_id: int) -> bool:
        return self._next_state(token_id) is not False

    def is_accepting(self) -> bool:
        return self._state is None or self._state.is_accepting

    def is_terminated(self) -> bool:
        return self._state is None

    # -- advancing ----------------------------------------------------------------------
    def consume_token(self, token_id: int) -> bool:
        following = self._next_state(int(token_id))
        if following is False:
            return False
        self._advance(following)
        return True

    # -- jump-forward -------------------------------------------------------------------
    def forced_bytes(self) -> bytes:
        """Bytes every continuation starts with: follow the parser while the text is not a
        sentence and exactly one next byte is viable."""
        state = self._state
        out = bytearray()
        limit = self._grammar.cfg_limits.max_forced_bytes
        while state is not None and not state.is_accepting and len(out) < limit:
            live = self._engine.live_bytes(state)
            if len(live) != 1:
                break
            out.append(live[0])
            state = self._engine.step_byte(state, live[0])
        return bytes(out)

    def forced_tokens(self) -> list[int]:
        """Tokens spelling `forced_bytes` (greedy longest match, see `runtime.forced_text`)."""
        return greedy_tokens(self.forced_bytes(), self._grammar.vocab)
