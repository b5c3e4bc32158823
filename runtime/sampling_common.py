"""Shared pieces of the distribution-correct samplers: the next-token model protocol, a
Hugging Face adapter, a memoising wrapper, log-space helpers and exact enumeration.

The samplers (`automask.runtime.sampling_masked`, `.awrs`, `.smc`, `.asap`) never call a
transformers model directly; they ask a `NextTokenModel` for next-token log-probabilities:

    lm.next_token_logprobs(prompt_ids, continuations) -> float64 [len(continuations), V]

where ``prompt_ids`` is the tokenized prompt and each continuation is the tuple of generated
token ids so far.  ``V`` is the vocabulary size of the compiled grammar (a model's padded
logits columns are dropped before the softmax).  Tests use a tiny deterministic fake that
implements the same two members; `as_next_token_model` wraps a Hugging Face causal LM.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from automask.runtime.compiled_grammar import CompiledGrammar
    from automask.runtime.matcher import Matcher


@runtime_checkable
class NextTokenModel(Protocol):
    """What a sampler needs from a language model."""

    def encode_prompt(self, prompt: str) -> tuple[int, ...]:
        """Token ids of ``prompt`` (chat template applied where the adapter does so)."""
        ...

    def next_token_logprobs(
        self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
    ) -> np.ndarray:
        """Log-softmax next-token distributions, float64 ``[len(continuations), V]``."""
        ...


class HFNextTokenModel:
    """A Hugging Face causal LM as a `NextTokenModel`, with incremental key/value caches.

    Three caches, all exact (a cache is only used when its token ids match the request):

    * the prompt's (per distinct prompt; the last one is kept), so the prompt runs once;
    * a *path* cache for single-continuation calls (ASAp, one masked sample): the last
      continuation's cache is cropped to the longest common prefix with the new request and
      extended with the rest, so walking down a sampled path costs one token per call, and
      jumping back up the trie costs only the tokens below the branch point;
    * a *batch* cache for calls whose continuations all extend a continuation of the
      previous batched call by one token (an SMC step, resampled or not; a batch of masked
      samples): the previous cache's rows are selected (and repeated) and one token per row
      is run.

    Anything else (continuations of mixed lengths, a batch that does not extend the last
    one) falls back to the prompt cache plus recomputing the generated tokens, grouped by
    length (no padding; only the last position's logits are materialised).
    ``prompt_cache=False`` recomputes everything and is the reference the tests compare
    against.  ``forward_calls`` and ``forward_tokens`` count model calls and the token
    positions they ran (rows times new tokens).

    The model may live on any torch device (CPU or CUDA): input ids are built on the model's
    device (`model_device`), the caches stay there, and only the final log-probabilities are
    copied back to host memory as float64 numpy rows.  The cache keyword is read from the
    model's ``forward`` signature (`cache_keyword`), so transformers releases that still
    call it ``past_key_values`` work as well as those that renamed it ``cache``.
    """

    def __init__(
        self, model: Any, tokenizer: Any, vocab_size: int, *, chat: bool = True, prompt_cache: bool = True
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.chat = chat
        self.prompt_cache = prompt_cache
        self.device = model_device(model)
        self.cache_keyword = cache_keyword(model)
        self.forward_calls = 0
        self.forward_tokens = 0
        self._prompt_state: tuple[tuple[int, ...], Any, np.ndarray] | None = None
        # (prompt, continuation, cache over prompt + continuation, log-probs after it)
        self._path_state: tuple[tuple[int, ...], tuple[int, ...], Any, np.ndarray] | None = None
        # (prompt, continuations row by row, cache with one row per continuation)
        self._batch_state: tuple[tuple[int, ...], list[tuple[int, ...]], Any] | None = None

    def encode_prompt(self, prompt: str) -> tuple[int, ...]:
        from automask.runtime.integrations.transformers import encode_prompt

        return tuple(encode_prompt(self.tokenizer, prompt, chat=self.chat)["input_ids"][0].tolist())

    def next_token_logprobs(
        self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
    ) -> np.ndarray:
        import torch

        prompt = tuple(int(t) for t in prompt_ids)
        conts = [tuple(int(t) for t in c) for c in continuations]
        with torch.inference_mode():
            if self.prompt_cache and len(conts) == 1:
                return self._path_step(prompt, conts[0])[None, :]
            if self.prompt_cache and conts:
                rows = self._batch_step(prompt, conts)
                if rows is not None:
                    return rows
            return self._recompute(prompt, conts)

    # -- the three ways of answering -------------------------------------------------------
    def _path_step(self, prompt: tuple[int, ...], cont: tuple[int, ...]) -> np.ndarray:
        import torch

        state = self._path_state
        if state is not None and state[0] == prompt and state[1] == cont:
            return state[3]
        cache, prompt_logprobs = self._prompt(prompt)
        if not cont:
            return prompt_logprobs
        if state is not None and state[0] == prompt:
            common = _common_prefix_length(state[1], cont)
            keep = min(common, len(cont) - 1)  # at least one token must run for its logits
            path_cache = state[2]
            if len(state[1]) > keep:
                path_cache.crop(keep - len(state[1]))
        else:
            keep = 0
            path_cache = copy.deepcopy(cache)
        self._path_state = None  # the cache is being modified in place
        ids = torch.tensor([list(cont[keep:])], dtype=torch.long, device=self.device)
        logprobs = self._forward(ids, path_cache)[0][0]
        self._path_state = (prompt, cont, path_cache, logprobs)
        return logprobs

    def _batch_step(self, prompt: tuple[int, ...], conts: list[tuple[int, ...]]) -> np.ndarray | None:
        import torch

        state = self._batch_state
        if state is None or state[0] != prompt:
            return None
        previous_row = {c: row for row, c in enumerate(state[1])}
        parents = [previous_row.get(c[:-1]) if c else None for c in conts]
        if any(p is None for p in parents):
            return None
        self._batch_state = None
        cache = state[2]
        # The row index goes where the cache's tensors are: torch accepts a CPU index for
        # CUDA tensors, but copies it over again for every layer's keys and values.
        cache.batch_select_indices(torch.tensor(parents, dtype=torch.long, device=self.device))
        ids = torch.tensor([[c[-1]] for c in conts], dtype=torch.long, device=self.device)
        out = self._forward(ids, cache)[0]
        self._batch_state = (prompt, conts, cache)
        return out

    def _recompute(self, prompt: tuple[int, ...], conts: list[tuple[int, ...]]) -> np.ndarray:
        import torch

        out = np.empty((len(conts), self.vocab_size), dtype=np.float64)
        by_length: dict[int, list[int]] = {}
        for row, cont in enumerate(conts):
            by_length.setdefault(len(cont), []).append(row)
        for length, rows in by_length.items():
            if not self.prompt_cache:
                ids = torch.tensor(
                    [list(prompt) + list(conts[r]) for r in rows], dtype=torch.long, device=self.device
                )
                out[rows] = self._forward(ids, None)[0]
                continue
            cache, prompt_logprobs = self._prompt(prompt)
            if length == 0:
                out[rows] = prompt_logprobs
                continue
            batch_cache = copy.deepcopy(cache)
            batch_cache.batch_repeat_interleave(len(rows))
            ids = torch.tensor([list(conts[r]) for r in rows], dtype=torch.long, device=self.device)
            out[rows] = self._forward(ids, batch_cache)[0]
            if len(by_length) == 1:  # the next call may extend this batch by one token
                self._batch_state = (prompt, [conts[r] for r in rows], batch_cache)
        return out

    def _prompt(self, prompt: tuple[int, ...]) -> tuple[Any, np.ndarray]:
        import torch

        if self._prompt_state is None or self._prompt_state[0] != prompt:
            ids = torch.tensor([list(prompt)], dtype=torch.long, device=self.device)
            logprobs, cache = self._forward(ids, None, use_cache=True)
            self._prompt_state = (prompt, cache, logprobs[0])
        return self._prompt_state[1], self._prompt_state[2]

    def _forward(self, ids: Any, cache: Any, *, use_cache: bool = False) -> tuple[np.ndarray, Any]:
        """Log-softmax of the last position's logits (float64, host memory) and, with
        ``use_cache``, the cache the model returned.

        The softmax runs in float64 on the model's device; ``.cpu()`` is then the one copy
        to host memory (a no-op for a CPU model, so CPU results are unchanged).
        """
        import torch

        kwargs: dict[str, Any] = {"input_ids": ids, "logits_to_keep": 1}
        if cache is not None or use_cache:
            kwargs["use_cache"] = True
        if cache is not None:
            kwargs[self.cache_keyword] = cache
        result = self.model(**kwargs)
        self.forward_calls += 1
        self.forward_tokens += int(ids.numel())
        logits = result.logits[:, -1, : self.vocab_size]
        new_cache = getattr(result, self.cache_keyword, None) if use_cache else None
        return torch.log_softmax(logits.double(), dim=-1).cpu().numpy(), new_cache


def model_device(model: Any) -> Any:
    """The `torch.device` that ``model``'s input ids must be on.

    Hugging Face models report it as ``model.device`` (the first parameter's device: the
    input embedding's, usually, also under ``device_map``); other modules fall back to their
    first parameter, and parameter-free objects to the CPU.  Tensors built for a model are
    created there directly, so a CUDA model gets no host-to-device copy of a CPU tensor per
    call and never a device-mismatch error.
    """
    import torch

    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        for parameter in parameters():
            return parameter.device
    return torch.device("cpu")


def cache_keyword(model: Any) -> str:
    """The name under which ``model.forward`` takes (and its output returns) the key/value cache.

    transformers renamed ``past_key_values`` to ``cache`` in the 5.x series (5.24 accepts
    both, with a deprecation warning for the old name; 5.17 knows only ``past_key_values``
    and would silently ignore ``cache=``, running new tokens without their context).  The
    forward signature says which one this installation uses; ``cache`` when it names
    neither (e.g. a forward taking only ``**kwargs``).
    """
    import inspect

    try:
        parameters = inspect.signature(model.forward).parameters
    except (AttributeError, TypeError, ValueError):
        return "cache"
    if "cache" not in parameters and "past_key_values" in parameters:
        return "past_key_values"
    return "cache"


def _common_prefix_length(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class CachedNextTokenModel:
    """Memoises another `NextTokenModel` per (prompt, continuation).

    Language models are deterministic functions of the prefix, so a sampler run against
    this wrapper behaves exactly as against the wrapped model; the evaluation harness uses
    it to draw thousands of samples from a small finite language while calling the real
    model once per distinct prefix.  ``calls`` counts cache misses (rows computed).
    """

    def __init__(self, inner: NextTokenModel) -> None:
        self.inner = inner
        self._cache: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray] = {}
        self.calls = 0

    def encode_prompt(self, prompt: str) -> tuple[int, ...]:
        return self.inner.encode_prompt(prompt)

    def next_token_logprobs(
        self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
    ) -> np.ndarray:
        prompt = tuple(prompt_ids)
        keys = [(prompt, tuple(c)) for c in continuations]
        missing = sorted({k for k in keys if k not in self._cache}, key=lambda k: len(k[1]))
        if missing:
            rows = self.inner.next_token_logprobs(prompt, [k[1] for k in missing])
            self.calls += len(missing)
            for key, row in zip(missing, rows, strict=True):
                self._cache[key] = row
        return np.stack([self._cache[k] for k in keys])


def as_next_token_model(model: Any, tokenizer: Any, compiled: CompiledGrammar) -> NextTokenModel:
    """``model`` itself if it already is a `NextTokenModel`, else an `HFNextTokenModel`."""
    if isinstance(model, NextTokenModel):
        return model
    return HFNextTokenModel(model, tokenizer, compiled.vocab.size)


def encode(lm: NextTokenModel, prompt: str | Sequence[int]) -> tuple[int, ...]:
    """Prompt ids: a string goes through the model's adapter, ids are taken as they are."""
    return lm.encode_prompt(prompt) if isinstance(prompt, str) else tuple(int(t) for t in prompt)


# -- log-space helpers -----------------------------------------------------------------
def logsumexp(values: np.ndarray) -> float:
    """``log(sum(exp(values)))``, ``-inf`` for an empty or all ``-inf`` input."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return -math.inf
    top = float(values.max())
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.exp(values - top).sum()))


def log_mean_exp(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return logsumexp(values) - math.log(values.size) if values.size else -math.inf


def to_numpy_logits(logits: Any) -> np.ndarray:
    """A float64 1-D numpy copy of a torch tensor / numpy array / sequence of logits."""
    if hasattr(logits, "detach"):
        logits = logits.detach().to("cpu").double().numpy()
    return np.array(logits, dtype=np.float64).reshape(-1)


def decode_text(compiled: CompiledGrammar, token_ids: Sequence[int]) -> str:
    """The exact bytes of the (non-special) tokens, as UTF-8 (replacement for broken bytes)."""
    return compiled.vocab.decode(token_ids).decode("utf-8", errors="replace")


def allowed_mask(matcher: Matcher) -> np.ndarray:
    """Bool array over the vocabulary: True where ``matcher`` allows the token now."""
    mask = np.zeros(matcher.vocab_size, dtype=bool)
    mask[matcher.allowed_token_ids()] = True
    return mask


# -- exact enumeration (tests and the evaluation harness) -------------------------------
def enumerate_language(
    lm: NextTokenModel,
    prompt_ids: Sequence[int],
    compiled: CompiledGrammar,
    *,
    max_tokens: int,
    max_sequences: int = 100_000,
) -> dict[tuple[int, ...], float]:
    """Every token sequence the constraint allows (any tokenization), with its LM log-prob.

    Returns ``{token ids (EOS excluded): log P(ids + EOS | prompt)}`` over complete
    sequences of at most ``max_tokens`` tokens (EOS not counted).  ``logsumexp`` of the
    values is log P(L | prompt); normalising gives the exact constrained distribution
    P(w | w in L) that globally correct samplers target.  The LM is queried level by level
    (one batch per depth).  Raises ValueError past ``max_sequences`` prefixes.
    """
    vocab = compiled.vocab
    eos = vocab.eos_ids
    result: dict[tuple[int, ...], float] = {}
    frontier: list[tuple[tuple[int, ...], float, Matcher]] = [((), 0.0, compiled.matcher())]
    seen = 0
    for _ in range(max_tokens + 1):
        if not frontier:
            break
        rows = lm.next_token_logprobs(prompt_ids, [p for p, _, _ in frontier])
        nxt: list[tuple[tuple[int, ...], float, Matcher]] = []
        for (prefix, logp, matcher), row in zip(frontier, rows, strict=True):
            for token in matcher.allowed_token_ids().tolist():
                if row[token] == -math.inf:
                    continue
                if token in eos:
                    # All EOS ids end the same string; their probabilities add.
                    result[prefix] = float(np.logaddexp(result.get(prefix, -math.inf), logp + row[token]))
                    continue
                if len(prefix) < max_tokens:
                    child = matcher.fork()
                    child.consume_token(token)
                    nxt.append((prefix + (token,), logp + float(row[token]), child))
        seen += len(nxt)
        if seen > max_sequences:
            raise ValueError(f"more than {max_sequences} prefixes; the language is too large to enumerate")
        frontier = nxt
    return result


def normalise(log_weights: dict[Any, float]) -> dict[Any, float]:
    """Probabilities from unnormalised log-weights."""
    keys = list(log_weights)
    values = np.array([log_weights[k] for k in keys])
    total = logsumexp(values)
    return {k: float(math.exp(v - total)) for k, v in zip(keys, values.tolist(), strict=True)}


def kl_divergence(
    exact: dict[Any, float], empirical_counts: dict[Any, float], *, pseudo_count: float = 0.5
) -> float:
    """KL(exact || smoothed empirical), in nats.

    The empirical distribution gets ``pseudo_count`` added to every outcome of the exact
    support (Krichevsky-Trofimov smoothing), so the divergence stays finite when a
    small sample misses an outcome; outcomes outside the support are ignored (a correct
    sampler never produces them).  ``empirical_counts`` may be weighted counts.
    """
    total = sum(empirical_counts.get(k, 0.0) for k in exact) + pseudo_count * len(exact)
    kl = 0.0
    for key, p in exact.items():
        if p <= 0:
            continue
        q = (empirical_counts.get(key, 0.0) + pseudo_count) / total
        kl += p * math.log(p / q)
    return kl
