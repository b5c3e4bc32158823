"""Engine adapters, by the name used on the command line and in result tables."""

from __future__ import annotations

import importlib

from benchmarks.engines.base import Engine, EngineUnavailable, TokenizerSource, UnsupportedWorkload

# name -> (module, class); adapter modules import their engine only when instantiated.
ENGINES: dict[str, tuple[str, str]] = {
    "automask": ("benchmarks.engines.automask_engine", "AutomaskEngine"),
    "xgrammar": ("benchmarks.engines.xgrammar_engine", "XGrammarEngine"),
    "llguidance": ("benchmarks.engines.llguidance_engine", "LLGuidanceEngine"),
    "outlines-core": ("benchmarks.engines.outlines_core_engine", "OutlinesCoreEngine"),
}


def engine_class(name: str) -> type[Engine]:
    """The adapter class for ``name``; ValueError names the known engines."""
    try:
        module_name, class_name = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known engines: {', '.join(ENGINES)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def create_engine(name: str) -> Engine:
    """Instantiate the adapter for ``name``; `EngineUnavailable` if its package is not installed."""
    cls = engine_class(name)
    missing = cls.missing_requirements()
    if missing:
        raise EngineUnavailable(f"{name}: not installed (missing {', '.join(missing)})")
    try:
        return cls()
    except ImportError as exc:
        raise EngineUnavailable(f"{name}: import failed ({exc})") from exc


__all__ = [
    "ENGINES",
    "Engine",
    "EngineUnavailable",
    "TokenizerSource",
    "UnsupportedWorkload",
    "create_engine",
    "engine_class",
]
