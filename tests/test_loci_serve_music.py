"""The bar-line scheduler of ``loci serve``, driven faster than real time without a network.

A change asked for mid-bar must be heard at the next bar line, as a musical transition:
no sample step at the seam larger than the largest inside the music, and the new tempo
measured by librosa within 5% after it.
"""

from __future__ import annotations

import asyncio

import librosa
import numpy as np
import pytest

from loci.compose import placeless_environment
from loci.serve import adapt
from loci.serve.generator import Generator
from loci.serve.metrics import Metrics
from loci.serve.music import SAMPLE_RATE, MusicScheduler
from scene.model import Pose, Room

BLOCK = 256


async def _stream(scheduler: MusicScheduler, seconds: float, at_sample=None, action=None):
    """Mix ``seconds`` of stems block by block, waiting for generation (never underrunning);
    call ``action`` once when the stream reaches ``at_sample``."""
    blocks = []
    total = round(seconds * SAMPLE_RATE / BLOCK)
    for index in range(total):
        start = index * BLOCK
        if at_sample is not None and action is not None and start >= at_sample:
            await action()
            action = None
        while scheduler.generated_until() < start + BLOCK + BLOCK:
            await asyncio.sleep(0.002)
        blocks.append(scheduler.mix(start, BLOCK).sum(axis=0))
    return np.concatenate(blocks)


def _scheduler(generator: Generator, instruction: str) -> MusicScheduler:
    return MusicScheduler(
        generator=generator,
        request=adapt.MusicRequest(instruction, seed=2),
        environment=placeless_environment(),
        listener=Pose((0.0, 0.0, 1.7)),
        room=Room("free_field"),
        slots=8,
        on_position=lambda slot, position: None,
        time_of=lambda sample: 0.0,
        metrics=Metrics(),
    )


def _tempo(signal: np.ndarray) -> float:
    onset = librosa.onset.onset_strength(y=signal, sr=SAMPLE_RATE)
    return float(librosa.feature.tempo(onset_envelope=onset, sr=SAMPLE_RATE, start_bpm=110)[0])


def test_tempo_change_mid_bar_is_heard_at_the_next_bar_line_without_a_click():
    async def run():
        generator = Generator(workers=0)
        scheduler = _scheduler(generator, "an upbeat pop song with drums at 100 bpm")
        await scheduler.start()
        bar = round(scheduler.plan.bar_seconds * SAMPLE_RATE)
        assert scheduler.plan.tempo_bpm == 100.0
        asked = int(2.5 * bar)  # in the middle of the third bar
        transitions = []

        async def change():
            transitions.append(scheduler.set_tempo(bpm=130.0))

        audio = await _stream(scheduler, 20.0, asked, change)
        scheduler.close()
        generator.close()
        return audio, bar, asked, transitions[0]

    audio, bar, asked, transition = asyncio.run(run())
    # Heard at the next bar line: the one after the request, not later.
    assert transition.at_sample == 3 * bar
    assert asked - BLOCK <= transition.asked_at_sample < 3 * bar
    line = transition.at_sample
    before = _tempo(audio[: line - bar // 4])
    after = _tempo(audio[line + bar // 2 :])
    assert abs(before - 100.0) / 100.0 < 0.05, before
    assert abs(after - 130.0) / 130.0 < 0.05, after
    # The seam is no rougher than the music itself.
    steps = np.abs(np.diff(audio))
    window = round(0.05 * SAMPLE_RATE)
    seam = steps[line - window : line + window].max()
    inside = np.concatenate([steps[: line - window], steps[line + window :]]).max()
    assert seam <= inside
    assert np.all(np.isfinite(audio))


def test_mute_fades_at_the_next_bar_line_and_energy_brings_the_drums():
    async def run():
        generator = Generator(workers=0)
        scheduler = _scheduler(generator, "a calm folk song")
        await scheduler.start()
        stems = [s.name for s in scheduler.plan.stems]
        assert "drums" not in stems
        bar = round(scheduler.plan.bar_seconds * SAMPLE_RATE)
        out = {}

        async def change():
            out["mute"] = scheduler.set_mute("melody", True)
            out["energy"] = scheduler.set_energy(0.9)

        slots = []

        async def capture():
            for index in range(round(5 * bar / BLOCK)):
                start = index * BLOCK
                if start >= bar // 2 and "mute" not in out:
                    await change()
                while scheduler.generated_until() < start + 2 * BLOCK:
                    await asyncio.sleep(0.002)
                slots.append(scheduler.mix(start, BLOCK))

        await capture()
        state = scheduler.describe()
        scheduler.close()
        generator.close()
        return np.concatenate(slots, axis=1), bar, out, state

    mixed, bar, out, state = asyncio.run(run())
    assert out["mute"].at_sample == bar and out["energy"].at_sample == bar
    names = {stem["name"]: stem["slot"] for stem in state["stems"]}
    melody = mixed[names["melody"]]
    beat = bar // 4
    assert np.sqrt(np.mean(melody[: bar - 1024] ** 2)) > 1e-3  # playing before the line
    assert np.abs(melody[bar + beat + 64 : 3 * bar]).max() == 0.0  # silent a beat after it
    drums = mixed[names["drums"]]
    assert np.abs(drums[: bar - 2048]).max() == 0.0  # no drums before the line
    assert np.sqrt(np.mean(drums[2 * bar : 3 * bar] ** 2)) > 1e-3  # and in after it
    assert any("energy 0.90" in line for line in state["explanation"])


def test_a_dislike_changes_the_genre_and_the_explanation_says_why():
    plan = adapt.plan_for(adapt.MusicRequest("an upbeat pop song"), placeless_environment())
    assert plan.genre == "pop"
    taste = adapt.disliked(adapt.Taste(), plan, arousal=0.6)
    again = adapt.plan_for(
        adapt.MusicRequest("an upbeat song", taste=taste), placeless_environment()
    )
    assert again.genre != "pop"
    reasons = [d.because for d in again.explanation]
    assert any("disliked pop" in r for r in reasons)
    assert any("dislikes" in r for r in reasons)  # and calmer, which it says too
    liked = adapt.liked(taste, again)
    kept = adapt.plan_for(adapt.MusicRequest("a song", taste=liked), placeless_environment())
    assert kept.genre == again.genre
    assert any(d.because == "the listener liked it" for d in kept.explanation)


def test_energy_is_set_not_accumulated_and_validated():
    plan = adapt.plan_for(adapt.MusicRequest("a calm folk song"), placeless_environment())
    once = adapt.with_energy(plan, 0.2)
    assert adapt.with_energy(plan, 0.2) == once
    with pytest.raises(ValueError, match=r"energy: got 1\.5; must be in \[0, 1\]"):
        adapt.with_energy(plan, 1.5)
