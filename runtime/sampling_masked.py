"""Locally constrained decoding done right: mask first, then temperature / top-k / top-p,
renormalised exactly over the allowed tokens; greedy; constrained beam search.

Order of operations for one step (``logits`` float ``[V]``):

1. refused tokens get probability 0 (the matcher's mask);
2. ``logits / temperature``, softmax over the allowed tokens only;
3. top-k keeps the ``k`` most probable *allowed* tokens (a refused token never uses a slot);
4. top-p keeps the smallest set of allowed tokens, most probable first, whose mass reaches
   ``p`` (the boundary token included);
5. the survivors are renormalised to sum to 1.

This is the *locally* constrained distribution: it guarantees validity but not the
distribution P(w | w in L) (see `automask.runtime.asap` and `automask.runtime.smc`).
Randomness always comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from automask.runtime.sampling_common import (
    NextTokenModel,
    allowed_mask,
    as_next_token_model,
    decode_text,
    encode,
    to_numpy_logits,
)

if TYPE_CHECKING:
    from automask.runtime.compiled_grammar import CompiledGrammar
    from automask.runtime.matcher import Matcher


def constrained_distribution(
    logits: Any,
    matcher_or_mask: Matcher | np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """Next-token probabilities float64 ``[V]``: zero outside the allowed (and kept) tokens.

    ``matcher_or_mask`` is a matcher or a bool mask ``[V]``.  ``logits`` may be wider than
    ``V`` (padded model columns are dropped).  Raises ValueError when no allowed token has a
    finite logit (the model puts no mass on the language).
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0 (use greedy_token for temperature 0)")
    if top_k is not None and top_k < 1:
        raise ValueError("top_k must be >= 1")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError("top_p must be in (0, 1]")
    mask = matcher_or_mask if isinstance(matcher_or_mask, np.ndarray) else allowed_mask(matcher_or_mask)
    values = to_numpy_logits(logits)[: mask.size] / temperature
    allowed = np.flatnonzero(mask & np.isfinite(values))
    if allowed.size == 0:
        raise ValueError("no allowed token has a finite logit")
    sub = values[allowed]
    sub = np.exp(sub - sub.max())
    sub /= sub.sum()
    order = np.argsort(-sub, kind="stable")
    keep = order.size
    if top_k is not None:
        keep = min(keep, top_k)
    if top_p is not None:
        cumulative = np.cumsum(sub[order[:keep]])
        keep = min(keep, int(np.searchsorted(cumulative, top_p - 1e-12)) + 1)
    kept = order[:keep]
    probs = np.zeros(mask.size, dtype=np.float64)
    probs[allowed[kept]] = sub[kept] / sub[kept].sum()
    return probs


