"""The scene of a session: a scene file sent in the hello, or a room for a few place words.

A scene that arrives over the network may not name files: the server would read its own
disk for a stranger (audio sources, frame folders and mesh files are refused).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from scene.errors import SceneError
from scene.loader import scene_from_dict
from scene.model import Scene

__all__ = ["HALL_PLACES", "OUTDOOR_PLACES", "scene_for_hello"]

#: Place words that put the listener outdoors (a ground and the open sky).
OUTDOOR_PLACES = {
    "beach": "sand",
    "海滩": "sand",
    "forest": "grass",
    "森林": "grass",
    "park": "grass",
    "公园": "grass",
    "garden": "grass",
    "river": "grass",
    "field": "grass",
}
#: Place words that put the listener in a large, reverberant hall.
HALL_PLACES = ("museum", "hall", "church", "cathedral", "博物馆", "大厅", "教堂")
_FILE = "hello.scene"


def scene_for_hello(
    *, scene_text: str | None, place: str | None, instruction: str | None, seed: int
) -> Scene:
    """The session's scene: the hello's scene file, or a room chosen from place words.

    Parameters
    ----------
    scene_text
        A scene file's content (YAML or JSON), or None.
    place
        Place words (``"beach"``, ``"a museum hall"``) used when no scene is given.
    instruction
        Replaces the scene's instruction when given.
    seed
        The session's seed (replaces the scene's).

    Raises
    ------
    SceneError
        For an invalid scene, or one that names files.
    """
    if scene_text is not None:
        data = _parse(scene_text)
        _refuse_files(data)
    else:
        data = _place_scene(place or "")
    if instruction:
        data["instruction"] = instruction
    data["seed"] = seed
    data.setdefault("instruction", "a calm, warm piece")
    return scene_from_dict(data, base_dir=Path.cwd(), file=_FILE)


def _parse(text: str) -> dict:
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise SceneError(f"not valid YAML or JSON ({error})", file=_FILE) from None
    if not isinstance(data, dict):
        raise SceneError("a scene file is a mapping of fields", file=_FILE, value=type(data))
    return data


def _refuse_files(data: dict) -> None:
    room = data.get("room")
    if isinstance(room, dict) and (room.get("kind") == "mesh" or "mesh" in room):
        raise SceneError(
            "a scene sent to the server may not name a mesh file", file=_FILE, field="room.mesh"
        )
    environment = data.get("environment")
    if isinstance(environment, dict) and "frames" in environment:
        raise SceneError(
            "a scene sent to the server may not name a frames folder; send frame messages",
            file=_FILE,
            field="environment.frames",
        )
    for index, source in enumerate(data.get("sources") or ()):
        if isinstance(source, dict) and "audio" in source:
            raise SceneError(
                "a scene sent to the server may not name audio files",
                file=_FILE,
                field=f"sources[{index}].audio",
            )


def _place_scene(place: str) -> dict:
    words = place.lower()
    ground = next((g for word, g in OUTDOOR_PLACES.items() if word in words), None)
    tags = [w for w in (*OUTDOOR_PLACES, *HALL_PLACES) if w in words]
    if ground is not None:
        room: dict = {"kind": "outdoor", "materials": {"ground": ground}}
    elif any(word in words for word in HALL_PLACES):
        room = {
            "kind": "shoebox",
            "size": [30, 18, 10],
            "materials": {"walls": "limestone", "floor": "marble", "ceiling": "plaster"},
        }
    else:
        room = {"kind": "shoebox", "size": [6, 5, 3], "materials": {"walls": "plaster"}}
    if room["kind"] == "shoebox":
        x, y = room["size"][0] / 3, room["size"][1] / 2
        listener = {"position": [x, y, 1.7], "yaw": 0}
    else:
        listener = {"position": [0, 0, 1.7], "yaw": 0}
    data: dict = {"version": 1, "duration": 60, "room": room, "listener": listener}
    if tags:
        data["environment"] = {"place": [_english(t) for t in tags]}
    return data


def _english(word: str) -> str:
    return {"海滩": "beach", "森林": "forest", "公园": "park", "博物馆": "museum"}.get(
        word, {"大厅": "hall", "教堂": "church"}.get(word, word)
    )
