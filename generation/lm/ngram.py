"""An interpolated Kneser-Ney n-gram model over token ids: the baseline the LM must beat.

Counts are kept in sorted numpy arrays of packed n-gram keys (8 bits a token), so a
4-gram model of a million tokens fits in a few tens of megabytes. Discounts per order
are Ney's estimate ``D = n1 / (n1 + 2 n2)``; the unigram level interpolates with the
uniform distribution, so no token has probability zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["KneserNey"]

_BITS = 8


def _grams(sequences: Sequence[Sequence[int]], order: int, pad: int) -> np.ndarray:
    """Packed keys of every ``order``-gram ending on a predicted token (not the first)."""
    keys = []
    for seq in sequences:
        padded = np.concatenate([np.full(order - 1, pad, dtype=np.int64), np.asarray(seq)])
        if len(seq) < 2:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(padded, order)[1:]
        key = np.zeros(len(windows), dtype=np.int64)
        for column in range(order):
            key = (key << _BITS) | windows[:, column]
        keys.append(key)
    return np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)


class _Level:
    """Counts of one order: keys, their counts, and per-context totals and types."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray) -> None:
        self.keys, self.counts = keys, counts.astype(np.float64)
        contexts = keys >> _BITS
        self.contexts, first, types = np.unique(contexts, return_index=True, return_counts=True)
        self.context_totals = np.add.reduceat(self.counts, first) if len(first) else first
        self.context_types = types.astype(np.float64)
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        self.discount = float(n1 / (n1 + 2 * n2)) if n1 + 2 * n2 > 0 else 0.5

    def lookup(self, table_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        index = np.searchsorted(table_keys, query)
        index = np.minimum(index, len(table_keys) - 1)
        found = table_keys[index] == query if len(table_keys) else np.zeros(len(query), bool)
        return np.where(found, values[index] if len(table_keys) else 0.0, 0.0)


class KneserNey:
    """Interpolated Kneser-Ney language model of a given order over ids < 256.

    Parameters
    ----------
    sequences
        Training sequences of token ids (each starting with its BOS).
    order
        n, e.g. 4.
    vocab_size
        Number of distinct ids (<= 256), for the uniform floor.
    pad
        An id that never occurs as a target (used to pad the first contexts).
    """

    def __init__(
        self, sequences: Sequence[Sequence[int]], *, order: int, vocab_size: int, pad: int
    ) -> None:
        if vocab_size > 1 << _BITS:
            raise ValueError(f"vocab_size: got {vocab_size}; at most {1 << _BITS}")
        if order < 1 or order * _BITS > 62:
            raise ValueError(f"order: got {order}; must be 1..7")
        self.order, self.vocab_size, self.pad = order, vocab_size, pad
        top_keys, top_counts = np.unique(_grams(sequences, order, pad), return_counts=True)
        levels: list[_Level] = [None] * (order + 1)  # type: ignore[list-item]
        levels[order] = _Level(top_keys, top_counts)
        keys = top_keys
        for k in range(order - 1, 0, -1):
            # Continuation counts: distinct tokens seen before each (k)-gram.
            suffixes = keys & ((1 << (_BITS * k)) - 1)
            keys, counts = np.unique(suffixes, return_counts=True)
            levels[k] = _Level(keys, counts)
        self._levels = levels

    def log_probs(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Natural-log probability of every token after the first of each sequence."""
        queries = _grams(sequences, self.order, self.pad)
        level1 = self._levels[1]
        total1 = level1.counts.sum()
        words = queries & ((1 << _BITS) - 1)
        c1 = level1.lookup(level1.keys, level1.counts, words)
        d = level1.discount
        prob = np.maximum(c1 - d, 0) / total1 + d * len(level1.keys) / total1 / self.vocab_size
        for k in range(2, self.order + 1):
            level = self._levels[k]
            gram = queries & ((1 << (_BITS * k)) - 1)
            context = gram >> _BITS
            count = level.lookup(level.keys, level.counts, gram)
            total = level.lookup(level.contexts, level.context_totals, context)
            types = level.lookup(level.contexts, level.context_types, context)
            d = level.discount
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = np.maximum(count - d, 0) / safe + d * types / safe * prob
            prob = np.where(seen, mixed, prob)
        return np.log(prob)

    def cross_entropy(self, sequences: Sequence[Sequence[int]]) -> float:
        """Mean negative log-likelihood per predicted token, nats."""
        return float(-self.log_probs(sequences).mean())
