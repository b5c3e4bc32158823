"""`Vocabulary`: what a tokenizer's ids mean as bytes, and which ids are special.

This module depends on numpy only (the Hugging Face / GGUF / tiktoken adapters live beside
it and produce a `Vocabulary`).  A vocabulary is immutable and hashable by fingerprint, so
compiled grammars and caches can be keyed on it.

Conventions:

- ``token_bytes[i]`` is the exact byte string token ``i`` contributes to the output
  (SentencePiece ``▁`` is a space, ``<0xXX>`` byte-fallback tokens are that one byte,
  byte-level BPE symbols are mapped back to bytes).
- Ids with no text (unused or padding slots) have ``b""`` and are never allowed.
- ``special_ids`` are control tokens (BOS, EOS, ``[INST]``, ``<|im_start|>`` ...): never
  allowed by a constraint, except the ``eos_ids`` which are allowed exactly when the output
  is complete.
- ``size`` may be smaller than a model's logits width; masking code treats the extra
  columns as refused.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class Vocabulary:
    """Token id -> bytes, plus special and end-of-sequence ids.  Immutable."""

    __slots__ = (
        "_token_bytes",
        "_special_ids",
        "_eos_ids",
        "_name",
        "_fingerprint",
        "_flat",
        "_derived",
        "_lock",
    )

    def __init__(
        self,
        token_bytes: Sequence[bytes],
        *,
        special_ids: Iterable[int] = (),
        eos_ids: Iterable[int] = (),
        name: str = "custom",
    ) -> None:
        self._token_bytes: tuple[bytes, ...] = tuple(bytes(b) for b in token_bytes)
        size = len(self._token_bytes)
        eos = frozenset(int(i) for i in eos_ids)
        special = frozenset(int(i) for i in special_ids) | eos
        bad = [i for i in special if not 0 <= i < size]
        if bad:
            raise ValueError(f"special/eos ids out of range for a vocabulary of {size}: {sorted(bad)[:5]}")
        if not eos:
            raise ValueError("a Vocabulary needs at least one end-of-sequence id")
        self._special_ids = special
        self._eos_ids = eos
        self._name = name
        self._fingerprint: str | None = None
        self._flat: tuple[np.ndarray, np.ndarray] | None = None
        self._derived: dict[str, object] = {}
        self._lock = threading.RLock()  # re-entrant: a builder may derive other structures

    # -- basic accessors -------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of token ids (the mask width before padding to the logits width)."""
        return len(self._token_bytes)

    def __len__(self) -> int:
        return self.size

    @property
    def name(self) -> str:
        return self._name

    @property
    def token_bytes(self) -> tuple[bytes, ...]:
        return self._token_bytes

    @property
    def special_ids(self) -> frozenset[int]:
        """Ids never produced by a constraint (EOS ids included)."""
        return self._special_ids

    @property
    def eos_ids(self) -> frozenset[int]:
        return self._eos_ids

    @property
    def eos_id(self) -> int:
        """The smallest end-of-sequence id (the one to emit when forcing termination)."""
        return min(self._eos_ids)

    def __getitem__(self, token_id: int) -> bytes:
        return self._token_bytes[token_id]

    def is_regular(self, token_id: int) -> bool:
        """True for tokens that carry text and may appear inside constrained output."""
        return token_id not in self._special_ids and bool(self._token_bytes[token_id])

    def decode(self, token_ids: Iterable[int]) -> bytes:
        """Concatenated bytes of the given tokens (special tokens contribute nothing)."""
        return b"".join(self._token_bytes[t] for t in token_ids if t not in self._special_ids)

    # -- flat layout for kernels -----------------------------------------------------
    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """``(data uint8[total], offsets int64[size+1])``: token ``i`` is ``data[offsets[i]:offsets[i+1]]``.

        Special tokens get an empty slice here, so kernels never see them as text.
        """
        if self._flat is None:
            lengths = np.fromiter(map(len, self._token_bytes), dtype=np.int64, count=self.size)
            raw = np.frombuffer(b"".join(self._token_bytes), dtype=np.uint8)
            special = np.array(sorted(self._special_ids), dtype=np.int64)
            if special.size:
                ends = np.cumsum(lengths)
                keep = np.ones(raw.size, dtype=bool)
                for token_id in special.tolist():
                    keep[ends[token_id] - lengths[token_id] : ends[token_id]] = False
                raw = raw[keep]
                lengths[special] = 0
            offsets = np.zeros(self.size + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            data = raw.copy()
            data.setflags(write=False)
            offsets.setflags(write=False)
            self._flat = (data, offsets)
        return self._flat

    def derived(self, key: str, build: Callable[[Vocabulary], T]) -> T:
        """A structure computed from this vocabulary once and kept with it (e.g. the token trie).

        The vocabulary is immutable, so anything derived from it stays valid for its lifetime;
        keeping it here (rather than in a module-level cache) ties its lifetime and ownership to
        the vocabulary.  Thread-safe: concurrent first calls build it once; a builder may itself
        call `derived` (the lock is re-entrant).
        """
        value = self._derived.get(key)
        if value is None:
            with self._lock:
                value = self._derived.get(key)
                if value is None:
                    value = build(self)
                    self._derived[key] = value
        return value  # type: ignore[return-value]

    def fingerprint(self) -> str:
        """Stable hash of the bytes and special ids; keys caches and compiled artifacts."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for b in self._token_bytes:
                h.update(len(b).to_bytes(4, "little"))
                h.update(b)
            h.update(repr(sorted(self._special_ids)).encode())
            h.update(repr(sorted(self._eos_ids)).encode())
            self._fingerprint = h.hexdigest()[:24]
        return self._fingerprint

    def __repr__(self) -> str:
        return f"Vocabulary(name={self._name!r}, size={self.size}, eos_ids={sorted(self._eos_ids)})"

    # -- persistence -----------------------------------------------------------------
    def save(self, path) -> None:
        """Write a compact ``.npz`` (used by the named-vocabulary cache)."""
        lengths = np.array([len(b) for b in self._token_bytes], dtype=np.int64)
        np.savez(
            path,
            data=np.frombuffer(b"".join(self._token_bytes), dtype=np.uint8),
            lengths=lengths,
            special=np.array(sorted(self._special_ids), dtype=np.int64),
            eos=np.array(sorted(self._eos_ids), dtype=np.int64),
            name=np.array(self._name),
        )

    @classmethod
    def load(cls, path) -> Vocabulary:
        with np.load(path, allow_pickle=False) as z:
            data = z["data"].tobytes()
            ends = np.cumsum(z["lengths"])
            starts = ends - z["lengths"]
            tokens = [data[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
            return cls(
                tokens, special_ids=z["special"].tolist(), eos_ids=z["eos"].tolist(), name=str(z["name"])
            )

    @classmethod
    def from_hf(cls, tokenizer, *, name: str | None = None) -> Vocabulary:
        """Build from a Hugging Face tokenizer (fast or slow); see `compiler.vocabulary.hf`."""
        from automask.compiler.vocabulary.hf import vocabulary_from_hf

        return vocabulary_from_hf(tokenizer, name=name)
