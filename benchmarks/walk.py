"""Walking an example token by token: the per-step measurement every engine goes through.

At each step the engine fills a full-vocabulary bitmask (timed), the harness checks the next
token's bit, and the engine consumes the token (timed apart).  After the last token the mask is
filled once more and the EOS bit is checked ("EOS mask last"), so a walk of ``n`` tokens times
``n + 1`` masks when nothing is refused.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.engines.base import Engine


def bit_is_set(bitmask: np.ndarray, token_id: int) -> bool:
    """Whether token ``token_id`` is allowed in row 0 of an int32 bitmask."""
    if token_id >> 5 >= bitmask.shape[1]:
        return False
    return bool((int(bitmask[0, token_id >> 5]) >> (token_id & 31)) & 1)


def count_allowed(
    bitmask: np.ndarray, vocab_size: int, special_ids: np.ndarray, stop_ids: np.ndarray
) -> tuple[int, int]:
    """``(regular, stray)`` for row 0 of a bitmask.

    ``regular``: allowed tokens outside ``special_ids``; ``stray``: allowed special tokens that
    are not among the engine's ``stop_ids`` (EOS-like ids, legitimately allowed at the end).
    Bits past ``vocab_size`` are ignored.
    """
    bits = np.unpackbits(np.ascontiguousarray(bitmask[0]).view(np.uint8), bitorder="little")[:vocab_size]
    special = special_ids[special_ids < vocab_size]
    stray = np.setdiff1d(special, stop_ids)
    return int(bits.sum()) - int(bits[special].sum()), int(bits[stray].sum())


@dataclass
class WalkResult:
    """What happened on one walk.

    ``refused_at`` is the index of the first refused token, ``len(tokens)`` when only EOS was
    refused at the end, and None when every token and EOS were allowed.
    """

    num_tokens: int
    refused_at: int | None = None
    consume_disagreed: bool = False  # the mask allowed a token that `consume` then refused
    accepting_at_end: bool | None = None
    mask_ns: list[int] = field(default_factory=list)
    consume_ns: list[int] = field(default_factory=list)
    allowed_counts: list[int] = field(default_factory=list)  # regular tokens allowed, per mask
    special_allowed: int = 0  # most special tokens (stop tokens excepted) allowed by any one mask

    @property
    def accepted(self) -> bool:
        """Every token allowed and EOS allowed after the last one."""
        return self.refused_at is None

    def summary(self) -> dict[str, Any]:
        return {
            "tokens": self.num_tokens,
            "accepted": self.accepted,
            "refused_at": self.refused_at,
            "refused_eos_only": self.refused_at == self.num_tokens,
            "consume_disagreed": self.consume_disagreed,
            "accepting_at_end": self.accepting_at_end,
        }


def walk(
    engine: Engine,
    handle: Any,
    token_ids: Sequence[int],
    eos_id: int,
    *,
    special_ids: Sequence[int] | None = None,
    stop_ids: Sequence[int] = (),
) -> WalkResult:
    """Walk ``token_ids`` with a fresh matcher, then check EOS; stops at the first refusal.

    With ``special_ids`` (the tokenizer's control tokens) every mask is also counted: regular
    tokens allowed, and special tokens other than ``stop_ids`` allowed (which should be none).
    """
    matcher = engine.new_matcher(handle)
    bitmask = engine.allocate_bitmask()
    vocab_size = engine.vocab_size
    specials = None if special_ids is None else np.asarray(special_ids, dtype=np.int64)
    stops = np.asarray(stop_ids, dtype=np.int64)
    result = WalkResult(num_tokens=len(token_ids))

    def record_counts() -> None:
        if specials is not None:
            regular, special = count_allowed(bitmask, vocab_size, specials, stops)
            result.allowed_counts.append(regular)
            result.special_allowed = max(result.special_allowed, special)

    clock = time.perf_counter_ns
    fill_mask = engine.fill_mask
    consume = engine.consume
    for step, token_id in enumerate(token_ids):
        started = clock()
        fill_mask(matcher, bitmask)
        result.mask_ns.append(clock() - started)
        record_counts()
        if not bit_is_set(bitmask, token_id):
            result.refused_at = step
            return result
        started = clock()
        consumed = consume(matcher, token_id)
        result.consume_ns.append(clock() - started)
        if not consumed:
            result.refused_at = step
            result.consume_disagreed = True
            return result
    started = clock()
    fill_mask(matcher, bitmask)
    result.mask_ns.append(clock() - started)
    record_counts()
    result.accepting_at_end = engine.is_accepting(matcher)
    if not bit_is_set(bitmask, eos_id):
        result.refused_at = len(token_ids)
    return result
