"""Distribution-correct samplers: masked sampling, AWRS, SMC and ASAp.

Most tests use a tiny deterministic fake LM (fixed pseudo-random logits per prefix) over a
toy vocabulary with overlapping tokens (``ab``, ``bc``) and never-allowed ones (``x``, ``y``),
on the finite language ``(a|b|c){1,3}``, where the exact constrained distribution over
token sequences (every tokenization) is enumerated with `enumerate_language`.

Statistical tests are seeded (so deterministic) and their thresholds are stated as
confidence levels: a two-sided z-test at |z| < 4 (a correct sampler fails with probability
about 6e-5 over the choice of seed), and a chi-square test at the 0.1% level.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

import automask
from automask.errors import CompileLimitExceeded
from automask.runtime.asap import ASAp
from automask.runtime.awrs import awrs_step, exact_local_normaliser
from automask.runtime.sampling_common import (
    HFNextTokenModel,
    enumerate_language,
    kl_divergence,
    logsumexp,
    normalise,
)
from automask.runtime.sampling_masked import MaskedSampler, constrained_distribution, greedy_token
from automask.runtime.smc import SMC

PATTERN = "(a|b|c){1,3}"
TOKENS = [b"a", b"b", b"c", b"ab", b"bc", b"x", b"y", b"<eos>"]
EOS = 7
PROMPT = (1, 2)
MAX_TOKENS = 4
Z_LIMIT = 4.0  # two-sided z-test: P(|z| > 4) ~ 6e-5 for a correct sampler


class FakeLM:
    """Deterministic toy LM: logits are N(0, scale^2) draws seeded by a hash of the prefix."""

    def __init__(self, vocab_size: int, *, scale: float = 2.0) -> None:
        self.vocab_size = vocab_size
        self.scale = scale

    def encode_prompt(self, prompt: str) -> tuple[int, ...]:
        return tuple(prompt.encode())

    def next_token_logprobs(
        self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
    ) -> np.ndarray:
        rows = []
        for cont in continuations:
            key = zlib.crc32(np.array([*prompt_ids, -1, *cont], dtype=np.int64).tobytes())
            logits = np.random.default_rng(key).normal(size=self.vocab_size) * self.scale
            rows.append(logits - np.logaddexp.reduce(logits))
        return np.array(rows)


@pytest.fixture(scope="module")
def toy():
    vocab = automask.Vocabulary(TOKENS, eos_ids=[EOS])
    compiled = automask.compile_regex(PATTERN, vocab)
    lm = FakeLM(vocab.size)
    exact_log = enumerate_language(lm, PROMPT, compiled, max_tokens=MAX_TOKENS)
    return compiled, lm, exact_log


def _text(ids) -> str:
    return b"".join(TOKENS[t] for t in ids).decode()


def _chi_square_critical(df: int, z: float = 3.09) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile (z = 3.09: the 0.1% level)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def test_enumeration_covers_every_tokenization(toy):
    compiled, _, exact_log = toy
    texts = Counter(_text(ids) for ids in exact_log)
    assert all(re.fullmatch(PATTERN, t) for t in texts)
    assert len(texts) == 3 + 9 + 27  # every string of the language ...
    assert texts["abc"] == 3  # ... in every tokenization: a|b|c, ab|c, a|bc


# -- masked sampling --------------------------------------------------------------------
def test_top_k_and_top_p_renormalise_over_allowed_tokens_only():
    vocab = automask.Vocabulary(TOKENS, eos_ids=[EOS])
    matcher = automask.compile_regex("(a|b){2}", vocab).matcher()  # allows a, b, ab
    logits = np.array([1.0, 0.0, 0.5, 2.0, 9.0, 10.0, 10.0, 0.0])  # refused bc, x, y are the largest
    full = constrained_distribution(logits, matcher)
    allowed = [0, 1, 3]
    expected = np.exp(logits[allowed]) / np.exp(logits[allowed]).sum()
    np.testing.assert_allclose(full[allowed], expected)
    assert full.sum() == pytest.approx(1.0) and np.count_nonzero(full) == 3

    top2 = constrained_distribution(logits, matcher, top_k=2)  # ab and a, not the refused giants
    assert set(np.flatnonzero(top2)) == {0, 3}
    np.testing.assert_allclose(top2[[3, 0]], np.exp([2.0, 1.0]) / np.exp([2.0, 1.0]).sum())

    # ab alone holds ~0.665 of the allowed mass: top_p=0.6 keeps only it, 0.9 keeps ab and a.
    assert set(np.flatnonzero(constrained_distribution(logits, matcher, top_p=0.6))) == {3}
    top_p = constrained_distribution(logits, matcher, top_p=0.9)
    assert set(np.flatnonzero(top_p)) == {0, 3} and top_p.sum() == pytest.approx(1.0)

    hot = constrained_distribution(logits, matcher, temperature=0.5)
    np.testing.assert_allclose(hot[allowed], np.exp(2 * logits[allowed]) / np.exp(2 * logits[allowed]).sum())
    assert greedy_token(logits, matcher) == 3


def test_beam_search_finds_the_most_probable_sequences(toy):
    compiled, lm, exact_log = toy
    sampler = MaskedSampler(lm, None, compiled)
    best = sorted(exact_log.items(), key=lambda kv: -kv[1])[:3]
    # a beam as wide as the language is exhaustive, so it returns the exact top 3
    wide = sampler.beam_search(PROMPT, beams=len(exact_log), max_tokens=MAX_TOKENS)[:3]
    assert [b.token_ids for b in wide] == [ids for ids, _ in best]
    np.testing.assert_allclose([b.log_prob for b in wide], [lp for _, lp in best])
    # a narrow beam returns valid sequences scored by their true log-prob (EOS included)
    narrow = sampler.beam_search(PROMPT, beams=3, max_tokens=MAX_TOKENS)
    assert len(narrow) == 3 and narrow[0].token_ids == best[0][0]
    for beam in narrow:
        assert beam.log_prob == pytest.approx(exact_log[beam.token_ids])
        assert re.fullmatch(PATTERN, beam.text)


def test_masked_samples_are_valid_and_seeded(toy):
    compiled, lm, _ = toy
    sampler = MaskedSampler(lm, None, compiled)
    first = sampler.sample(PROMPT, 50, MAX_TOKENS, generator=np.random.default_rng(3), top_k=3)
    again = sampler.sample(PROMPT, 50, MAX_TOKENS, generator=np.random.default_rng(3), top_k=3)
    assert first == again and len(first) == 50
    assert all(re.fullmatch(PATTERN, t) for t in first)


# -- AWRS ---------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator_draws", [1, 2, "adaptive"])
def test_awrs_samples_the_locally_constrained_distribution_and_estimates_z(toy, estimator_draws):
    compiled, lm, _ = toy
    rng = np.random.default_rng(11)
    for prefix in [(), (0,), (3,)]:
        matcher = compiled.matcher()
        matcher.consume_tokens(prefix)
        logits = lm.next_token_logprobs(PROMPT, [prefix])[0]
        target = constrained_distribution(logits, matcher)
        z_exact = exact_local_normaliser(logits, matcher)
        draws = 4000
        counts = Counter()
        estimates = np.empty(draws)
        checks = 0
        for i in range(draws):
            token, log_z_hat, n_checks = awrs_step(logits, matcher, rng, estimator_draws=estimator_draws)
            counts[token] += 1
            estimates[i] = math.exp(log_z_hat)
            checks += n_checks
        assert set(counts) <= set(np.flatnonzero(target).tolist())
        support = np.flatnonzero(target)
        expected = draws * target[support]
        observed = np.array([counts[t] for t in support.tolist()])
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        assert chi2 < _chi_square_critical(support.size - 1), (prefix, chi2)
        z = (estimates.mean() - z_exact) / (estimates.std(ddof=1) / math.sqrt(draws))
        assert abs(z) < Z_LIMIT, (prefix, estimates.mean(), z_exact)
        assert checks / draws < compiled.vocab.size  # fewer checks than a full mask, on average


class _ForcedOrder:
    """Stands in for a numpy Generator in `awrs_step`: its Gumbel noise makes the
    perturbed keys ``log p + g`` fall in the given order (first = largest)."""

    def __init__(self, log_p: np.ndarray, order: Sequence[int]) -> None:
        ranks = np.empty(log_p.size)
        ranks[list(order)] = np.arange(log_p.size)
        self.noise = -log_p + 1000.0 * (log_p.size - ranks)

    def gumbel(self, size: int) -> np.ndarray:
        return self.noise[:size].copy()


def _awrs_exact_outcome(log_p: np.ndarray, matcher, estimator_draws) -> tuple[np.ndarray, float]:
    """(P(awrs_step returns t) for every t, E[Z_hat]) by enumerating draw orders: a prefix
    of the order is extended token by token (with its without-replacement probability)
    until `awrs_step` has read no further than the prefix."""
    p = np.exp(log_p)
    token_probs = np.zeros(p.size)
    mean_z_hat = 0.0
    stack: list[tuple[tuple[int, ...], float]] = [((), 1.0)]
    while stack:
        order, prob = stack.pop()
        rest = [t for t in range(p.size) if t not in order]
        token, log_z_hat, checks = awrs_step(
            log_p, matcher, _ForcedOrder(log_p, [*order, *rest]), estimator_draws=estimator_draws
        )
        if checks <= len(order) or not rest:  # the outcome depends on this prefix only
            token_probs[token] += prob
            mean_z_hat += prob * math.exp(log_z_hat)
            continue
        remaining = p[rest].sum()
        stack += [((*order, t), prob * p[t] / remaining) for t in rest]
    return token_probs, mean_z_hat


@pytest.mark.parametrize("estimator_draws", [1, 2, "adaptive"])
def test_awrs_is_exact_and_unbiased_by_enumerating_every_draw_order(toy, estimator_draws):
    """E[Z_hat] = Z and P(token) = p a / Z *exactly*: every without-replacement draw order
    is enumerated with its probability (prefixes are extended until `awrs_step` stops
    reading the order), instead of sampling."""
    compiled, lm, _ = toy
    for prefix in [(), (3,)]:
        matcher = compiled.matcher()
        matcher.consume_tokens(prefix)
        log_p = lm.next_token_logprobs(PROMPT, [prefix])[0]
        target = constrained_distribution(log_p, matcher)
        z_exact = exact_local_normaliser(log_p, matcher)
        token_probs, mean_z_hat = _awrs_exact_outcome(log_p, matcher, estimator_draws)
        np.testing.assert_allclose(token_probs, target, atol=1e-12)
        assert mean_z_hat == pytest.approx(z_exact, rel=1e-9)


def test_awrs_with_no_allowed_mass_returns_minus_infinity(toy):
    compiled, _, _ = toy
    logits = np.full(len(TOKENS), -np.inf)
    logits[5] = 0.0  # all mass on the refused "x"
    token, log_z, checks = awrs_step(logits, compiled.matcher(), np.random.default_rng(0))
    assert token == -1 and log_z == -math.inf and checks == 1


# -- SMC ----------------------------------------------------------------------------------
@pytest.mark.parametrize("proposal", ["awrs", "mask"])
def test_smc_estimate_of_p_language_is_unbiased(toy, proposal):
    compiled, lm, exact_log = toy
    p_language = math.exp(logsumexp(np.array(list(exact_log.values()))))
    smc = SMC(lm, None, compiled, particles=8, proposal=proposal)
    rng = np.random.default_rng(5)
    runs = [smc.run(PROMPT, MAX_TOKENS, generator=rng) for _ in range(300)]
    estimates = np.array([math.exp(r.log_z) for r in runs])
    z = (estimates.mean() - p_language) / (estimates.std(ddof=1) / math.sqrt(estimates.size))
    assert abs(z) < Z_LIMIT, (estimates.mean(), p_language)
    assert any(r.num_resamples for r in runs)
    for run in runs[:20]:
        assert all(re.fullmatch(PATTERN, t) for t, ok in zip(run.samples, run.complete, strict=True) if ok)
        assert sum(run.posterior().values()) == pytest.approx(1.0)


def test_smc_weighted_particles_approach_the_exact_distribution(toy):
    compiled, lm, exact_log = toy
    target = normalise(exact_log)
    smc = SMC(lm, None, compiled, particles=16)
    rng = np.random.default_rng(6)
    weighted: Counter = Counter()
    for _ in range(150):
        run = smc.run(PROMPT, MAX_TOKENS, generator=rng)
        for ids, lw in zip(run.token_ids, run.log_weights.tolist(), strict=True):
            if lw > -math.inf:
                weighted[ids] += math.exp(lw)
    scale = sum(weighted.values()) / 2400  # pseudo-counts on the scale of 2400 particles
    counts = {k: v / scale for k, v in weighted.items()}
    masked = Counter(
        MaskedSampler(lm, None, compiled).sample_token_ids(PROMPT, 2400, MAX_TOKENS, generator=rng)
    )
    assert kl_divergence(target, counts) < kl_divergence(target, masked)


# -- ASAp ---------------------------------------------------------------------------------
def test_asap_converges_to_the_exact_constrained_distribution(toy):
    compiled, lm, exact_log = toy
    target = normalise(exact_log)
    asap = ASAp(lm, None, compiled)
    rng = np.random.default_rng(7)
    samples = asap.sample_token_ids(PROMPT, 3000, MAX_TOKENS, generator=rng)
    assert all(re.fullmatch(PATTERN, _text(ids)) for ids in samples)
    kl_early = kl_divergence(target, Counter(samples[:100]))
    kl_late = kl_divergence(target, Counter(samples))
    masked = MaskedSampler(lm, None, compiled).sample_token_ids(PROMPT, 3000, MAX_TOKENS, generator=rng)
    kl_masked = kl_divergence(target, Counter(masked))
    assert kl_late < kl_early
    assert kl_late < kl_masked / 4  # masking is biased here (KL ~0.5 nats); ASAp is not
    # the root's EFG is an upper bound on P(L) that has tightened to within 1% of it
    # (unvisited, improbable branches still count as fully grammatical)
    p_language = math.exp(logsumexp(np.array(list(exact_log.values()))))
    assert p_language - 1e-12 <= asap.root_efg(PROMPT, MAX_TOKENS) <= 1.01 * p_language
    assert asap.trie_bytes > 0 and asap.num_nodes == asap.lm_calls


def test_asap_trie_is_bounded(toy):
    compiled, lm, _ = toy
    asap = ASAp(lm, None, compiled, max_nodes=5)
    with pytest.raises(CompileLimitExceeded):
        asap.sample(PROMPT, 200, MAX_TOKENS, generator=np.random.default_rng(0))
    assert asap.num_nodes == 5


def test_asap_trie_memory_is_bounded(toy):
    compiled, lm, _ = toy
    asap = ASAp(lm, None, compiled, max_bytes=1)
    with pytest.raises(CompileLimitExceeded):
        asap.sample(PROMPT, 200, MAX_TOKENS, generator=np.random.default_rng(0))
    assert asap.num_nodes == 1 and asap.trie_bytes >= 1


def test_asap_restarts_past_dead_ends():
    # "aa" needs two tokens but max_tokens=1 leaves room for one: the "a" branch is dead.
    vocab = automask.Vocabulary(TOKENS, eos_ids=[EOS])
    compiled = automask.compile_regex("aa|b", vocab)
    asap = ASAp(FakeLM(vocab.size), None, compiled)
    samples = asap.sample(PROMPT, 30, 1, generator=np.random.default_rng(1))
    assert set(samples) == {"b"}


# -- real model smoke test -----------------------------------------------------------------
@pytest.fixture(scope="session")
def smollm2():
    model, tokenizer = automask.load_default_model()
    vocab = automask.Vocabulary.from_hf(tokenizer)
    return model, tokenizer, vocab


@pytest.fixture
def one_torch_thread():
    """Small forwards on a busy 2-core machine run ~10x faster on one thread; restored after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_samplers_on_smollm2_produce_matching_strings(smollm2, one_torch_thread):
    model, tokenizer, vocab = smollm2
    pattern = "(0|1){3}"
    compiled = automask.compile_regex(pattern, vocab)
    prompt = "Write a three-digit binary number."
    rng = np.random.default_rng(0)
    texts = ASAp(model, tokenizer, compiled).sample(prompt, n=1, max_tokens=4, generator=rng)
    result = SMC(model, tokenizer, compiled, particles=3).run(prompt, max_tokens=4, generator=rng)
    texts += [t for t, ok in zip(result.samples, result.complete, strict=True) if ok]
    assert len(texts) == 4 and all(re.fullmatch(pattern, t) for t in texts), texts
    assert math.isfinite(result.log_z) and result.log_z <= 0


