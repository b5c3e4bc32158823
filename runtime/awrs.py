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

Weight (the estimate of Z, which SMC multiplies into a particle's weight).  Let S be the
refused tokens drawn before the accepted token x, and R = 1 - p(S) - p(x).  Conditional on
(S, x), Z = p(x) + Z', with Z' = sum over U = V \\ (S u {x}) of p(t) a(t).  A second,
independent run draws ``estimator_draws`` = m tokens y_1..y_m from U without replacement
(prob. p(y_i) / R_i, R_i = R - p(y_1) - ... - p(y_{i-1})) and forms the Des Raj terms

    T_i = sum_{j<i} p(y_j) a(y_j) + a(y_i) R_i,        Z_hat = p(x) + (T_1 + ... + T_m) / m.

Each T_i is conditionally unbiased for Z' (E[a(y_i) R_i | y_<i] = Z' - sum_{j<i} p(y_j) a(y_j)),
so E[Z_hat | S, x] = Z: the estimate is unbiased, never below p(x) > 0, and conditionally
unbiased given the returned token — which makes (x, Z_hat) properly weighted for SMC.  When
U runs out of tokens the remaining terms equal the exact Z'.  This is our variant of the
paper's construction (which also reuses the rejection run); it costs ``m`` extra checks.
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
    estimator_draws: int | str = 2,
    temperature: float = 1.0,
) -> tuple[int, float, int]:
    """``(token, log_z_hat, n_checks)`` for one constrained step.

    ``token`` is an exact sample of the locally constrained distribution (softmax of
    ``logits / temperature`` restricted to tokens ``matcher`` allows), ``log_z_hat`` the log
    of an unbiased estimate of its normaliser Z (see the module docstring), ``n_checks`` the
    number of ``accepts_token`` calls made.  If no allowed token has positive probability
    the result is ``(-1, -inf, n_checks)``.  ``logits`` may be wider than the vocabulary.

    ``estimator_draws`` is m, or ``"adaptive"``: m = number of rejections + 1, at least 2
    (a function of (S, x) only, so the estimate stays unbiased) — more draws exactly when
    the first run met much refused mass, which is when a fixed small m is noisy.
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

    # First run: rejection without replacement, in Gumbel-perturbed order.
    keys = log_p + generator.gumbel(size=vocab_size)
    positive = int(np.count_nonzero(probs > 0))
    checks = 0
    token = -1
    rejected: list[int] = []
    for candidate in _descending(keys, positive):
        checks += 1
        if matcher.accepts_token(candidate):
            token = candidate
            break
        rejected.append(candidate)
    if token < 0:
        return -1, -math.inf, checks

    # Second, independent run over U = V \ (S u {x}): Des Raj estimate of Z'.
    draws_wanted = max(2, len(rejected) + 1) if adaptive else int(estimator_draws)
    remaining_mass = max(0.0, 1.0 - float(probs[rejected].sum()) - float(probs[token]))
    keys = log_p + generator.gumbel(size=vocab_size)
    keys[rejected] = -np.inf
    keys[token] = -np.inf
    keys[probs <= 0] = -np.inf
    available = int(np.count_nonzero(np.isfinite(keys)))
    draws = min(draws_wanted, available)
    if draws:
        drawn = np.argpartition(-keys, draws - 1)[:draws]
        drawn = drawn[np.argsort(-keys[drawn], kind="stable")]
    else:
        drawn = np.empty(0, dtype=np.int64)
    known_allowed = 0.0
    total = 0.0
    for y in drawn.tolist():
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
