"""The whole path, scene file -> binaural music, and what it writes.

Scene --perceive--> E;  instruction --understand--> S;  (S, E, seed) --plan--> MusicPlan
--compose--> Score --synthesize--> Stems;  stems + audio files --place--> sources
--spatial.render_scene--> binaural mix --master--> mix.wav (and stems, score, plan, E)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import generation
import generation.lyrics.song
import spatial
from generation.safety import SafetyReport, check_instruction, report_to_dict
from loci.audio_sources import read_source_audio
from loci.layout import place_stem
from loci.outputs import AudioFormat, atomic_output_dir, write_json, write_wav
from scene.environment import Environment, Feature
from scene.errors import SceneError
from scene.loader import load_scene
from scene.model import MusicOverrides, Scene
from scene.perception import perceive
from scene.schema import MAX_DURATION_S

__all__ = [
    "BACKENDS",
    "STEPS",
    "LyricsOptions",
    "Music",
    "RenderOptions",
    "RenderResult",
    "compose_music",
    "music_document",
    "render",
    "render_file",
    "write_music",
]

SAMPLE_RATE = 48_000

#: The steps a render reports to its progress callback, in order.
STEPS: tuple[str, ...] = (
    "perceive",
    "understand",
    "plan",
    "compose",
    "synthesize",
    "place",
    "spatialise",
    "master",
    "write",
)

ProgressCallback = Callable[[str], None]

#: What writes the score: the rules arranger, or the music LM (melody and bass; the
#: arranger keeps harmony and drums). See :func:`compose_score`. ``musicgen`` makes the
#: audio itself from a local MusicGen checkpoint (CC-BY-NC weights), conditioned on the
#: rules' score (see ``generation.musicgen``).
BACKENDS: tuple[str, ...] = ("rules", "lm", "musicgen")


@dataclass(frozen=True)
class LyricsOptions:
    """Sung lyrics (``--lyrics``).

    Attributes
    ----------
    language
        ``"en"``, ``"zh"``, or None for the instruction's language.
    model_dir
        A local causal language model (transformers format) that writes the lines; None
        uses the built-in grammar.
    """

    language: str | None = None
    model_dir: Path | None = None


@dataclass(frozen=True)
class RenderOptions:
    """Options of a render that are not part of the scene.

    Attributes
    ----------
    target_lufs
        Integrated loudness of ``mix.wav`` (ITU-R BS.1770), LUFS.
    ceiling_dbtp
        True-peak ceiling of ``mix.wav``, dBTP.
    audio_format
        ``"float"`` (32-bit float WAV) or ``"pcm24"``.
    soundfont
        A General MIDI ``.sf2``; None uses the TimGM6mb font that pretty_midi ships.
    seed, duration_s
        Override the scene file's values when set.
    loop
        Make a seamless loop: the piece is rounded to whole bars, and the room is rendered
        in its steady state (the reverberation of the end sounds over the start).
    backend, model_dir
        What composes the score (see :data:`BACKENDS`), and the ``lm`` backend's model
        folder (None: the shipped default model).
    ambisonic_order
        When set (1 to 3), also write ``ambix.wav``: the AmbiX mix (ACN, SN3D) at the
        listener, with the mastering gain of ``mix.wav``, which is then its binaural decode.
    """

    target_lufs: float = -16.0
    ceiling_dbtp: float = -1.0
    audio_format: AudioFormat = "float"
    soundfont: Path | None = None
    seed: int | None = None
    duration_s: float | None = None
    loop: bool = False
    backend: str = "rules"
    model_dir: Path | None = None
    lyrics: LyricsOptions | None = None
    ambisonic_order: int | None = None

    def __post_init__(self) -> None:
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise SceneError("must be a whole number >= 0", field="seed", value=seed)
        duration = self.duration_s
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not 0.0 < duration <= MAX_DURATION_S
        ):
            raise SceneError(
                f"must be a number of seconds, > 0 and <= {MAX_DURATION_S:g}",
                field="duration",
                value=duration,
            )


@dataclass(frozen=True)
class RenderResult:
    """What a render produced: where, how long, how loud, and the plan's headline."""

    out_dir: Path
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float
    key: str | None
    tempo_bpm: float | None
    stems: tuple[str, ...]
    elapsed_s: float
    mastering_note: str = ""


def render_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    options: RenderOptions | None = None,
    progress: ProgressCallback | None = None,
) -> RenderResult:
    """Load a scene file and render it; see :func:`render`."""
    return render(load_scene(Path(path)), Path(out_dir), options=options, progress=progress)


