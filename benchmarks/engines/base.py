"""The one interface every benchmarked engine is driven through.

A benchmark step is the same for every engine: fill a full-vocabulary bitmask, check the next
token's bit, consume the token.  Each adapter maps these calls onto its engine's own API with
as little glue as possible, so that the timed call (`Engine.fill_mask`) is essentially one call
into the engine.

Bitmask layout (shared by automask, xgrammar, llguidance and outlines-core): int32 numpy array
``[1, ceil(V/32)]``, bit ``j % 32`` of word ``j // 32`` set iff token ``j`` is allowed; ``V`` is
the engine's own vocabulary width (`Engine.vocab_size`).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from benchmarks.workloads.base import Workload, WorkloadKind


class EngineUnavailable(RuntimeError):
    """The engine's package is not installed (its column then reads "not installed")."""


class UnsupportedWorkload(RuntimeError):
    """The engine has no front-end for this workload kind or refuses this particular workload."""


@dataclass(frozen=True)
class TokenizerSource:
    """Where the Hugging Face tokenizer comes from: an automask built-in name, or a saved folder.

    ``path`` (a folder written by ``save_pretrained``) lets the harness benchmark any tokenizer;
    without it the tokenizer is ``automask.load_tokenizer(name)``.
    """

    name: str
    path: str | None = None

    def load_hf(self) -> Any:
        """Load the Hugging Face tokenizer (every engine and the walk tokenization use this one)."""
        if self.path is not None:
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(self.path)
        import automask

        return automask.load_tokenizer(self.name)


class Engine(ABC):
    """Adapter around one constraint engine.  One instance lives in one worker process.

    Call order: `prepare` once, then `compile` once per workload, then any number of
    `new_matcher` / `fill_mask` / `consume` walks.
    """

    name: ClassVar[str]
    #: importable top-level modules the engine needs; missing ones make it "not installed"
    requires: ClassVar[tuple[str, ...]] = ()
    supported_kinds: ClassVar[frozenset[WorkloadKind]] = frozenset()
    #: whether `prepare` needs the Hugging Face tokenizer object (loaded and timed apart)
    needs_hf_tokenizer: ClassVar[bool] = True

    #: JSON-Schema compile options used unless `configure` overrides them (engine defaults: none)
    default_json_schema_options: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def missing_requirements(cls) -> list[str]:
        """Required modules that cannot be found (checked without importing them)."""
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    def supports(self, workload: Workload) -> bool:
        return workload.kind in self.supported_kinds

    def configure(self, options: Mapping[str, Any]) -> None:
        """Set JSON-Schema compile options (``--option ENGINE:KEY=VALUE``) over the defaults.

        They are passed through as keyword arguments to the engine's JSON-Schema compile call,
        unchecked: a wrong one shows up as a compile error on every schema.
        """
        self._json_schema_options = {**self.default_json_schema_options, **options}

    def json_schema_options(self) -> dict[str, Any]:
        """The keyword arguments of this engine's JSON-Schema compile call."""
        return dict(getattr(self, "_json_schema_options", self.default_json_schema_options))

    @abstractmethod
    def version(self) -> str:
        """The engine's package version."""

    def environment_notes(self) -> list[str]:
        """Facts about the engine's state that affect timings (e.g. a JIT cache); before `prepare`."""
        return []

    @abstractmethod
    def prepare(self, source: TokenizerSource, hf_tokenizer: Any | None) -> None:
        """Build the engine's tokenizer / vocabulary structures (timed as "tokenizer preparation")."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Width of the engine's bitmask in tokens."""

    def stop_token_ids(self) -> frozenset[int]:
        """Ids the engine treats as end of sequence (besides the tokenizer's EOS); after `prepare`."""
        return frozenset()

    @abstractmethod
    def compile(self, workload: Workload) -> Any:
        """Compile the workload's constraint; returns an opaque handle.  Raise `UnsupportedWorkload`."""

    @abstractmethod
    def new_matcher(self, handle: Any) -> Any:
        """A fresh per-sequence matcher at the start state."""

    def allocate_bitmask(self) -> np.ndarray:
        """A zeroed int32 ``[1, ceil(vocab_size/32)]`` bitmask."""
        return np.zeros((1, (self.vocab_size + 31) // 32), dtype=np.int32)

    @abstractmethod
    def fill_mask(self, matcher: Any, bitmask: np.ndarray) -> None:
        """Write the full-vocabulary mask of allowed next tokens into ``bitmask[0]`` (the timed call)."""

    @abstractmethod
    def consume(self, matcher: Any, token_id: int) -> bool:
        """Advance by one token; False if the engine refuses it."""

    @abstractmethod
    def is_accepting(self, matcher: Any) -> bool:
        """Whether the engine considers the output so far complete."""