def sample_masked_token(
    logits: Any,
    matcher: Matcher,
    generator: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """One token from `constrained_distribution`."""
    probs = constrained_distribution(logits, matcher, temperature=temperature, top_k=top_k, top_p=top_p)
    support = np.flatnonzero(probs)
    return int(support[generator.choice(support.size, p=probs[support])])


def greedy_token(logits: Any, matcher: Matcher) -> int:
    """The allowed token with the largest logit (lowest id on ties)."""
    mask = allowed_mask(matcher)
    values = np.where(mask, to_numpy_logits(logits)[: mask.size], -np.inf)
    best = int(np.argmax(values))
    if not mask[best] or values[best] == -np.inf:
        raise ValueError("no allowed token has a finite logit")
    return best


@dataclass
class Beam:
    """A constrained beam-search hypothesis: generated ids (EOS excluded) and the LM
    log-prob of the ids followed by EOS."""

    token_ids: tuple[int, ...]
    log_prob: float
    text: str
    finished: bool


class MaskedSampler:
    """Locally constrained decoding over a model: sampling (batched), greedy and beam search.

    ``model`` is a Hugging Face causal LM (with ``tokenizer``) or any `NextTokenModel`.
    """

    def __init__(self, model: Any, tokenizer: Any, compiled: CompiledGrammar) -> None:
        self.compiled = compiled
        self.lm: NextTokenModel = as_next_token_model(model, tokenizer, compiled)
        self.eos_ids = compiled.vocab.eos_ids

    def sample_token_ids(
        self,
        prompt: str | Sequence[int],
        n: int = 1,
        max_tokens: int = 64,
        *,
        generator: np.random.Generator | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> list[tuple[int, ...] | None]:
        """``n`` independent samples as token ids (EOS excluded); ``None`` for a sample that
        ran out of ``max_tokens`` before EOS.  All live samples share one LM call per step."""
        rng = np.random.default_rng() if generator is None else generator
        prompt_ids = encode(self.lm, prompt)
        matchers = [self.compiled.matcher() for _ in range(n)]
        prefixes: list[list[int]] = [[] for _ in range(n)]
        done: list[bool] = [False] * n
        for _ in range(max_tokens + 1):
            live = [i for i in range(n) if not done[i]]
            if not live:
                break
            rows = self.lm.next_token_logprobs(prompt_ids, [prefixes[i] for i in live])
            for i, row in zip(live, rows, strict=True):
                token = sample_masked_token(
                    row, matchers[i], rng, temperature=temperature, top_k=top_k, top_p=top_p
                )
                matchers[i].consume_token(token)
                if token in self.eos_ids:
                    done[i] = True
                else:
                    prefixes[i].append(token)
        return [tuple(prefixes[i]) if done[i] else None for i in range(n)]

    def sample(
        self, prompt: str | Sequence[int], n: int = 1, max_tokens: int = 64, **kwargs: Any
    ) -> list[str]:
        """``n`` sampled texts (see `sample_token_ids`; incomplete samples are left out)."""
        ids = self.sample_token_ids(prompt, n, max_tokens, **kwargs)
        return [decode_text(self.compiled, t) for t in ids if t is not None]

    def greedy(self, prompt: str | Sequence[int], max_tokens: int = 64) -> str | None:
        """Greedy constrained decoding; ``None`` if ``max_tokens`` ran out before EOS."""
        prompt_ids = encode(self.lm, prompt)
        matcher = self.compiled.matcher()
        prefix: list[int] = []
        for _ in range(max_tokens + 1):
            row = self.lm.next_token_logprobs(prompt_ids, [prefix])[0]
            token = greedy_token(row, matcher)
            matcher.consume_token(token)
            if token in self.eos_ids:
                return decode_text(self.compiled, prefix)
            prefix.append(token)
        return None

    def beam_search(self, prompt: str | Sequence[int], beams: int = 4, max_tokens: int = 64) -> list[Beam]:
        """Constrained beam search ranking hypotheses by their LM log-probability.

        Each step expands every live beam by its allowed tokens (one batched LM call) and
        keeps the ``beams`` best; a hypothesis ending in EOS moves to the finished list.
        Stops when no live beam can beat the ``beams``-th finished one (log-probs only
        fall) or after ``max_tokens``.  Returns finished hypotheses, best first.
        """
        prompt_ids = encode(self.lm, prompt)
        live: list[tuple[tuple[int, ...], float, Matcher]] = [((), 0.0, self.compiled.matcher())]
        finished: list[Beam] = []
        for _ in range(max_tokens + 1):
            if not live:
                break
            rows = self.lm.next_token_logprobs(prompt_ids, [p for p, _, _ in live])
            candidates: list[tuple[float, tuple[int, ...], int, Matcher]] = []
            for (prefix, logp, matcher), row in zip(live, rows, strict=True):
                for token in matcher.allowed_token_ids().tolist():
                    if row[token] > -math.inf:
                        candidates.append((logp + float(row[token]), prefix, token, matcher))
            candidates.sort(key=lambda c: -c[0])
            live = []
            for score, prefix, token, matcher in candidates:
                if len(live) >= beams:
                    break
                if token in self.eos_ids:
                    finished.append(Beam(prefix, score, decode_text(self.compiled, prefix), True))
                    continue
                child = matcher.fork()
                child.consume_token(token)
                live.append((prefix + (token,), score, child))
            finished.sort(key=lambda b: -b.log_prob)
            del finished[beams:]
            if len(finished) >= beams and (not live or live[0][1] <= finished[-1].log_prob):
                break
        return finished
