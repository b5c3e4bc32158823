"""automask adapter: `automask.load_vocabulary`, `automask.compile_regex` / `compile_grammar`, `.matcher()`.

automask's hot loops are numba functions compiled with ``cache=True``: the first compile in a
process with an empty on-disk cache includes JIT compilation.  `environment_notes` reports the
cache state seen when the worker starts, so a cold number can be told from a warm one.

Grammar workloads: a compiled grammar caches masks by parse context, shared by its matchers,
so timed walks that repeat the warm-up walk's text would all be cache hits and hide the cost
of contexts never seen before.  The benchmark therefore compiles with the mask cache OFF by
default (every timed mask is one kernel walk, Earley sets already known from the warm-up);
``AUTOMASK_BENCH_CFG_MASK_CACHE=1`` measures the cached path instead.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.engines.base import Engine, TokenizerSource, UnsupportedWorkload
from benchmarks.workloads.base import Workload, WorkloadKind

# Modules `automask.compile_regex` imports on its first call.  The adapter imports them up
# front, as `import xgrammar` does for its peer, so that the timed compile is compile work.
_COMPILE_MODULES = (
    "automask.api",
    "automask.compiler.regex",
    "automask.compiler.token_index.index",
    "automask.runtime.compiled_grammar",
    "automask.grammar_api",
    "automask.json_schema_api",
    "automask.compiler.grammar.lark_frontend",
    "automask.compiler.grammar.gbnf_frontend",
    "automask.compiler.cfg.token_walk",
    "automask.runtime.cfg_matcher",
)


def numba_cache_files() -> int:
    """How many numba cache index files (``*.nbi``) exist for automask's modules right now."""
    roots: list[Path] = []
    if cache_dir := os.environ.get("NUMBA_CACHE_DIR"):
        roots.append(Path(cache_dir))
    for package in ("automask", "automask.compiler", "automask.runtime"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            roots.extend(Path(p) for p in spec.submodule_search_locations)
    return sum(1 for root in roots if root.is_dir() for _ in root.rglob("*.nbi"))


def _cfg_mask_cache_enabled() -> bool:
    return os.environ.get("AUTOMASK_BENCH_CFG_MASK_CACHE", "0") != "0"


class AutomaskEngine(Engine):
    name = "automask"
    requires = ("automask",)
    supported_kinds = frozenset(
        {WorkloadKind.REGEX, WorkloadKind.LARK, WorkloadKind.GBNF, WorkloadKind.JSON_SCHEMA}
    )
    needs_hf_tokenizer = False

    def __init__(self) -> None:
        import automask

        for module in _COMPILE_MODULES:
            with contextlib.suppress(ImportError):  # layout changed: the compile includes the import
                importlib.import_module(module)
        self._am = automask
        self._vocabulary: Any = None

    def version(self) -> str:
        return self._am.__version__

    def environment_notes(self) -> list[str]:
        count = numba_cache_files()
        state = "warm" if count else "cold: the first compile includes numba JIT"
        notes = [f"numba cache: {count} index files ({state})"]
        if _cfg_mask_cache_enabled():
            notes.append(
                "grammar mask cache on: lark/gbnf timed walks repeat the warm-up walk's text, so their "
                "masks are cache hits (the default, AUTOMASK_BENCH_CFG_MASK_CACHE=0, measures uncached masks)"
            )
        else:
            notes.append(
                "grammar mask cache off (AUTOMASK_BENCH_CFG_MASK_CACHE=0): every mask is a kernel walk"
            )
        return notes

    def prepare(self, source: TokenizerSource, hf_tokenizer: Any | None) -> None:
        if source.path is not None:
            hf = hf_tokenizer if hf_tokenizer is not None else source.load_hf()
            self._vocabulary = self._am.Vocabulary.from_hf(hf, name=source.name)
        else:
            self._vocabulary = self._am.load_vocabulary(source.name)
        # Per-tokenizer preparation, as the peers' tokenizer objects do: the token trie.
        from automask.compiler.token_index.trie import token_trie

        token_trie(self._vocabulary)

    @property
    def vocab_size(self) -> int:
        return self._vocabulary.size

    def stop_token_ids(self) -> frozenset[int]:
        return frozenset(self._vocabulary.eos_ids)

    def compile(self, workload: Workload) -> Any:
        if workload.kind is WorkloadKind.REGEX:
            return self._am.compile_regex(workload.source, self._vocabulary)
        if workload.kind in (WorkloadKind.LARK, WorkloadKind.GBNF):
            from automask.compiler.cfg.limits import CFGLimits

            syntax = "lark" if workload.kind is WorkloadKind.LARK else "gbnf"
            limits = None if _cfg_mask_cache_enabled() else CFGLimits(max_cached_masks=0)
            return self._am.compile_grammar(
                workload.source, self._vocabulary, syntax=syntax, cfg_limits=limits
            )
        if workload.kind is WorkloadKind.JSON_SCHEMA:
            return self._am.compile_json_schema(
                workload.source, self._vocabulary, **self.json_schema_options()
            )
        raise UnsupportedWorkload(
            f"automask's {workload.kind.value} front-end is not wired into the benchmark"
        )

    def new_matcher(self, handle: Any) -> Any:
        return handle.matcher()

    def fill_mask(self, matcher: Any, bitmask: np.ndarray) -> None:
        matcher.fill_next_token_bitmask(bitmask, 0)

    def consume(self, matcher: Any, token_id: int) -> bool:
        return bool(matcher.consume_token(token_id))

    def is_accepting(self, matcher: Any) -> bool:
        return bool(matcher.is_accepting())
