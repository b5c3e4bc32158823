r"""automask: compile regexes, grammars and JSON Schemas into token-level automata.

    import automask
    vocab = automask.load_vocabulary("llama3")
    grammar = automask.compile_regex(r"\d{4}-\d{2}-\d{2}", vocab)
    matcher = grammar.matcher()
    bitmask = automask.allocate_token_bitmask(1, vocab.size)
    matcher.fill_next_token_bitmask(bitmask, 0)

Names are resolved lazily so that ``import automask`` stays fast and torch-free until a
torch-facing name (``LogitsProcessor``, ``generate``, ``apply_token_bitmask_inplace``) is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # public API
    "compile_regex": "automask.api",
    "compile_grammar": "automask.grammar_api",
    "compile_json_schema": "automask.json_schema_api",
    "CompileLimits": "automask.compiler.limits",
    "Vocabulary": "automask.compiler.vocabulary.vocabulary",
    "load_vocabulary": "automask.compiler.vocabulary.builtin",
    "load_tokenizer": "automask.compiler.vocabulary.builtin",
    "CompiledGrammar": "automask.runtime.compiled_grammar",
    "Matcher": "automask.runtime.matcher",
    "allocate_token_bitmask": "automask.runtime.bitmask",
    "apply_token_bitmask_inplace": "automask.runtime.bitmask",
    "LogitsProcessor": "automask.runtime.integrations.transformers",
    "generate": "automask.runtime.integrations.transformers",
    "load_default_model": "automask.runtime.integrations.default_model",
    "awrs_step": "automask.runtime.awrs",
    "SMC": "automask.runtime.smc",
    "SMCResult": "automask.runtime.smc",
    "ASAp": "automask.runtime.asap",
    "MaskedSampler": "automask.runtime.sampling_masked",
    "errors": "automask.errors",
}

__all__ = [
    "ASAp",
    "CompileLimits",
    "CompiledGrammar",
    "LogitsProcessor",
    "MaskedSampler",
    "Matcher",
    "SMC",
    "SMCResult",
    "Vocabulary",
    "__version__",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "awrs_step",
    "compile_grammar",
    "compile_json_schema",
    "compile_regex",
    "errors",
    "generate",
    "load_default_model",
    "load_tokenizer",
    "load_vocabulary",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'automask' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from automask import errors
    from automask.api import compile_regex
    from automask.compiler.limits import CompileLimits
    from automask.compiler.vocabulary.builtin import load_tokenizer, load_vocabulary
    from automask.compiler.vocabulary.vocabulary import Vocabulary
    from automask.grammar_api import compile_grammar
    from automask.json_schema_api import compile_json_schema
    from automask.runtime.asap import ASAp
    from automask.runtime.awrs import awrs_step
    from automask.runtime.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace
    from automask.runtime.compiled_grammar import CompiledGrammar
    from automask.runtime.integrations.default_model import load_default_model
    from automask.runtime.integrations.transformers import LogitsProcessor, generate
    from automask.runtime.matcher import Matcher
    from automask.runtime.sampling_masked import MaskedSampler
    from automask.runtime.smc import SMC, SMCResult
