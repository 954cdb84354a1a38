"""Reflections in world-frame ambisonics for the streaming renderer: a turning head costs
nothing.

A source's reflections reach the ears through the HRTF of each image's direction in the
head frame, so every turn of the head makes them anew (milliseconds a source). Game
audio engines that serve many listeners (Steam Audio's ambisonic reflections, Resonance
Audio's room effects) keep them instead as an ambisonic sound field fixed to the world:
each source's reflections are encoded once per position, every source feeds one bus of
``(order + 1)^2`` channels, and the bus is turned to the head (a rotation of its spherical
harmonics, interpolated sample by sample over each block) and decoded to the two ears
with fixed filters (:func:`spatial.ambisonics.decoder_filters`). Turning the head then
changes one small matrix; only moving the listener or a source remakes a source's
reflections. The price is the spatial detail of the reflections, that of the order (the
direct sound keeps its own HRTF).

:class:`AmbisonicReflections` holds the bus and the decoder's state of one renderer;
:func:`encode_reflections` and :func:`rotation_matrix` are its two pieces of geometry.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from scene.model import Pose
from spatial import blockfft
from spatial.ambisonics import (
    _accumulate_encoded,
    channel_count,
    decoder_filters,
    sn3d_harmonics,
    virtual_loudspeakers,
)
from spatial.bands import band_sum
from spatial.brir import head_frame
from spatial.fractional import FRACTIONAL_DELAY_HALF_TAPS
from spatial.hrtf import Hrtf
from spatial.image_sources import ImageSources
from spatial.late import FADE_S
from spatial.partitioned import mac_partitions, partition

__all__ = ["AmbisonicReflections", "encode_reflections", "rotation_matrix"]


def encode_reflections(
    images: ImageSources, position: np.ndarray, order: int, *, cut_s: float, fs: int
) -> np.ndarray:
    """A source's reflections (image orders >= 1) as an AmbiX response in the world frame.

    Parameters
    ----------
    images
        The source's image sources for the listener at ``position``.
    position
        Shape (3,): the listener's position, metres; the frame's front is +x, left +y, up
        +z (a head with yaw and pitch 0).
    order
        Ambisonic order, 1 to 3.
    cut_s
        Images fade out with ``cos`` over ``cut_s +- FADE_S / 2`` (where the late tail
        fades in), as in the binaural reflections.
    fs
        Sample rate, Hz.

    Returns
    -------
    numpy.ndarray
        float32, shape ((order + 1)^2, L), ACN / SN3D, time 0 at emission; (C, 0) when
        no reflection is kept.
    """
    delays = images.delays_s
    weight = np.ones(delays.size)
    if math.isfinite(cut_s):
        u = np.clip((delays - (cut_s - FADE_S / 2.0)) / FADE_S, 0.0, 1.0)
        weight = np.cos(0.5 * np.pi * u)
    keep = (weight > 0.0) & (images.orders > 0)
    channels = channel_count(order)
    if not np.any(keep):
        return np.zeros((channels, 0))
    world = Pose(position=tuple(float(v) for v in position))
    harmonics = sn3d_harmonics(order, head_frame(world, images.positions[keep]))
    delay_samples = delays[keep] * fs
    gains = images.gains[keep] * weight[keep][:, None]
    half = FRACTIONAL_DELAY_HALF_TAPS
    length = int(np.ceil(delay_samples.max())) + 2 * half + 2
    # Single precision, as the binaural reflections: the response ends up float32, and
    # its band split runs twice as fast.
    per_band = np.zeros((channels, gains.shape[1], length), dtype=np.float32)
    _accumulate_encoded(per_band, harmonics, delay_samples, gains, half)
    return band_sum(per_band, sample_rate=fs)


def rotation_matrix(order: int, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """The matrix that turns a world-frame AmbiX field into a head's frame.

    Parameters
    ----------
    order
        Ambisonic order, 1 to 3.
    yaw_deg, pitch_deg
        The head's orientation (as :class:`scene.model.Pose`).

    Returns
    -------
    numpy.ndarray
        float64, shape (C, C) with C = (order + 1)^2: ``R @ Y(v)`` is ``Y`` of ``v`` seen
        from the head (:func:`spatial.brir.head_frame`), for the SN3D harmonics ``Y`` of
        any world direction ``v``.

    Notes
    -----
    The head frame undoes the yaw (about z) and then the pitch (about the head's y
    axis). A turn about z mixes each ``cos(m az)`` harmonic with its ``sin(m az)`` twin;
    a turn about y is one about z between two fixed quarter turns about x, whose matrices
    are fitted once (a rotation keeps each degree's harmonics among themselves, so the
    least-squares fit over 32 directions is exact to rounding). A few microseconds, not
    the fraction of a millisecond that evaluating the harmonics takes: it runs for every
    pose.
    """
    to_y, from_y = _quarter_turns(order)
    return (
        to_y
        @ _z_turn(order, math.radians(pitch_deg))
        @ from_y
        @ _z_turn(order, -math.radians(yaw_deg))
    )


def _z_turn(order: int, angle: float) -> np.ndarray:
    # Y(Rz(angle) v) = T Y(v): the azimuth grows by `angle`.
    turn = np.eye(channel_count(order))
    for n in range(1, order + 1):
        for m in range(1, n + 1):
            c, s = math.cos(m * angle), math.sin(m * angle)
            cos_m, sin_m = n * n + n + m, n * n + n - m
            turn[cos_m, cos_m] = c
            turn[cos_m, sin_m] = -s
            turn[sin_m, cos_m] = s
            turn[sin_m, sin_m] = c
    return turn


@lru_cache(maxsize=4)
def _quarter_turns(order: int) -> tuple[np.ndarray, np.ndarray]:
    # Q, a quarter turn about x, takes z to y, so Ry(b) = Q Rz(b) Q^-1: the harmonics'
    # matrices of Q and of Q^-1.
    quarter = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    return _fitted(order, quarter), _fitted(order, quarter.T)


def _fitted(order: int, rotation: np.ndarray) -> np.ndarray:
    points = virtual_loudspeakers()
    world = sn3d_harmonics(order, points)
    turned = sn3d_harmonics(order, points @ rotation.T)
    solution, *_ = np.linalg.lstsq(world, turned, rcond=None)
    solution = solution.T
    solution.setflags(write=False)
    return solution


class AmbisonicReflections:
    """The reflections' bus of one streaming renderer: mix, turn, decode.

    Parameters
    ----------
    order
        Ambisonic order, 1 to 3.
    hrtf
        The HRTF the decoder's virtual loudspeakers play through.
    block
        Samples per block.
    """

    def __init__(self, order: int, hrtf: Hrtf, block: int) -> None:
        self.order = order
        self.channels = channels = channel_count(order)
        self._block = block
        bins = block + 1
        # The bus's spectra: [0] through the new reflections of the sources changing this
        # block, [1] through their previous ones, [2] the sources not changing (added to
        # both): see _mac_bus.
        self._bus = np.zeros((3, channels, bins), dtype=np.complex64)
        filters = decoder_filters(hrtf, order)  # (C, 2, taps)
        parts = math.ceil(filters.shape[2] / block)
        self._decoder = np.zeros((parts, channels, 2, bins), dtype=np.complex64)
        for c in range(channels):
            first, spectra = partition(filters[c], 0, block, negligible=0.0)
            self._decoder[first : first + spectra.shape[0], c] = spectra
        self._frames = np.zeros((channels, 2 * block), dtype=np.float32)
        self._fdl = np.zeros((channels, parts, bins), dtype=np.complex64)
        self._count = 0
        self._turn: tuple[float, float] | None = None
        self._rotation = np.eye(channels, dtype=np.float32)
        self._previous = self._rotation.copy()
        # The rotation glides linearly, reaching this block's at its last sample: a head
        # turning steadily turns the field at a steady rate (a raised-cosine glide would
        # stop and start it every block, a 187.5 Hz wobble at 256 samples).
        self._glide = ((np.arange(block) + 1.0) / block).astype(np.float32)

    def reset(self) -> None:
        """Forget all past input."""
        self._frames[...] = 0
        self._fdl[...] = 0

    def add_block(
        self,
        fdl: np.ndarray,
        newest: int,
        reflections: tuple[np.ndarray, ...],
        listener: Pose,
        ramp: np.ndarray,
        common: np.ndarray,
    ) -> None:
        """Add this block's reflections, heard by ``listener``'s head, to ``common``.

        ``fdl`` holds the sources' input spectra with this block's at ``newest``;
        ``reflections`` are the renderer's reflection partitions (C channels) and its
        pool of previous ones, as :func:`_mac_bus` takes them (``r_old[s] >= 0`` while
        source s changes: crossfaded over the block, and the mark cleared); ``common``
        (2, block + 1) is the output spectrum every part of the renderer's output hears.
        """
        turn = (listener.yaw_deg, listener.pitch_deg)
        first = self._turn is None
        self._previous[...] = self._rotation
        if turn != self._turn:
            self._turn = turn
            self._rotation[...] = rotation_matrix(self.order, *turn)
            if first:  # no glide from the identity into the first pose
                self._previous[...] = self._rotation
        bus = self._bus
        fading = _mac_bus(fdl, newest, *reflections, bus)
        rows = bus[: 2 if fading else 1].reshape(-1, bus.shape[2])
        outputs = blockfft.irfft(rows, 2 * self._block)
        _turn_block(
            outputs, fading, ramp, self._glide, self._previous, self._rotation, self._frames
        )
        parts = self._fdl.shape[1]
        self._count += 1
        newest_input = self._count % parts
        self._fdl[:, newest_input] = blockfft.rfft(self._frames)
        _decode(self._fdl, newest_input, self._decoder, common)


@njit(cache=True, fastmath=True)
def _mac_bus(
    fdl: np.ndarray,
    newest: int,
    r_spec: np.ndarray,
    r_first: np.ndarray,
    r_count: np.ndarray,
    r_pool: np.ndarray,
    r_pool_first: np.ndarray,
    r_pool_count: np.ndarray,
    r_old: np.ndarray,
    bus: np.ndarray,
) -> bool:
    # bus[2]: the sources whose reflections did not change; bus[0] the changing ones'
    # new reflections and bus[1] their old ones, each with bus[2] added at the end.
    bus[...] = 0
    fading = False
    for s in range(fdl.shape[0]):
        j = r_old[s]
        if j < 0:
            mac_partitions(fdl[s], newest, r_spec[s], r_first[s], r_count[s], bus[2])
        else:
            mac_partitions(fdl[s], newest, r_spec[s], r_first[s], r_count[s], bus[0])
            mac_partitions(fdl[s], newest, r_pool[j], r_pool_first[j], r_pool_count[j], bus[1])
            r_old[s] = -1
            fading = True
    for k in range(2):
        for c in range(bus.shape[1]):
            for f in range(bus.shape[2]):
                bus[k, c, f] += bus[2, c, f]
    return fading


@njit(cache=True)
def _turn_block(
    outputs: np.ndarray,
    fading: bool,
    ramp: np.ndarray,
    glide: np.ndarray,
    previous: np.ndarray,
    rotation: np.ndarray,
    frames: np.ndarray,
) -> None:
    # The bus's block (the valid half of each overlap-save output; crossfaded from the
    # previous reflections when any changed), turned by a rotation that glides from the
    # previous block's to this one's, becomes the second half of the decoder's input frame.
    channels, size = frames.shape
    block = size // 2
    value = np.empty(channels, dtype=np.float32)
    for c in range(channels):
        for n in range(block):
            frames[c, n] = frames[c, block + n]
    for n in range(block):
        r = ramp[n]
        for c in range(channels):
            v = outputs[c, block + n]
            if fading:
                before = outputs[channels + c, block + n]
                v = before + r * (v - before)
            value[c] = v
        u = glide[n]
        for i in range(channels):
            acc = 0.0
            for c in range(channels):
                g = previous[i, c] + u * (rotation[i, c] - previous[i, c])
                acc += g * value[c]
            frames[i, block + n] = acc


@njit(cache=True, fastmath=True)
def _decode(fdl: np.ndarray, newest: int, decoder: np.ndarray, common: np.ndarray) -> None:
    # common[e] += sum_p sum_c fdl[c, newest - p] decoder[p, c, e]
    channels, parts, bins = fdl.shape
    for p in range(parts):
        k = (newest - p) % parts
        for c in range(channels):
            x = fdl[c, k]
            for e in range(2):
                h = decoder[p, c, e]
                for f in range(bins):
                    common[e, f] += x[f] * h[f]
