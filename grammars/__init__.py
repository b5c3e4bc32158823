"""Grammars bundled with automask (Lark ``*.lark`` and GBNF ``*.gbnf`` files).

`load_bundled` returns a grammar's text; `bundled_names` lists what is available.
"""

from __future__ import annotations

from importlib import resources


def bundled_names() -> list[str]:
    """File names of the bundled grammars, sorted (e.g. ``["arithmetic.gbnf", ...]``)."""
    return sorted(
        entry.name for entry in resources.files(__name__).iterdir() if entry.name.endswith((".lark", ".gbnf"))
    )


def load_bundled(name: str) -> str:
    """The text of bundled grammar ``name`` (a file name such as ``"sql.lark"``)."""
    if name not in bundled_names():
        raise FileNotFoundError(f"no bundled grammar {name!r}; available: {', '.join(bundled_names())}")
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
