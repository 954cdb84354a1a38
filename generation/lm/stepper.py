"""Feed tokens to the music LM one step at a time, keeping its key/value cache.

Decoding a piece is about 700 model calls of one or a few tokens each. Through
transformers' modules each call of the default 6 x 256 GPT-2 costs about 6 ms on this CPU,
half of it Python: module dispatch, configuration lookups and a key/value cache that grows
by concatenation. :class:`NumpyGPT2` runs the same weights as the same arithmetic
(GPT-2's pre-norm blocks, tanh GELU, scaled dot-product attention, tied output
embedding) in float32 numpy, with the cache preallocated for the model's whole context,
in about 2.5 ms a call (``benchmarks/bench_lm_speed.py``: a 60 s piece in 2.2 s against
4.4 s). Its logits agree with transformers' to float32 rounding
(``tests/test_generation_lm.py``).

:class:`TransformersStepper` is the same interface over the transformers model itself, for
what the numpy path does not cover: a CUDA GPU, half precision, int8-quantised layers, or
a configuration it does not know.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "GPT2Weights",
    "NumpyGPT2",
    "Stepper",
    "TransformersStepper",
    "gpt2_weights",
    "make_stepper",
]


class Stepper(Protocol):
    """A model with a key/value cache: feed tokens, read the next token's logits.

    Attributes
    ----------
    length
        Tokens in the cache.
    """

    length: int

    def feed(self, ids: list[int]):
        """Append ``ids`` to the cache; the logits after the last, a (vocabulary,) float32
        CPU tensor."""

    def crop(self, length: int) -> None:
        """Keep the first ``length`` tokens of the cache."""

    def reset(self) -> None:
        """Empty the cache."""


@dataclass(frozen=True)
class _Block:
    ln1: tuple[np.ndarray, np.ndarray]
    attn: tuple[np.ndarray, np.ndarray]  # (width, 3 width), (3 width,)
    attn_out: tuple[np.ndarray, np.ndarray]
    ln2: tuple[np.ndarray, np.ndarray]
    fc: tuple[np.ndarray, np.ndarray]
    fc_out: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class GPT2Weights:
    """A GPT-2's float32 weights as numpy arrays (views of the torch parameters).

    Attributes
    ----------
    token, position
        (vocabulary, width) and (context, width) embeddings; ``token`` is also the output
        projection (tied, as GPT-2 ties them).
    blocks
        Per layer: layer norms (gain, bias), and the attention and MLP projections as
        (in, out) matrices with their biases, as transformers' ``Conv1D`` stores them.
    final_norm
        The last layer norm (gain, bias).
    heads, epsilon
        Attention heads and the layer norms' epsilon.
    """

    token: np.ndarray
    position: np.ndarray
    blocks: tuple[_Block, ...]
    final_norm: tuple[np.ndarray, np.ndarray]
    heads: int
    epsilon: float

    @property
    def context(self) -> int:
        return self.position.shape[0]

    @property
    def width(self) -> int:
        return self.token.shape[1]


def gpt2_weights(model) -> GPT2Weights | None:
    """The numpy weights of a float32 CPU ``GPT2LMHeadModel``, or None when the numpy path
    does not reproduce it (another device or precision, quantised layers, an activation or
    attention variant it does not implement)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    config = model.config
    if (
        getattr(config, "model_type", None) != "gpt2"
        or config.activation_function != "gelu_new"
        or not config.scale_attn_weights
        or config.scale_attn_by_inverse_layer_idx
        or config.reorder_and_upcast_attn
        or config.add_cross_attention
        or not config.tie_word_embeddings
    ):
        return None
    body = model.transformer
    parameters = list(model.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in parameters):
        return None

    def pair(a, b) -> tuple[np.ndarray, np.ndarray]:
        return a.detach().numpy(), b.detach().numpy()

    blocks = []
    for block in body.h:
        layers = (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj)
        if not all(isinstance(layer, Conv1D) for layer in layers):
            return None
        blocks.append(
            _Block(
                ln1=pair(block.ln_1.weight, block.ln_1.bias),
                attn=pair(block.attn.c_attn.weight, block.attn.c_attn.bias),
                attn_out=pair(block.attn.c_proj.weight, block.attn.c_proj.bias),
                ln2=pair(block.ln_2.weight, block.ln_2.bias),
                fc=pair(block.mlp.c_fc.weight, block.mlp.c_fc.bias),
                fc_out=pair(block.mlp.c_proj.weight, block.mlp.c_proj.bias),
            )
        )
    return GPT2Weights(
        token=body.wte.weight.detach().numpy(),
        position=body.wpe.weight.detach().numpy(),
        blocks=tuple(blocks),
        final_norm=pair(body.ln_f.weight, body.ln_f.bias),
        heads=int(config.n_head),
        epsilon=float(config.layer_norm_epsilon),
    )


