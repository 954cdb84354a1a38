"""Pieces -> token windows for training: a split by piece, windows that fit the context.

A piece longer than the context is cut at bar lines into windows, each starting again
with BOS and the piece's header, so that the model learns to continue from any bar (the
decoder re-primes long pieces the same way).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from generation.lm.vocab import Piece, Vocabulary, encode_piece

__all__ = ["batches", "piece_windows", "split_by_piece", "windows"]


def split_by_piece(
    pieces: Sequence[Piece], *, validation_fraction: float = 0.1
) -> tuple[list[Piece], list[Piece]]:
    """(train, validation): each piece wholly in one, decided by a hash of its name.

    The hash keeps the split stable when pieces are added. With two or more pieces the
    validation set is never empty.
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction: got {validation_fraction}; must be in [0, 1)")
    train, validation = [], []
    for piece in pieces:
        bucket = zlib.crc32(piece.name.encode("utf-8")) % 10_000
        (validation if bucket < validation_fraction * 10_000 else train).append(piece)
    if not validation and len(train) >= 2 and validation_fraction > 0:
        validation.append(train.pop())
    return train, validation


def piece_windows(piece: Piece, vocab: Vocabulary, *, context: int) -> list[list[int]]:
    """The piece as token ids, cut at bar lines into windows of at most ``context``."""
    tokens = encode_piece(piece)
    if len(tokens) <= context:
        return [vocab.encode(tokens)]
    header = tokens[: 1 + len(piece.conditions.tokens())]
    body = tokens[len(header) :]
    # Bar starts: a BAR, or the SECTION token just before it.
    starts = [
        i
        for i, t in enumerate(body)
        if (t == "BAR" and (i == 0 or not body[i - 1].startswith("SECTION_")))
        or t.startswith("SECTION_")
    ]
    starts.append(len(body))
    result, begin = [], 0
    room = context - len(header)
    for k in range(1, len(starts)):
        if starts[k] - begin > room:
            end = starts[k - 1]
            if end <= begin:  # a single bar longer than the context: cut it
                end = begin + room
            result.append(vocab.encode(header + body[begin:end]))
            begin = end
    if begin < len(body):
        result.append(vocab.encode(header + body[begin:]))
    return result


def windows(pieces: Sequence[Piece], vocab: Vocabulary, *, context: int) -> list[list[int]]:
    """Every piece's windows (see :func:`piece_windows`)."""
    return [w for piece in pieces for w in piece_windows(piece, vocab, context=context)]


def batches(
    sequences: Sequence[list[int]], *, batch_tokens: int, seed: int, pad_id: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of similar length: (input ids, attention mask), each (batch, length) int64.

    Sequences are sorted by length and grouped so that a batch holds about
    ``batch_tokens`` tokens with padding; the order of batches is shuffled by ``seed``.
    """
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    groups: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = len(sequences[index])
        if current and longest * (len(current) + 1) > batch_tokens:
            groups.append(current)
            current = []
        current.append(index)
    if current:
        groups.append(current)
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    result = []
    for group in groups:
        length = max(len(sequences[i]) for i in group)
        ids = np.full((len(group), length), pad_id, dtype=np.int64)
        mask = np.zeros((len(group), length), dtype=np.int64)
        for row, index in enumerate(group):
            seq = sequences[index]
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        result.append((ids, mask))
    return result