def render(
    scene: Scene,
    out_dir: Path,
    *,
    options: RenderOptions | None = None,
    progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render a scene to ``out_dir``: mix.wav, stems/, score.mid, plan.json, environment.json.

    Parameters
    ----------
    scene
        A validated scene (see :func:`scene.loader.load_scene`).
    out_dir
        Destination folder; written atomically (a failed render leaves nothing behind and
        an earlier complete result untouched).
    options
        See :class:`RenderOptions`.
    progress
        Called with each step's name of :data:`STEPS` as it starts.

    Returns
    -------
    RenderResult

    Raises
    ------
    SceneError
        For anything wrong in the scene that shows only while rendering (an unreadable
        audio file, a source naming a stem the plan does not have).
    """
    options = options or RenderOptions()
    report = progress or (lambda _step: None)
    started = time.perf_counter()
    if options.seed is not None:
        scene = replace(scene, seed=options.seed)
    if options.duration_s is not None:
        scene = replace(scene, duration_s=options.duration_s)
    report("perceive")
    environment = _with_heard_reverberation(perceive(scene), scene)

    music = (
        None
        if scene.instruction is None
        else compose_music(
            scene.instruction,
            environment,
            seed=scene.seed,
            duration_s=scene.duration_s,
            soundfont=options.soundfont,
            progress=report,
            loop=options.loop,
            overrides=scene.music,
            backend=options.backend,
            model_dir=options.model_dir,
            lyrics=options.lyrics or (LyricsOptions() if scene.lyrics else None),
        )
    )
    if music is not None and music.plan.loop:
        scene = replace(scene, duration_s=music.plan.duration_s)  # whole bars
    n_samples = round(scene.duration_s * SAMPLE_RATE)

    report("place")
    sources, layout = _place_sources(scene, music, n_samples=n_samples)

    report("spatialise")
    # A loop is rendered twice over and its second pass kept: by then the room rings with
    # the end of the piece, as it does each time the loop comes round.
    looped = options.loop or scene.music.loop
    cycles = 2 if looped else 1
    if cycles > 1:
        sources = [replace(s, signal=np.tile(s.signal, cycles)) for s in sources]
    ambix = None
    if options.ambisonic_order is not None:
        ambix = _ambisonic_mix(scene, sources, options.ambisonic_order, cycles * n_samples)
        mix = spatial.decode_binaural(ambix, order=options.ambisonic_order)
    elif scene.listener_trajectory is not None or any(s.trajectory for s in sources):
        # Something moves: rendered block by block, the trajectories repeating each cycle.
        mix = spatial.render_moving(
            scene.room,
            scene.listener_trajectory or scene.listener,
            sources,
            n_samples=cycles * n_samples,
            seed=scene.seed,
            period_s=n_samples / SAMPLE_RATE if cycles > 1 else None,
        )
    else:
        mix = spatial.render_scene(
            scene.room, scene.listener, sources, n_samples=cycles * n_samples, seed=scene.seed
        )
    report("master")
    mastered, mastering = spatial.master(
        mix,
        sample_rate=SAMPLE_RATE,
        target_lufs=options.target_lufs,
        ceiling_dbtp=options.ceiling_dbtp,
    )
    mastered = mastered[:, (cycles - 1) * n_samples :]
    if ambix is not None:
        ambix = _mastered_like(ambix[:, (cycles - 1) * n_samples :], mastering, options)

    report("write")
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as staging:
        write_wav(
            staging / "mix.wav",
            mastered,
            sample_rate=SAMPLE_RATE,
            audio_format=options.audio_format,
        )
        if ambix is not None:
            write_wav(staging / "ambix.wav", ambix, sample_rate=SAMPLE_RATE, audio_format="float")
        if music is not None:
            write_music(staging, music)
        environment_dict = environment.to_dict()
        write_json(staging / "environment.json", environment_dict)
        write_json(
            staging / "plan.json",
            _plan_document(scene, environment_dict, music, layout, mastering),
        )
    return RenderResult(
        out_dir=out_dir.resolve(),
        duration_s=scene.duration_s,
        loudness_lufs=mastering.loudness_out_lufs,
        true_peak_dbtp=mastering.true_peak_out_dbtp,
        key=music.plan.key if music else None,
        tempo_bpm=music.plan.tempo_bpm if music else None,
        stems=tuple(stem.name for stem in music.stems) if music else (),
        elapsed_s=time.perf_counter() - started,
        mastering_note=mastering.note,
    )


@dataclass(frozen=True)
class Music:
    """What generation made for one piece: S, the plan, the score and the dry stems.

    ``composer`` is the backend's record for plan.json (``{"backend": "rules"}``, or the
    LM's model, conditioning, sampling, constraint and originality record).
    """

    style: generation.Style
    plan: generation.MusicPlan
    score: generation.Score
    stems: tuple[generation.Stem, ...]
    composer: dict = field(default_factory=lambda: {"backend": "rules"})
    safety: SafetyReport | None = None
    vocals: generation.lyrics.song.Vocals | None = None


def compose_score(
    plan: generation.MusicPlan, *, backend: str = "rules", model_dir: Path | None = None
) -> tuple[generation.Score, dict]:
    """The score of a plan by one of :data:`BACKENDS`, and the backend's record.

    Raises
    ------
    ValueError
        For an unknown backend; ``generation.lm.model.LMError`` (a ValueError) for a
        model folder the ``lm`` backend cannot use.
    """
    if backend in ("rules", "musicgen"):
        # MusicGen makes the audio; the rules' score is its melody and the score.mid.
        return generation.compose(plan), {"backend": "rules"}
    if backend == "lm":
        from generation.lm.backend import compose_lm

        score, report = compose_lm(plan, model_dir=model_dir)
        return score, report.to_dict()
    raise ValueError(f"backend: got {backend!r}; allowed: {', '.join(BACKENDS)}")


def compose_music(
    instruction: str,
    environment: Environment,
    *,
    seed: int,
    duration_s: float,
    soundfont: Path | None = None,
    progress: ProgressCallback | None = None,
    loop: bool = False,
    overrides: MusicOverrides | None = None,
    backend: str = "rules",
    model_dir: Path | None = None,
    lyrics: LyricsOptions | None = None,
    musicgen_progress: Callable[[int, int], None] | None = None,
) -> Music:
    """Understand, plan, compose and synthesise: words and place -> dry stems.

    Parameters
    ----------
    instruction
        What the user asked for.
    environment
        The place (E) the music is for.
    seed, duration_s
        Seed of every choice; length in seconds.
    soundfont
        A General MIDI ``.sf2``; None uses the default font.
    progress
        Called with ``understand``, ``plan``, ``compose`` and ``synthesize`` as they start.
    loop
        Compose a seamless loop (whole bars; see ``generation.MusicPlan.loop``).
    overrides
        Explicit values from a scene file's ``music`` section; they win over the words.
    backend, model_dir
        What writes the score (:data:`BACKENDS`) and the ``lm`` backend's model folder.
    lyrics
        Sing lyrics on the melody (a ``vocal`` stem); None for none.
    musicgen_progress
        Called with (tokens done, tokens in all) while MusicGen generates.
    """
    report = progress or (lambda _step: None)
    # The content policy (docs/safety.md) sees the instruction before anything is made.
    safety = check_instruction(instruction)
    report("understand")
    style = _with_overrides(generation.understand(instruction), overrides)
    report("plan")
    loop = loop or (overrides is not None and overrides.loop)
    plan = generation.make_plan(style, environment, seed=seed, duration_s=duration_s, loop=loop)
    report("compose")
    score, composer = compose_score(plan, backend=backend, model_dir=model_dir)
    report("synthesize")
    if backend == "musicgen":
        if model_dir is None:
            raise ValueError("the musicgen backend needs --model DIR (a MusicGen checkpoint)")
        from generation.musicgen import generate_music

        made = generate_music(
            plan,
            style,
            score,
            model_dir=model_dir,
            places=tuple(environment.value("place_tags", None) or ()),
            progress=musicgen_progress,
        )
        stems, composer = made.stems, made.record
    else:
        stems = generation.synthesize(score, soundfont=soundfont)
    vocals = None
    if lyrics is not None:
        vocals = generation.lyrics.song.add_vocals(
            plan,
            score,
            style,
            language=lyrics.language,
            places=tuple(environment.value("place_tags", None) or ()),
            model_dir=lyrics.model_dir,
        )
        stems = (*stems, vocals.stem)
        safety = replace(
            safety,
            lyrics_checked=vocals.lines_checked,
            lyrics_decisions=vocals.decisions,
            suppressed_words=vocals.suppressed_words,
        )
    return Music(
        style=style,
        plan=plan,
        score=score,
        stems=tuple(stems),
        composer=composer,
        safety=safety,
        vocals=vocals,
    )


def _with_heard_reverberation(environment: Environment, scene: Scene) -> Environment:
    """E with the reverberation the listener will hear where the spatial engine traces it.

    Perception computes a mesh room's RT60 by Eyring's formula; the renderer's late tail
    follows the decay ray-traced in the mesh, which is longer where the absorption is
    gathered on a few surfaces (a coffered ceiling over stone walls). The music is planned
    for what is heard. The trace is cached, so the render reuses it.
    """
    traced = spatial.heard_rt60_s(scene.room, scene.listener.position, seed=scene.seed)
    if traced is None:
        return environment
    source = "ray-traced decay at the listener, T30 of the Schroeder curve"
    traced_feature = Feature(traced, "s per octave band 125 Hz..8 kHz", source)
    if any(name == "rt60_mid_s" for name, _ in scene.given_features):  # the user's word wins
        return replace(environment, rt60_traced_s=traced_feature)
    mid = round((traced[2] + traced[3]) / 2, 3)  # the 500 Hz and 1 kHz bands
    eyring = environment.value("rt60_mid_s")
    notes = environment.notes
    if eyring is not None and abs(mid - eyring) > 0.1 * eyring:
        notes = (
            *notes,
            f"the traced reverberation ({mid:.2f} s at 500 Hz-1 kHz) differs from Eyring's "
            f"({eyring:.2f} s): the absorption is not spread evenly over the surfaces; the "
            "music is planned for the traced figure, which is what the listener hears",
        )
    return replace(
        environment,
        rt60_traced_s=traced_feature,
        rt60_mid_s=Feature(mid, "s", f"{source}, mean of 500 Hz and 1 kHz"),
        notes=notes,
    )


def _with_overrides(style: generation.Style, overrides: MusicOverrides | None) -> generation.Style:
    """The style with the scene file's explicit values in place of what the words said."""
    if overrides is None:
        return style
    changes: dict = {}
    evidence = list(style.evidence)
    if overrides.tempo_bpm is not None:
        changes.update(tempo_bpm=overrides.tempo_bpm, tempo_named=True)
        evidence.append(generation.Evidence("scene file", "tempo_bpm", overrides.tempo_bpm))
    if overrides.key_tonic is not None:
        changes.update(key_tonic=overrides.key_tonic, mode=overrides.mode)
        key = f"{overrides.key_tonic} {overrides.mode}"
        evidence.append(generation.Evidence("scene file", "key", key))
    if overrides.meter is not None:
        changes.update(meter=overrides.meter)
        meter = f"{overrides.meter[0]}/{overrides.meter[1]}"
        evidence.append(generation.Evidence("scene file", "meter", meter))
    return replace(style, **changes, evidence=tuple(evidence)) if changes else style


def write_music(folder: Path, music: Music) -> None:
    """Write the dry stems (``stems/<name>.wav``) and ``score.mid`` of a piece into a folder."""
    for stem in music.stems:
        write_wav(folder / "stems" / f"{stem.name}.wav", stem.audio, sample_rate=SAMPLE_RATE)
    if music.vocals is None:
        generation.write_midi(music.score, folder / "score.mid")
        return
    # With lyrics: the vocal line and its syllables in score.mid, the words as text, timed
    # LRC and MusicXML.
    from generation.lyrics.export import write_lyrics_files, write_score_with_lyrics

    vocals = music.vocals
    write_score_with_lyrics(music.score, vocals.part, vocals.lyrics, folder / "score.mid")
    write_lyrics_files(folder, vocals.lyrics, music.plan, title=music.style.instruction)


def music_document(music: Music) -> dict:
    """plan.json's musical part: the plan, the composer, safety and lyrics records."""
    head = {**generation.plan_to_dict(music.plan), "composer": music.composer}
    if music.safety is not None:
        head["safety"] = report_to_dict(music.safety)
    if music.vocals is not None:
        lyrics = generation.lyrics.song.vocals_to_dict(music.vocals)
        head["stems"] = [*head["stems"], lyrics["vocal_stem"]]
        head["lyrics"] = lyrics
    return head


def _place_sources(
    scene: Scene, music: Music | None, *, n_samples: int
) -> tuple[list[spatial.PlacedSource], list[dict]]:
    """Pair every stem and audio file with a position: the scene's, or the automatic layout's."""
    stems = {stem.name: stem for stem in music.stems} if music else {}
    explicit: dict[str, tuple[int, tuple[float, float, float] | None, float]] = {}
    sources: list[spatial.PlacedSource] = []
    layout: list[dict] = []
    for index, spec in enumerate(scene.sources):
        field = f"sources[{index}]"
        if spec.stem is not None:
            if spec.stem not in stems:
                allowed = ", ".join(sorted(stems)) or "none (the scene has no instruction)"
                raise SceneError(
                    f"no such stem in this piece; its stems are: {allowed}",
                    file=scene.path,
                    field=f"{field}.stem",
                    value=spec.stem,
                )
            explicit[spec.stem] = (index, spec.position, spec.gain_db)
        else:
            assert spec.audio is not None  # the schema guarantees stem xor audio
            signal = read_source_audio(
                spec.audio,
                n_samples=n_samples,
                sample_rate=SAMPLE_RATE,
                scene_file=scene.path,
                field=f"{field}.audio",
            )
            if spec.position is None:
                raise SceneError(
                    "an audio source needs a position", file=scene.path, field=f"{field}.position"
                )
            sources.append(
                spatial.PlacedSource(
                    spec.audio.name, signal, spec.position, spec.gain_db, spec.trajectory
                )
            )
            layout.append(_layout_entry(spec.audio.name, spec.position, "scene file"))
    ambience_count = 0
    for index, stem in enumerate(music.stems if music else ()):
        chosen = explicit.get(stem.name)
        if chosen is not None and chosen[1] is not None:
            position, gain_db, why = chosen[1], chosen[2], "scene file"
        else:
            placement = place_stem(
                stem.role,
                index=index,
                listener=scene.listener,
                room=scene.room,
                ambience_index=ambience_count,
            )
            position, why = placement.position, f"automatic: {placement.reason}"
            gain_db = chosen[2] if chosen is not None else 0.0
        if stem.role == "ambience":
            ambience_count += 1
        spec = scene.sources[chosen[0]] if chosen is not None else None
        trajectory = spec.trajectory if spec is not None else None
        sources.append(spatial.PlacedSource(stem.name, stem.audio, position, gain_db, trajectory))
        layout.append(_layout_entry(stem.name, position, why))
    return sources, layout


def _ambisonic_mix(
    scene: Scene, sources: list[spatial.PlacedSource], order: int, n_samples: int
) -> np.ndarray:
    """The AmbiX mix at the listener; it holds fixed positions only."""
    if scene.listener_trajectory is not None:
        raise SceneError(
            "an ambisonic mix (--format ambix) is rendered for fixed positions; this "
            "listener moves (a player turns the mix with the head instead)",
            file=scene.path,
            field="listener.trajectory",
        )
    for index, spec in enumerate(scene.sources):
        if spec.trajectory is not None:
            raise SceneError(
                "an ambisonic mix (--format ambix) is rendered for fixed positions; give "
                "this source a position",
                file=scene.path,
                field=f"sources[{index}].trajectory",
            )
    return spatial.render_ambisonics(
        scene.room, scene.listener, sources, n_samples=n_samples, order=order, seed=scene.seed
    )


def _mastered_like(
    ambix: np.ndarray, mastering: spatial.MasteringReport, options: RenderOptions
) -> np.ndarray:
    """The ambisonic mix with mix.wav's mastering gain, lowered further if a channel would
    pass the ceiling (sample peak: a player decodes it again)."""
    gain = 10.0 ** (mastering.gain_db / 20.0) if np.isfinite(mastering.gain_db) else 1.0
    out = ambix.astype(np.float64) * gain
    ceiling = 10.0 ** (options.ceiling_dbtp / 20.0)
    peak = float(np.max(np.abs(out), initial=0.0))
    if peak > ceiling:
        out *= ceiling / peak
    return out.astype(np.float32)


def _layout_entry(name: str, position: tuple[float, float, float], why: str) -> dict:
    return {"name": name, "position": [round(float(v), 3) for v in position], "placed_by": why}


def _plan_document(
    scene: Scene,
    environment: dict,
    music: Music | None,
    layout: list[dict],
    mastering: spatial.MasteringReport,
) -> dict:
    """plan.json: the plan's headline keys at the top, then S, E, the layout and mastering."""
    if music is None:
        head: dict = {
            "key": None,
            "tempo_bpm": None,
            "meter": None,
            "explanation": [
                {
                    "attribute": "music",
                    "value": "none",
                    "because": "the scene has no instruction: only its audio sources play",
                    "features": [],
                }
            ],
        }
        style = None
    else:
        head = music_document(music)
        style = generation.style_to_dict(music.style)
    return {
        **head,
        "style": style,
        "environment": environment,
        "sources": layout,
        "mastering": {
            "loudness_lufs": _finite_or_none(mastering.loudness_out_lufs),
            "true_peak_dbtp": _finite_or_none(mastering.true_peak_out_dbtp),
            "gain_db": _finite_or_none(mastering.gain_db),
            "limited": mastering.limited,
            "note": mastering.note,
        },
        "scene": {
            "file": str(scene.path) if scene.path else None,
            "seed": scene.seed,
            "duration_s": scene.duration_s,
        },
    }


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