def test_kv_caches_match_recomputation(smollm2, one_torch_thread):
    """The prompt, path (crop and extend) and batch (select rows, one token each) caches
    give the same log-probs as recomputing every call from scratch."""
    model, tokenizer, vocab = smollm2
    cached = HFNextTokenModel(model, tokenizer, vocab.size)
    plain = HFNextTokenModel(model, tokenizer, vocab.size, prompt_cache=False)
    prompt_ids = cached.encode_prompt("Count to three.")
    calls = [
        [()],
        [(16,)],
        [(16, 17)],  # path: extend by one
        [(16,)],  # path: crop back up
        [(17, 19)],  # path: branch off at the root
        [(16, 17), (17, 19), (16, 18)],  # batch: recomputed
        [(16, 17, 1), (16, 17, 2), (16, 18, 3)],  # batch: rows selected, repeated, dropped
        [(5,), (6, 7)],  # mixed lengths: recomputed
    ]
    for continuations in calls:
        np.testing.assert_allclose(
            cached.next_token_logprobs(prompt_ids, continuations),
            plain.next_token_logprobs(prompt_ids, continuations),
            atol=1e-3,
        )
    assert cached.forward_tokens < plain.forward_tokens


def test_samplers_work_on_a_context_free_grammar():
    # a^n c b^n, a non-regular language through the CFG matcher; max_tokens truncates it
    vocab = automask.Vocabulary(TOKENS, eos_ids=[EOS])
    compiled = automask.compile_grammar('start: "a" start "b" | "c"', vocab)
    lm = FakeLM(vocab.size, scale=1.0)
    exact_log = enumerate_language(lm, PROMPT, compiled, max_tokens=5)
    assert {_text(ids) for ids in exact_log} == {"c", "acb", "aacbb"}
    p_language = math.exp(logsumexp(np.array(list(exact_log.values()))))
    asap = ASAp(lm, None, compiled)
    samples = asap.sample_token_ids(PROMPT, 300, 5, generator=np.random.default_rng(2))
    assert set(samples) <= set(exact_log)
    assert p_language - 1e-12 <= asap.root_efg(PROMPT, 5) <= 1.01 * p_language
    smc = SMC(lm, None, compiled, particles=8)
    rng = np.random.default_rng(4)
    estimates = np.array([math.exp(smc.run(PROMPT, 5, generator=rng).log_z) for _ in range(300)])
    z = (estimates.mean() - p_language) / (estimates.std(ddof=1) / math.sqrt(estimates.size))
    assert abs(z) < Z_LIMIT, (estimates.mean(), p_language)
