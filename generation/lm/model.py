"""Build, load and identify the music LM (a transformers GPT-2).

Loading goes through ``GPT2LMHeadModel.from_pretrained`` on a folder written by
``save_pretrained`` (config, safetensors weights, tokenizer). On a CUDA GPU the model runs
in half precision; on the CPU in float32, or with int8 dynamic quantisation of its linear
layers where that measures faster (``benchmarks/bench_lm_speed.py``). GPT-2's blocks use
transformers' ``Conv1D``, which PyTorch's dynamic quantisation does not touch, so they are
converted to ``nn.Linear`` first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from generation.lm.vocab import Vocabulary

if TYPE_CHECKING:
    from generation.lm.stepper import GPT2Weights

__all__ = [
    "MODEL_FILE",
    "LMError",
    "LoadedModel",
    "load_model",
    "model_hash",
    "new_model",
    "quiet_transformers",
]

MODEL_FILE = "model.safetensors"
Precision = Literal["auto", "fp32", "int8", "fp16"]


class LMError(ValueError):
    """A problem with a music LM folder or a plan the LM cannot write (names the value)."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to decode: the torch module, where it runs, and what it is."""

    model: object  # transformers.GPT2LMHeadModel, possibly quantised
    vocab: Vocabulary
    folder: Path
    name: str
    sha256: str
    device: str
    precision: str
    context: int
    #: The float32 CPU weights as numpy arrays for the fast decoding path
    #: (:class:`generation.lm.stepper.NumpyGPT2`); None where it does not apply.
    numpy_weights: GPT2Weights | None = None


@contextlib.contextmanager
def quiet_transformers():
    """Hide transformers' loading and saving progress bars (ours shows the progress)."""
    from transformers.utils import logging

    was = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            logging.enable_progress_bar()


def _require_torch():
    try:
        import torch
        import transformers
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise LMError(
            "the lm backend needs torch and transformers: pip install 'genius-loci[lm]'"
        ) from error
    return torch, transformers


def new_model(
    vocab: Vocabulary, *, layers: int = 6, width: int = 256, heads: int = 4, context: int = 1024
):
    """A randomly initialised GPT-2 for the vocabulary (``torch.manual_seed`` first)."""
    _, transformers = _require_torch()
    config = transformers.GPT2Config(
        vocab_size=len(vocab),
        n_positions=context,
        n_embd=width,
        n_layer=layers,
        n_head=heads,
        n_inner=4 * width,
        bos_token_id=vocab.bos_id,
        eos_token_id=vocab.eos_id,
        pad_token_id=vocab.pad_id,
        resid_pdrop=0.1,
        embd_pdrop=0.1,
        attn_pdrop=0.1,
    )
    return transformers.GPT2LMHeadModel(config)


def model_hash(folder: Path) -> str:
    """SHA-256 of a model folder's weights file (hex)."""
    digest = hashlib.sha256()
    with (folder / MODEL_FILE).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _linear_from_conv1d(conv, torch):
    """transformers' Conv1D (weight in x out) as an equivalent nn.Linear."""
    n_in, n_out = conv.weight.shape
    linear = torch.nn.Linear(n_in, n_out)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.T)
        linear.bias.copy_(conv.bias)
    return linear


def quantize_int8(model):
    """The model with every Conv1D and Linear layer as an int8 dynamic-quantised Linear."""
    torch, _ = _require_torch()
    from transformers.pytorch_utils import Conv1D

    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Conv1D):
                setattr(module, child_name, _linear_from_conv1d(child, torch))
    # Deprecated in torch 2.13 in favour of torchao, which is not installed here.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load_model(folder: Path, *, precision: Precision = "auto", device: str | None = None):
    """Load a music LM folder for decoding.

    Parameters
    ----------
    folder
        Written by ``loci train`` (``save_pretrained``): config.json, model.safetensors and
        the tokenizer files.
    precision
        ``auto``: fp16 on CUDA, fp32 on the CPU (int8 when ``training.json`` records that
        it measured faster); or ``fp32``, ``int8`` (CPU only), ``fp16`` (CUDA only).
    device
        ``cuda`` or ``cpu``; None picks CUDA when available.

    Raises
    ------
    LMError
        When the folder is missing, is not a music LM, or its vocabulary differs.
    """
    torch, transformers = _require_torch()
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / MODEL_FILE).is_file():
        raise LMError(
            f"--model: {str(folder)!r} is not a model folder (needs config.json and "
            f"{MODEL_FILE}; make one with `loci train`)"
        )
    vocab = Vocabulary()
    try:
        vocab.check_saved(folder)
    except ValueError as error:
        raise LMError(str(error)) from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if precision == "auto":
        if device == "cuda":
            precision = "fp16"
        else:
            info = _training_info(folder)
            precision = "int8" if info.get("cpu_precision") == "int8" else "fp32"
    if precision == "int8" and device != "cpu":
        raise LMError(f"precision int8 runs on the CPU only; got device {device!r}")
    if precision == "fp16" and device == "cpu":
        raise LMError("precision fp16 needs a CUDA GPU; on the CPU use fp32 or int8")
    with quiet_transformers():
        model = transformers.GPT2LMHeadModel.from_pretrained(str(folder))
    model.eval()
    if precision == "int8":
        model = quantize_int8(model)
    elif precision == "fp16":
        model = model.half()
    model = model.to(device)
    from generation.lm.stepper import gpt2_weights

    return LoadedModel(
        model=model,
        vocab=vocab,
        folder=folder.resolve(),
        name=folder.resolve().name,
        sha256=model_hash(folder),
        device=device,
        precision=precision,
        context=int(model.config.n_positions),
        numpy_weights=gpt2_weights(model),
    )


def _training_info(folder: Path) -> dict:
    path = folder / "training.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
