"""Generation work of a streaming session, done in a worker: plans, bars and ambiences.

Bars are played from a session's looping plan: bar ``k`` is bar ``k % CYCLE`` of cycle
``k // CYCLE``, each cycle composed with the next seed so that the melody keeps moving
while the form and harmony return. Every function here is pure and picklable, so it can
run in a worker process (the server's default) or a thread; caches keep the scores and
levels of the plans in use.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import generation
from generation import MusicPlan, Score, StemPlan
from loci.serve.adapt import MusicRequest, plan_for, with_energy
from scene.environment import Environment

__all__ = [
    "AMBIENCE_LOOP_S",
    "LEAD_S",
    "TAIL_S",
    "BarJob",
    "ambience_loop",
    "cycle_bars",
    "make_plan",
    "prepare",
    "render_bar",
    "render_bars",
    "soundfont_path",
    "warm_up",
]

#: Audio of a bar starts this long before its bar line (notes played early), seconds.
LEAD_S = 0.03
#: And goes on this long after the next bar line, for release tails, seconds.
TAIL_S = 0.6
#: Length of the loop an ambience stem plays, seconds.
AMBIENCE_LOOP_S = 12.0
_SCORES: OrderedDict[MusicPlan, Score] = OrderedDict()
_LEVELS: dict[tuple, float] = {}
_CACHE_PLANS = 32
_LEVEL_BARS = 4
_ROLE_RMS_DBFS = -20.0
_PEAK = 0.98


@dataclass(frozen=True)
class BarJob:
    """Play bar ``bar`` of a plan for some of its stems.

    Attributes
    ----------
    plan
        A looping plan (see :func:`loci.serve.adapt.plan_for`).
    bar
        Bar number counted through cycles (0 is the plan's first bar).
    stems
        Names of the note-playing stems to play; empty for all.
    soundfont
        A General MIDI ``.sf2``, or None for the default.
    """

    plan: MusicPlan
    bar: int
    stems: tuple[str, ...] = ()
    soundfont: str | None = None


def make_plan(
    request: MusicRequest, environment: Environment, soundfont: str | None = None
) -> tuple[MusicPlan, MusicPlan]:
    """The plan for a request, before and after the listener's energy is applied.

    The plan before energy is kept so that a later energy control is applied to it (set,
    not accumulated). The levels of the stems are measured here, while the plan waits for
    its bar line, so that its first bar is as quick to make as any other.
    """
    base = plan_for(replace(request, energy=None), environment)
    plan = base if request.energy is None else with_energy(base, request.energy)
    prepare(plan, soundfont)
    return base, plan


def prepare(plan: MusicPlan, soundfont: str | None = None) -> None:
    """Compose a plan's first cycle and measure its stems' levels (both are cached)."""
    for stem in plan.stems:
        if stem.role != "ambience":
            _level(plan, stem, soundfont)


def render_bars(jobs: tuple[BarJob, ...]) -> tuple[dict[str, np.ndarray], ...]:
    """:func:`render_bar` for several jobs in one call (a bar line where stems change)."""
    return tuple(render_bar(job) for job in jobs)


def warm_up() -> None:
    """Import and load what the first session needs (sound font, lexicons, numba)."""
    from loci.compose import placeless_environment
    from loci.serve.adapt import MusicRequest

    for words in ("a light cheerful piece", "在海滩上播放一首轻快的音乐"):
        _, plan = make_plan(MusicRequest(words), placeless_environment())
        render_bar(BarJob(plan, 0))


def cycle_bars(plan: MusicPlan) -> int:
    """Bars in one cycle of a looping plan."""
    return sum(section.bars for section in plan.sections)


def render_bar(job: BarJob) -> dict[str, np.ndarray]:
    """Play one bar of each asked stem, from ``LEAD_S`` before its line to ``TAIL_S`` after.

    Returns
    -------
    dict of str to ndarray
        Stem name -> mono float32 of ``round((bar + LEAD_S + TAIL_S) * 48000)`` samples at
        the stem's level in the plan (role level, then the plan's gain).
    """
    plan = job.plan
    cycle, local = divmod(job.bar, cycle_bars(plan))
    played = replace(plan, seed=plan.seed + cycle) if cycle else plan
    score = _score(played)
    bar_s = plan.bar_seconds
    audio = generation.synthesize_window(
        _only(score, job.stems),
        start_s=local * bar_s,
        end_s=(local + 1) * bar_s,
        lead_s=LEAD_S,
        tail_s=TAIL_S,
        soundfont=job.soundfont,
    )
    stems = {stem.name: stem for stem in plan.stems}
    out = {}
    for name, signal in audio.items():
        gain = _level(played, stems[name], job.soundfont)
        out[name] = np.clip(signal * gain, -_PEAK, _PEAK).astype(np.float32)
    return out


def ambience_loop(kind: str, *, seed: int, gain_db: float) -> np.ndarray:
    """A seamless loop of :data:`AMBIENCE_LOOP_S` seconds of an ambience, mono float32."""
    audio = generation.make_ambience(kind, duration_s=AMBIENCE_LOOP_S, seed=seed, loop=True)
    return (audio * 10 ** (gain_db / 20)).astype(np.float32)


def _score(plan: MusicPlan) -> Score:
    score = _SCORES.get(plan)
    if score is None:
        score = generation.compose(plan)
        _SCORES[plan] = score
        while len(_SCORES) > _CACHE_PLANS:
            _SCORES.popitem(last=False)
    else:
        _SCORES.move_to_end(plan)
    return score


def _only(score: Score, names: tuple[str, ...]) -> Score:
    if not names:
        return score
    return replace(score, parts=tuple(p for p in score.parts if p.stem.name in names))


def _level(plan: MusicPlan, stem: StemPlan, soundfont: str | None) -> float:
    """The gain that brings a stem to its role's level, measured once over a phrase.

    A single bar's loudness says little (a cadence bar holds one note); a phrase's RMS
    stands for the piece's, which :func:`generation.synthesize` normalises by. The gain is
    kept per part and genre, so that a new tempo, energy or cycle keeps the level (more
    energy then sounds louder, as it should).
    """
    key = (stem, plan.genre, soundfont)
    gain = _LEVELS.get(key)
    if gain is None:
        part_score = _only(_score(plan), (stem.name,))
        phrase_s = min(plan.duration_s, _LEVEL_BARS * plan.bar_seconds)
        window = generation.synthesize_window(
            part_score, start_s=0.0, end_s=phrase_s, tail_s=0.1, soundfont=soundfont
        )[stem.name]
        rms = float(np.sqrt(np.mean(window.astype(np.float64) ** 2)))
        gain = 10 ** (_ROLE_RMS_DBFS / 20) / rms if rms > 0 else 1.0
        gain *= 10 ** (stem.gain_db / 20)
        _LEVELS[key] = gain
    return gain


def soundfont_path(path: str | Path | None) -> str | None:
    """The sound font as the jobs carry it (a string path, or None for the default)."""
    return None if path is None else str(Path(path).resolve())
