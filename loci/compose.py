"""``loci compose``: the music alone, without a room or a listener.

For people who want the stems and the score, and for measuring generation by itself.
Writes ``stems/*.wav``, ``score.mid`` and ``plan.json`` into the output folder, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import generation
from loci.outputs import atomic_output_dir, write_json
from loci.pipeline import (
    LyricsOptions,
    Music,
    ProgressCallback,
    compose_music,
    music_document,
    write_music,
)
from scene.environment import Environment, Feature

__all__ = ["ComposeResult", "compose_to_folder", "placeless_environment"]


@dataclass(frozen=True)
class ComposeResult:
    """Where the piece went and its headline."""

    out_dir: Path
    music: Music


def placeless_environment(place: tuple[str, ...] = ()) -> Environment:
    """An environment with nothing measured, only the place words the user gave."""
    source = "loci compose: no room given"
    return Environment(
        kind=Feature("unspecified", "label", source, confidence=0.0),
        indoor=Feature(False, "true/false", source, confidence=0.0),
        place_tags=Feature(place, "words", "command line --place") if place else None,
    )


def compose_to_folder(
    instruction: str,
    out_dir: str | Path,
    *,
    duration_s: float,
    seed: int = 0,
    place: tuple[str, ...] = (),
    soundfont: Path | None = None,
    progress: ProgressCallback | None = None,
    loop: bool = False,
    backend: str = "rules",
    model_dir: Path | None = None,
    lyrics: LyricsOptions | None = None,
) -> ComposeResult:
    """Compose a piece for an instruction and write its stems, score and plan.

    Parameters
    ----------
    instruction
        What to compose, in English or Chinese.
    out_dir
        Destination folder (replaced atomically when the piece is complete).
    duration_s
        Length, seconds.
    seed
        Seed of every choice.
    place
        Place words (e.g. ``("beach",)``) standing in for a perceived place.
    soundfont
        A General MIDI ``.sf2``; None uses the default font.
    progress
        Called with each step's name as it starts.
    loop
        Compose a seamless loop, rounded to whole bars.
    backend, model_dir
        What writes the score (``loci.pipeline.BACKENDS``) and the ``lm`` model folder.
    lyrics
        Sing lyrics on the melody (see ``loci.pipeline.LyricsOptions``); None for none.
    """
    environment = placeless_environment(place)
    music = compose_music(
        instruction,
        environment,
        seed=seed,
        duration_s=duration_s,
        soundfont=soundfont,
        progress=progress,
        loop=loop,
        backend=backend,
        model_dir=model_dir,
        lyrics=lyrics,
    )
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as staging:
        write_music(staging, music)
        write_json(
            staging / "plan.json",
            {
                **music_document(music),
                "style": generation.style_to_dict(music.style),
                "environment": environment.to_dict(),
            },
        )
    return ComposeResult(out_dir=out_dir.resolve(), music=music)
