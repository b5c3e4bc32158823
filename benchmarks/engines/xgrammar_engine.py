"""xgrammar adapter: `TokenizerInfo.from_huggingface`, `GrammarCompiler`, `GrammarMatcher`.

Engine defaults are kept (default thread count) except JSON Schema's ``strict_mode`` (off, see
`XGrammarEngine.default_json_schema_options`) and the compiler cache, which is turned
off so that the second, warm compile the harness times is real work and not a cache hit (the
first compile in a fresh process never hits the cache either way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.engines.base import Engine, TokenizerSource, UnsupportedWorkload
from benchmarks.workloads.base import Workload, WorkloadKind


class XGrammarEngine(Engine):
    name = "xgrammar"
    requires = ("xgrammar",)
    supported_kinds = frozenset({WorkloadKind.REGEX, WorkloadKind.GBNF, WorkloadKind.JSON_SCHEMA})
    # JSON-Schema-compliant mode (MaskBench's "XGrammar compliant" column): xgrammar's default
    # strict_mode=True forbids properties and items a schema leaves unspecified, so valid
    # instances with extra properties would be refused.  Whitespace stays at its default (any).
    default_json_schema_options = {"strict_mode": False}

    def __init__(self) -> None:
        import xgrammar

        self._xgr = xgrammar
        self._compiler: Any = None
        self._vocab_size = 0
        self._stop_ids: frozenset[int] = frozenset()

    def version(self) -> str:
        from importlib.metadata import version

        return version("xgrammar")

    def prepare(self, source: TokenizerSource, hf_tokenizer: Any | None) -> None:
        info = self._xgr.TokenizerInfo.from_huggingface(hf_tokenizer)
        self._vocab_size = info.vocab_size
        self._stop_ids = frozenset(int(i) for i in info.stop_token_ids)
        self._compiler = self._xgr.GrammarCompiler(info, cache_enabled=False)

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    def stop_token_ids(self) -> frozenset[int]:
        return self._stop_ids

    def compile(self, workload: Workload) -> Any:
        if workload.kind is WorkloadKind.REGEX:
            return self._compiler.compile_regex(workload.source)
        if workload.kind is WorkloadKind.GBNF:
            return self._compiler.compile_grammar(workload.source)
        if workload.kind is WorkloadKind.JSON_SCHEMA:
            return self._compiler.compile_json_schema(workload.source, **self.json_schema_options())
        raise UnsupportedWorkload(f"xgrammar has no {workload.kind.value} front-end")

    def new_matcher(self, handle: Any) -> Any:
        return self._xgr.GrammarMatcher(handle)

    def fill_mask(self, matcher: Any, bitmask: np.ndarray) -> None:
        matcher.fill_next_token_bitmask(bitmask, 0)

    def consume(self, matcher: Any, token_id: int) -> bool:
        return bool(matcher.accept_token(token_id))

    def is_accepting(self, matcher: Any) -> bool:
        return bool(matcher.is_completed())
