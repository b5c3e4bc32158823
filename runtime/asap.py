"""Grammar-aligned decoding by Adaptive Sampling with Approximate expected futures (ASAp).

After Park et al. 2024, "Grammar-Aligned Decoding".  The target is the global constrained
distribution P(w | w in L) ∝ P(w EOS), which locally constrained decoding distorts because
it renormalises each step over the allowed tokens regardless of how much probability mass
the continuations below each token can still reach.  The exact correction weighs token t
after prefix w by the expected future grammaticality EFG(wt) = P(L-completion | wt):

    q(t | w) ∝ P(t | w) · EFG(wt)           EFG(w) = sum_t P(t | w) · EFG(wt)

ASAp keeps a trie of visited prefixes (per prompt and ``max_tokens``, across calls).  Each
node stores, for its allowed tokens, the LM's P(t | w) and an over-approximation of
EFG(wt): 1 for an unvisited allowed child, 0 for refused tokens (they are not stored), and
EFG(w EOS) = 1 exactly.  After each complete sample the path's estimates are tightened
bottom-up with EFG(w) = sum_t P(t | w) · EFG(wt).  Estimates only decrease towards the true
values, so the sampling distribution converges to P(w | w in L) as the trie fills.  A
sample that reaches a node whose every continuation is known dead (e.g. only non-EOS
tokens left at ``max_tokens``) back-propagates that zero and restarts from the root.

Node layout: ``token_ids`` int64 ``[k]`` (allowed tokens with P > 0), ``probs`` float64
``[k]`` (P(t | w)), ``child_efg`` float64 ``[k]``, ``children`` dict token -> node.
Memory is reported by `trie_bytes` and bounded by ``max_nodes`` and ``max_bytes`` (a node
holds three arrays over its allowed tokens, so on broad grammars one node can take ~1 MiB):
creating a node past either bound raises `CompileLimitExceeded` (nothing is evicted, so the
estimates stay sound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from automask.errors import CompileLimitExceeded
from automask.runtime.sampling_common import NextTokenModel, as_next_token_model, decode_text, encode

if TYPE_CHECKING:
    from automask.runtime.compiled_grammar import CompiledGrammar
    from automask.runtime.matcher import Matcher

_NODE_OVERHEAD_BYTES = 200
"""Approximate Python overhead per node (object, dict, array headers), for `trie_bytes`."""


class _Node:
    __slots__ = ("token_ids", "probs", "child_efg", "children", "is_eos")

    def __init__(self, token_ids: np.ndarray, probs: np.ndarray, child_efg: np.ndarray, is_eos: np.ndarray):
        self.token_ids = token_ids
        self.probs = probs
        self.child_efg = child_efg
        self.is_eos = is_eos
        self.children: dict[int, _Node] = {}

    @property
    def efg(self) -> float:
        return float(np.dot(self.probs, self.child_efg))

    @property
    def nbytes(self) -> int:
        arrays = self.token_ids.nbytes + self.probs.nbytes + self.child_efg.nbytes + self.is_eos.nbytes
        return arrays + _NODE_OVERHEAD_BYTES + 100 * len(self.children)


class ASAp:
    """``ASAp(model, tokenizer, compiled).sample(prompt, n=100, max_tokens=64) -> list[str]``.

    ``model`` is a Hugging Face causal LM (with its ``tokenizer``) or any `NextTokenModel`.
    The trie persists across `sample` calls (that is what makes it converge); one LM call is
    made per newly visited prefix.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        compiled: CompiledGrammar,
        *,
        max_nodes: int = 100_000,
        max_bytes: int = 1 << 30,
    ) -> None:
        self.compiled = compiled
        self.lm: NextTokenModel = as_next_token_model(model, tokenizer, compiled)
        self.max_nodes = max_nodes
        self.max_bytes = max_bytes
        self._roots: dict[tuple[tuple[int, ...], int], _Node] = {}
        self._num_nodes = 0
        self._bytes = 0
        self._eos_ids = np.array(sorted(compiled.vocab.eos_ids), dtype=np.int64)
        self.lm_calls = 0
        self.restarts = 0

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    @property
    def trie_bytes(self) -> int:
        """Approximate memory held by the trie (arrays plus per-node overhead), in bytes."""
        return self._bytes

    def root_efg(self, prompt: str | Sequence[int], max_tokens: int = 64) -> float | None:
        """Current estimate of P(L | prompt) (an upper bound), or None before any sample."""
        root = self._roots.get((encode(self.lm, prompt), max_tokens))
        return None if root is None else root.efg

    def sample(
        self,
        prompt: str | Sequence[int],
        n: int = 100,
        max_tokens: int = 64,
        *,
        generator: np.random.Generator | None = None,
    ) -> list[str]:
        """``n`` texts, each one complete sample (the trie is updated after each)."""
        return [
            decode_text(self.compiled, ids)
            for ids in self.sample_token_ids(prompt, n, max_tokens, generator=generator)
        ]

    def sample_token_ids(
        self,
        prompt: str | Sequence[int],
        n: int = 100,
        max_tokens: int = 64,
        *,
        generator: np.random.Generator | None = None,
    ) -> list[tuple[int, ...]]:
        """Like `sample`, as token ids (EOS excluded).  Raises ValueError if the language is
        empty under the model within ``max_tokens`` (every path turned out dead)."""
        rng = np.random.default_rng() if generator is None else generator
        prompt_ids = encode(self.lm, prompt)
        key = (prompt_ids, max_tokens)
        if key not in self._roots:
            self._roots[key] = self._new_node(prompt_ids, (), self.compiled.matcher(), max_tokens)
        root = self._roots[key]
        return [self._sample_one(root, prompt_ids, max_tokens, rng) for _ in range(n)]

    # -- internals ----------------------------------------------------------------------
    def _sample_one(
        self, root: _Node, prompt_ids: tuple[int, ...], max_tokens: int, rng: np.random.Generator
    ) -> tuple[int, ...]:
        while True:
            if root.efg <= 0:
                raise ValueError("the constrained language has no probability under the model")
            node, matcher = root, self.compiled.matcher()
            prefix: list[int] = []
            path: list[tuple[_Node, int]] = []
            while True:
                cumulative = np.cumsum(node.probs * node.child_efg)
                total = float(cumulative[-1]) if cumulative.size else 0.0
                if total <= 0:  # dead end discovered: propagate the zero, start over
                    self.restarts += 1
                    path.append((node, -1))
                    _backpropagate(path)
                    break
                index = min(
                    int(np.searchsorted(cumulative, rng.random() * total, side="right")), cumulative.size - 1
                )
                path.append((node, index))
                token = int(node.token_ids[index])
                if node.is_eos[index]:
                    _backpropagate(path)
                    return tuple(prefix)
                matcher.consume_token(token)
                prefix.append(token)
                child = node.children.get(token)
                if child is None:
                    child = self._new_node(prompt_ids, tuple(prefix), matcher, max_tokens)
                    node.children[token] = child
                    self._bytes += 100
                node = child

    def _new_node(
        self, prompt_ids: tuple[int, ...], prefix: tuple[int, ...], matcher: Matcher, max_tokens: int
    ) -> _Node:
        if self._num_nodes >= self.max_nodes:
            raise CompileLimitExceeded(
                "ASAp trie nodes", self._num_nodes + 1, self.max_nodes, "raise max_nodes or sample less"
            )
        if self._bytes >= self.max_bytes:
            raise CompileLimitExceeded(
                "ASAp trie bytes", self._bytes, self.max_bytes, "raise max_bytes or sample less"
            )
        log_p = self.lm.next_token_logprobs(prompt_ids, [prefix])[0]
        self.lm_calls += 1
        allowed = matcher.allowed_token_ids()
        allowed = allowed[log_p[allowed] > -math.inf]
        eos = np.isin(allowed, self._eos_ids)
        efg = np.ones(allowed.size)
        if len(prefix) >= max_tokens:
            efg[~eos] = 0.0  # no room left for anything but EOS
        node = _Node(allowed.astype(np.int64), np.exp(log_p[allowed]), efg, eos)
        self._num_nodes += 1
        self._bytes += node.nbytes
        return node


def _backpropagate(path: list[tuple[_Node, int]]) -> None:
    """Tighten EFG along ``path`` bottom-up: parent.child_efg[i] = EFG(child).

    ``path`` holds ``(node, index of the child taken)`` from the root down; the last node's
    own EFG comes from its stored children (EOS = 1, dead = 0).
    """
    for depth in range(len(path) - 1, 0, -1):
        child, _ = path[depth]
        parent, index = path[depth - 1]
        parent.child_efg[index] = child.efg
