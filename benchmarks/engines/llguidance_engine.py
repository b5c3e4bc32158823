"""llguidance adapter: `llguidance.hf.from_tokenizer`, `LLMatcher`, `llguidance.numpy` masks.

llguidance builds its lexer lazily: constructing the `LLMatcher` (timed as "compile") is cheap
and part of the work moves into the first mask, which the harness reports separately.  Walks
start from ``deep_copy()`` of the compiled, never-advanced matcher.  JSON-Schema options
(``--option llguidance:whitespace_flexible=false``) go into the schema's ``"x-guidance"`` key.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from benchmarks.engines.base import Engine, TokenizerSource, UnsupportedWorkload
from benchmarks.workloads.base import Workload, WorkloadKind

_GRAMMAR_FORMATS = {
    WorkloadKind.REGEX: "regex",
    WorkloadKind.LARK: "lark",
    WorkloadKind.GBNF: "gbnf",
    WorkloadKind.JSON_SCHEMA: "json_schema",
}


class LLGuidanceEngine(Engine):
    name = "llguidance"
    requires = ("llguidance",)
    supported_kinds = frozenset(_GRAMMAR_FORMATS)

    def __init__(self) -> None:
        import llguidance
        import llguidance.hf
        import llguidance.numpy

        self._llg = llguidance
        self._fill = llguidance.numpy.fill_next_token_bitmask
        self._tokenizer: Any = None

    def version(self) -> str:
        from importlib.metadata import version

        return version("llguidance")

    def prepare(self, source: TokenizerSource, hf_tokenizer: Any | None) -> None:
        self._tokenizer = self._llg.hf.from_tokenizer(hf_tokenizer)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.vocab_size

    def stop_token_ids(self) -> frozenset[int]:
        return frozenset(int(i) for i in self._tokenizer.eos_tokens)

    def compile(self, workload: Workload) -> Any:
        source = workload.source
        options = self.json_schema_options()
        if workload.kind is WorkloadKind.JSON_SCHEMA and options:
            # llguidance reads its JSON options from the schema's "x-guidance" key.
            schema = json.loads(source)
            if isinstance(schema, dict):
                source = json.dumps({**schema, "x-guidance": options})
        grammar = self._llg.grammar_from(_GRAMMAR_FORMATS[workload.kind], source)
        matcher = self._llg.LLMatcher(self._tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise UnsupportedWorkload(f"llguidance refused the grammar: {matcher.get_error()}")
        return matcher

    def new_matcher(self, handle: Any) -> Any:
        return handle.deep_copy()

    def fill_mask(self, matcher: Any, bitmask: np.ndarray) -> None:
        self._fill(matcher, bitmask, 0)

    def consume(self, matcher: Any, token_id: int) -> bool:
        return bool(matcher.consume_token(token_id))

    def is_accepting(self, matcher: Any) -> bool:
        return bool(matcher.is_accepting())
