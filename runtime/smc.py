"""Sequential Monte Carlo over constrained generations, with AWRS proposals.

Target: the global constrained distribution P(w | prompt, w in L) over token sequences w
(ending with EOS, at most ``max_tokens`` tokens before it), whose normaliser is
P(L | prompt) = sum_{w in L} P(w EOS | prompt).

Each of N particles proposes its next token from the locally constrained distribution
p(t | w, t allowed) with `awrs_step`, and multiplies its weight by the step's estimate of the
local normaliser Z(w) = sum_{t allowed} p(t | w).  Because the proposal is p·a/Z, the
incremental importance weight p / (p·a/Z) is exactly Z; the AWRS estimate is unbiased and
conditionally independent of the proposed token given the rejections, so the particles
stay properly weighted.  When the effective sample size ESS = (sum w)^2 / sum w^2 falls
below ``ess_threshold * N`` the population is resampled (systematic resampling) and every
weight is set to the population's mean weight, which keeps
``log_z = log mean_i w_i`` at the end an unbiased estimate of P(L | prompt) (in the linear
domain).

``proposal="mask"`` draws from the same locally constrained distribution through a full
mask and weights by the exact Z instead (V checks per token, no estimator variance); with
automask's precomputed token masks that is cheap, and it isolates the estimator's share of
the weight variance.

EOS: a particle that draws EOS is finished (its weight then stays fixed); a particle still
running after ``max_tokens`` tokens gets weight 0 (it is outside the truncated language).

LM calls: one batched forward over all live particles per step (they all have the same
length, so no padding).  The Hugging Face adapter keeps the batch's key/value cache and,
since every particle extends a particle of the previous step by one token (resampling only
selects and repeats rows), runs one new token per particle per step (see
`HFNextTokenModel`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from automask.runtime.awrs import awrs_step
from automask.runtime.sampling_common import (
    NextTokenModel,
    as_next_token_model,
    decode_text,
    encode,
    log_mean_exp,
    logsumexp,
)

if TYPE_CHECKING:
    from automask.runtime.compiled_grammar import CompiledGrammar
    from automask.runtime.matcher import Matcher


@dataclass
class SMCResult:
    """The particle population at the end of a run.

    ``samples[i]`` is particle i's text, ``token_ids[i]`` its ids (EOS excluded),
    ``complete[i]`` whether it reached EOS (incomplete ones have weight ``-inf``),
    ``log_weights[i]`` its unnormalised log-weight; ``log_z`` is ``log mean exp`` of those,
    the estimate of log P(L | prompt).  ``posterior()`` gives normalised weights per text.
    """

    samples: list[str]
    token_ids: list[tuple[int, ...]]
    complete: list[bool]
    log_weights: np.ndarray
    log_z: float
    num_resamples: int = 0
    constraint_checks: int = 0
    num_tokens: int = 0
    lm_calls: int = 0
    ess_history: list[float] = field(default_factory=list)

    def normalised_weights(self) -> np.ndarray:
        total = logsumexp(self.log_weights)
        if total == -math.inf:
            return np.zeros(len(self.log_weights))
        return np.exp(self.log_weights - total)

    def posterior(self) -> dict[str, float]:
        """Normalised weight per distinct text (the SMC approximation of P(text | L))."""
        out: dict[str, float] = {}
        for text, w in zip(self.samples, self.normalised_weights().tolist(), strict=True):
            if w > 0:
                out[text] = out.get(text, 0.0) + w
        return out


class SMC:
    """``SMC(model, tokenizer, compiled, particles=16).run(prompt, max_tokens=64) -> SMCResult``.

    ``model`` is a Hugging Face causal LM (with its ``tokenizer``) or any `NextTokenModel`.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        compiled: CompiledGrammar,
        particles: int = 16,
        *,
        ess_threshold: float = 0.5,
        estimator_draws: int | str = 2,
        proposal: str = "awrs",
    ) -> None:
        if particles < 1:
            raise ValueError("particles must be >= 1")
        if not 0 <= ess_threshold <= 1:
            raise ValueError("ess_threshold must be in [0, 1]")
        if proposal not in ("awrs", "mask"):
            raise ValueError("proposal must be 'awrs' or 'mask'")
        self.proposal = proposal
        self.compiled = compiled
        self.lm: NextTokenModel = as_next_token_model(model, tokenizer, compiled)
        self.particles = particles
        self.ess_threshold = ess_threshold
        self.estimator_draws = estimator_draws

    def run(
        self,
        prompt: str | Sequence[int],
        max_tokens: int = 64,
        *,
        generator: np.random.Generator | None = None,
    ) -> SMCResult:
        rng = np.random.default_rng() if generator is None else generator
        prompt_ids = encode(self.lm, prompt)
        eos_ids = self.compiled.vocab.eos_ids
        n = self.particles
        matchers: list[Matcher] = [self.compiled.matcher() for _ in range(n)]
        prefixes: list[list[int]] = [[] for _ in range(n)]
        done = [False] * n
        log_w = np.zeros(n)
        result = SMCResult([], [], [], log_w, 0.0)
        for step in range(max_tokens + 1):
            live = [i for i in range(n) if not done[i] and log_w[i] > -math.inf]
            if not live:
                break
            rows = self.lm.next_token_logprobs(prompt_ids, [prefixes[i] for i in live])
            result.lm_calls += 1
            for i, row in zip(live, rows, strict=True):
                if self.proposal == "awrs":
                    token, log_z_hat, checks = awrs_step(
                        row, matchers[i], rng, estimator_draws=self.estimator_draws
                    )
                else:
                    token, log_z_hat, checks = _masked_step(row, matchers[i], rng)
                result.constraint_checks += checks
                result.num_tokens += 1
                log_w[i] += log_z_hat
                if token < 0:
                    continue  # weight is -inf: the model gives the language no mass here
                matchers[i].consume_token(token)
                if token in eos_ids:
                    done[i] = True
                elif step == max_tokens:
                    log_w[i] = -math.inf  # out of budget: outside the truncated language
                else:
                    prefixes[i].append(token)
            ess = _effective_sample_size(log_w)
            result.ess_history.append(ess)
            if ess < self.ess_threshold * n and ess > 0 and not all(done):
                chosen = _systematic_resample(log_w, rng)
                matchers = [matchers[j].fork() for j in chosen]
                prefixes = [list(prefixes[j]) for j in chosen]
                done = [done[j] for j in chosen]
                log_w = np.full(n, log_mean_exp(log_w))
                result.num_resamples += 1
        for i in range(n):
            if not done[i]:
                log_w[i] = -math.inf
        result.log_weights = log_w
        result.log_z = log_mean_exp(log_w)
        result.token_ids = [tuple(p) for p in prefixes]
        result.samples = [decode_text(self.compiled, p) for p in prefixes]
        result.complete = list(done)
        return result


