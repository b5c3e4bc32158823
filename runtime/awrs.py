"""Adaptive weighted rejection sampling (AWRS) of one constrained next token.

After Lipkin et al. 2025, "Fast Controlled Generation from Language Models with Adaptive
Weighted Rejection Sampling".  Instead of checking the whole vocabulary (a full mask), draw
from the *unconstrained* next-token distribution p, check only the drawn token with
``matcher.accepts_token``, and on refusal remove it and redraw without replacement.  The
first accepted token is an exact sample of the locally constrained distribution
p(t | t allowed) = p(t) a(t) / Z, where a(t) is 1 for allowed tokens and Z = sum_t p(t) a(t).

Drawing without replacement: the tokens sorted by decreasing ``log p(t) + Gumbel`` noise are
a sample without replacement proportional to p (the Gumbel-top-k trick), so one lazy sort
(a partial sort of the top 64 first) gives the rejection sequence; only drawn tokens are checked.

Weight (the estimate of Z that SMC multiplies into a particle's weight) -- the paper's
"recursive AWRS" estimator, generalised to m >= 1 tail draws.  Let S be the refused tokens
drawn before the accepted token x and R = 1 - p(S) - p(x) the mass of U = V \\ (S u {x}).
Given (S, x), Z = p(x) + Z' with Z' = sum over U of p(t) a(t).  The Gumbel order *after* x
is, conditionally on everything before it (a stopping time), a fresh sample without
replacement from U proportional to p, so the same run simply continues: the next m tokens
y_1..y_m (y_i drawn with probability p(y_i) / R_i, R_i = R - p(y_1) - ... - p(y_{i-1})) are
checked and give the Des Raj terms

    T_i = sum_{j<i} p(y_j) a(y_j) + a(y_i) R_i,        Z_hat = p(x) + (T_1 + ... + T_m) / m.

E[a(y_i) R_i | S, x, y_<i] = Z' - sum_{j<i} p(y_j) a(y_j), so E[T_i | S, x] = Z' and
E[Z_hat | S, x] = Z: unbiased, never below p(x) > 0, and conditionally unbiased given the
returned token, which makes (x, Z_hat) properly weighted for SMC.  If U runs out of tokens
with p > 0 the remaining terms are the exact Z'.  With m = 1 this is exactly the paper's
estimator: writing it as the recursion E a(X) = q a(x) + (1 - q) E[a(X) | X != x] along the
run, each refusal multiplies by 1 - q_j (the product telescopes to 1 - p(S)), and the tail
after the acceptance is the one-draw "coin flip" q_x + (1 - q_x) a(y_1), i.e.
Z_hat = p(x) + R a(y_1).  m > 1 (``estimator_draws``) averages more tail terms for a lower
variance at m checks; ``"adaptive"`` takes m = refusals + 1 (at least 2), still a function of
(S, x).  Not implemented: the paper's "geometric" variant for peaked distributions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from automask.runtime.sampling_common import to_numpy_logits

if TYPE_CHECKING:
    from automask.runtime.matcher import Matcher


def awrs_step(
    logits: Any,
    matcher: Matcher,
    generator: np.random.Generator,
    *,
    estimator_draws: int | str = 1,
    temperature: float = 1.0,
) -> tuple[int, float, int]:
    """``(token, log_z_hat, n_checks)`` for one constrained step.

    ``token`` is an exact sample of the locally constrained distribution (softmax of
    ``logits / temperature`` restricted to tokens ``matcher`` allows), ``log_z_hat`` the log
    of an unbiased estimate of its normaliser Z (see the module docstring), ``n_checks`` the
    number of ``accepts_token`` calls made.  If no allowed token has positive probability
    the result is ``(-1, -inf, n_checks)``.  ``logits`` may be wider than the vocabulary.

    ``estimator_draws`` is m, the number of tail draws after the accepted token (1: the
    paper's recursive AWRS estimator), or ``"adaptive"``: m = number of rejections + 1, at
    least 2 (a function of (S, x) only, so the estimate stays unbiased) -- more draws
    exactly when the run met much refused mass, which is when a small m is noisy.
    """
    adaptive = estimator_draws == "adaptive"
    if not adaptive and (not isinstance(estimator_draws, int) or estimator_draws < 1):
        raise ValueError(
            "estimator_draws must be an int >= 1 or 'adaptive' (0 draws would bias the estimate)"
        )
    vocab_size = matcher.vocab_size
    values = to_numpy_logits(logits)[:vocab_size] / temperature
    top = values.max()
    if not np.isfinite(top):
        return -1, -math.inf, 0
    log_p = values - (top + math.log(float(np.exp(values - top).sum())))
    probs = np.exp(log_p)

    # One run in Gumbel-perturbed order: rejection until the first allowed token ...
    keys = log_p + generator.gumbel(size=vocab_size)
    order = _descending(keys, int(np.count_nonzero(probs > 0)))
    checks = 0
    token = -1
    rejected_mass = 0.0
    for candidate in order:
        checks += 1
        if matcher.accepts_token(candidate):
            token = candidate
            break
        rejected_mass += float(probs[candidate])
    if token < 0:
        return -1, -math.inf, checks

    # ... then its continuation: m tail draws from U = V \ (S u {x}), Des Raj terms.
    rejections = checks - 1
    draws_wanted = max(2, rejections + 1) if adaptive else int(estimator_draws)
    remaining_mass = max(0.0, 1.0 - rejected_mass - float(probs[token]))
    known_allowed = 0.0
    total = 0.0
    draws = 0
    for y in order:
        if draws == draws_wanted:
            break
        draws += 1
        checks += 1
        allowed = matcher.accepts_token(y)
        total += known_allowed + (remaining_mass if allowed else 0.0)
        if allowed:
            known_allowed += float(probs[y])
        remaining_mass = max(0.0, remaining_mass - float(probs[y]))
    # U exhausted before m draws: the remaining terms are the exact Z' = known_allowed.
    total += (draws_wanted - draws) * known_allowed
    z_hat = float(probs[token]) + total / draws_wanted
    return token, math.log(z_hat), checks


def _descending(keys: np.ndarray, count: int, *, head: int = 64) -> Iterator[int]:
    """The ``count`` indices of the largest ``keys``, largest first, computed lazily: the
    first ``head`` with a partial sort (usually enough), the rest only if asked for."""
    first = min(head, count)
    if first == 0:
        return
    top = np.argpartition(-keys, first - 1)[:first] if first < keys.size else np.arange(keys.size)
    top = top[np.argsort(-keys[top], kind="stable")]
    yield from top.tolist()
    if count > first:
        rest = np.argsort(-keys, kind="stable")[first:count]
        yield from rest.tolist()


def exact_local_normaliser(logits: Any, matcher: Matcher, *, temperature: float = 1.0) -> float:
    """Z = sum of p(t) over the allowed tokens (a full mask; for tests and diagnostics)."""
    vocab_size = matcher.vocab_size
    values = to_numpy_logits(logits)[:vocab_size] / temperature
    probs = np.exp(values - values.max())
    probs /= probs.sum()
    return float(probs[matcher.allowed_token_ids()].sum())
