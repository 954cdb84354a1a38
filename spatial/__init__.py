"""Binaural rendering: HRTFs (SOFA), room acoustics, BRIR assembly, convolution, mastering.

Imports only ``scene``'s room and geometry types, never ``generation`` or ``loci``.
"""

from spatial.types import SAMPLE_RATE, MasteringReport, PlacedSource

__all__ = ["SAMPLE_RATE", "MasteringReport", "PlacedSource"]
