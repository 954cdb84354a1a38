"""The world: scene files, rooms and materials, listener and sources, and perception (E).

Imports none of the project's other packages.
"""

from scene.environment import Environment, Feature
from scene.errors import SceneError
from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Material, Pose, Room, Scene, SourceSpec

__all__ = [
    "BANDS_HZ",
    "SHOEBOX_SURFACES",
    "Environment",
    "Feature",
    "Material",
    "Pose",
    "Room",
    "Scene",
    "SceneError",
    "SourceSpec",
    "load",
    "perceive",
]


def load(path):  # thin lazy re-export, documented in scene.loader
    """Load and validate a scene file; see :func:`scene.loader.load_scene`."""
    from scene.loader import load_scene

    return load_scene(path)


def perceive(scene):  # thin lazy re-export
    """Measure the environment E of a scene; see :func:`scene.perception.perceive`."""
    from scene.perception import perceive as _perceive

    return _perceive(scene)