def _masked_step(log_probs: np.ndarray, matcher: Matcher, rng: np.random.Generator) -> tuple[int, float, int]:
    """The ``proposal="mask"`` step: a full mask gives the exact local normaliser Z."""
    allowed = matcher.allowed_token_ids()
    allowed = allowed[np.isfinite(log_probs[allowed])]
    if allowed.size == 0:
        return -1, -math.inf, matcher.vocab_size
    log_z = logsumexp(log_probs[allowed])
    probs = np.exp(log_probs[allowed] - log_z)
    token = int(allowed[rng.choice(allowed.size, p=probs / probs.sum())])
    return token, log_z, matcher.vocab_size


def _effective_sample_size(log_w: np.ndarray) -> float:
    total = logsumexp(log_w)
    if total == -math.inf:
        return 0.0
    w = np.exp(log_w - total)
    return float(1.0 / np.sum(w * w))


def _systematic_resample(log_w: np.ndarray, rng: np.random.Generator) -> list[int]:
    """Indices of N particles drawn by systematic resampling (one uniform, N strata)."""
    n = log_w.size
    w = np.exp(log_w - logsumexp(log_w))
    positions = (rng.random() + np.arange(n)) / n
    cumulative = np.cumsum(w)
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, positions, side="right").clip(0, n - 1).tolist()
