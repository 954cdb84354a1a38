"""Binaural rendering: HRTFs (SOFA), room acoustics, BRIR assembly, convolution, mastering.

Imports only ``scene``'s room and geometry types, never ``generation`` or ``loci``.
"""

from spatial.ambisonics import decode_binaural, render_ambisonics, sn3d_harmonics
from spatial.hrtf import Hrtf, default_hrtf, load_hrtf, load_sofa, spherical_head_hrtf
from spatial.master import master
from spatial.mesh_room import heard_rt60_s
from spatial.moving import render_moving
from spatial.render import binaural_room_impulse_response, render_scene
from spatial.stream import StreamRenderer
from spatial.types import SAMPLE_RATE, MasteringReport, PlacedSource

__all__ = [
    "SAMPLE_RATE",
    "Hrtf",
    "MasteringReport",
    "PlacedSource",
    "StreamRenderer",
    "binaural_room_impulse_response",
    "decode_binaural",
    "default_hrtf",
    "heard_rt60_s",
    "load_hrtf",
    "load_sofa",
    "master",
    "render_ambisonics",
    "render_moving",
    "render_scene",
    "sn3d_harmonics",
    "spherical_head_hrtf",
]