def _layer_norm(x: np.ndarray, norm: tuple[np.ndarray, np.ndarray], epsilon: float):
    # np.add.reduce, not np.mean: the wrapper's checks cost as much as these short rows.
    scale = np.float32(1.0 / x.shape[-1])
    centred = x - np.add.reduce(x, axis=-1, keepdims=True) * scale
    variance = np.add.reduce(centred * centred, axis=-1, keepdims=True) * scale
    return centred / np.sqrt(variance + np.float32(epsilon)) * norm[0] + norm[1]


_GELU_C = np.float32(math.sqrt(2.0 / math.pi))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    # transformers' "gelu_new": GPT-2's tanh approximation, not the exact erf form.
    return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + np.float32(0.044715) * x * x * x)))


class NumpyGPT2:
    """GPT-2 decoding in float32 numpy with a preallocated key/value cache.

    Parameters
    ----------
    weights
        From :func:`gpt2_weights`; shared, never written.
    """

    def __init__(self, weights: GPT2Weights) -> None:
        self.weights = weights
        heads, width = weights.heads, weights.width
        self._head_width = width // heads
        self._scale = np.float32(1.0 / math.sqrt(self._head_width))
        shape = (len(weights.blocks), heads, weights.context, self._head_width)
        self._keys = np.zeros(shape, np.float32)
        self._values = np.zeros(shape, np.float32)
        self.length = 0

    def reset(self) -> None:
        self.length = 0

    def crop(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"crop: length {length} outside 0..{self.length}")
        self.length = length

    def feed(self, ids: list[int]):
        """Append ``ids`` and return the logits after the last one.

        Parameters
        ----------
        ids
            Token ids, at least one; the cache must have room for them.

        Returns
        -------
        torch.Tensor
            (vocabulary,) float32 logits on the CPU.
        """
        import torch

        w = self.weights
        count = len(ids)
        start, end = self.length, self.length + count
        if count == 0 or end > w.context:
            raise ValueError(f"feed: {count} tokens after {start}; the context is {w.context}")
        heads, head_width = w.heads, self._head_width
        x = w.token[ids] + w.position[start:end]  # (count, width)
        if count > 1:  # a later token in the chunk never sees an earlier one's future
            future = np.triu(np.ones((count, end), bool), k=start + 1)
        for layer, block in enumerate(w.blocks):
            h = _layer_norm(x, block.ln1, w.epsilon)
            qkv = h @ block.attn[0] + block.attn[1]  # (count, 3 width)
            split = qkv.reshape(count, 3, heads, head_width).transpose(1, 2, 0, 3)
            keys, values = self._keys[layer], self._values[layer]
            keys[:, start:end] = split[1]
            values[:, start:end] = split[2]
            scores = split[0] @ keys[:, :end].transpose(0, 2, 1)  # (heads, count, end)
            scores *= self._scale
            if count > 1:
                scores[:, future] = -np.inf
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ values[:, :end]).transpose(1, 0, 2).reshape(count, -1)
            x = x + (attended @ block.attn_out[0] + block.attn_out[1])
            h = _layer_norm(x, block.ln2, w.epsilon)
            x = x + (_gelu_tanh(h @ block.fc[0] + block.fc[1]) @ block.fc_out[0] + block.fc_out[1])
        self.length = end
        last = _layer_norm(x[-1], w.final_norm, w.epsilon)
        return torch.from_numpy(w.token @ last)


class TransformersStepper:
    """The :class:`Stepper` interface over a transformers causal LM and its cache."""

    def __init__(self, model, device: str) -> None:
        self.model = model
        self.device = device
        self._cache = None
        self.length = 0

    def reset(self) -> None:
        self._cache, self.length = None, 0

    def crop(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"crop: length {length} outside 0..{self.length}")
        if length == 0:
            self.reset()
        elif length < self.length:
            self._cache.crop(length - self.length)  # a negative count removes tokens
            self.length = length

    def feed(self, ids: list[int]):
        import torch

        # The cache goes in second place: transformers 5.23 names it past_key_values,
        # 5.25 cache.
        out = self.model(torch.tensor([ids], device=self.device), self._cache, use_cache=True)
        cache = getattr(out, "cache", None)
        self._cache = out.past_key_values if cache is None else cache
        self.length += len(ids)
        return out.logits[0, -1].float().cpu()


def make_stepper(loaded) -> Stepper:
    """The fastest stepper that reproduces ``loaded``'s model (a :class:`LoadedModel`)."""
    weights = loaded.numpy_weights
    if weights is not None:
        return NumpyGPT2(weights)
    return TransformersStepper(loaded.model, loaded.device)
