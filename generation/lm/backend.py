"""The ``lm`` backend: MusicPlan -> Score, the LM writing melody and bass.

Harmony voicing and drums stay with the rules arranger (:func:`generation.arranger.compose`);
the LM's melody and bass replace the arranger's. The notes are performed like the
arranger's: off-beat eighths late by the plan's swing, velocities from the beat and the
section's energy, nothing sounding past the plan's duration.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from generation.arranger import compose as compose_rules
from generation.lm import DEFAULT_MODEL_DIR
from generation.lm.conditioning import DecodePlan, decode_plan
from generation.lm.decode import DecodeResult, SamplingSettings, sample_piece
from generation.lm.model import LoadedModel, Precision, load_model
from generation.lm.originality import ORIGINALITY_FILE, RUN, OriginalityIndex
from generation.types import MusicPlan, Note, Part, Score, StemPlan

__all__ = ["LMReport", "compose_lm", "notes_of"]


@dataclass(frozen=True)
class LMReport:
    """How the LM wrote a piece; :meth:`to_dict` is what plan.json records (all but the
    tokens themselves, ``token_strings``)."""

    model_name: str
    model_path: str
    model_sha256: str
    device: str
    precision: str
    conditioning: tuple[str, ...]
    sampling: SamplingSettings
    seed: int
    free_steps: int
    interventions: int
    masked_mass: float
    bar_log_likelihood: tuple[float, ...]
    regenerated_phrases: int
    originality_violations: int
    originality_runs_indexed: int
    tokens: int
    seconds: float
    token_strings: tuple[str, ...] = ()
    track_interventions: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))

    def to_dict(self) -> dict:
        """JSON-ready record (``backend: lm``)."""
        return {
            "backend": "lm",
            "model": {
                "name": self.model_name,
                "path": self.model_path,
                "sha256": self.model_sha256,
                "device": self.device,
                "precision": self.precision,
            },
            "conditioning": list(self.conditioning),
            "sampling": {**asdict(self.sampling), "seed": self.seed},
            "constraints": {
                "model_choices": self.free_steps,
                "interventions": self.interventions,
                "intervention_rate": round(self.interventions / max(self.free_steps, 1), 4),
                "mean_masked_probability": round(self.masked_mass, 4),
                "by_track": {
                    name: {"model_choices": steps, "interventions": count}
                    for name, (steps, count) in zip(
                        ("melody", "bass"), self.track_interventions, strict=True
                    )
                },
            },
            "bar_log_likelihood": [
                None if math.isnan(v) else round(v, 4) for v in self.bar_log_likelihood
            ],
            "originality": {
                "run_length_intervals": RUN,
                "training_runs_indexed": self.originality_runs_indexed,
                "regenerated_phrases": self.regenerated_phrases,
                "violations": self.originality_violations,
            },
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
        }


@functools.lru_cache(maxsize=4)
def _cached_model(folder: str, precision: str) -> tuple[LoadedModel, OriginalityIndex]:
    loaded = load_model(Path(folder), precision=precision)  # type: ignore[arg-type]
    path = Path(folder) / ORIGINALITY_FILE
    index = OriginalityIndex.load(path) if path.is_file() else OriginalityIndex(np.zeros(0))
    return loaded, index


def _performed(
    lines: tuple[tuple[tuple[int, int, int], ...], ...],
    plan: MusicPlan,
    dplan: DecodePlan,
    stem: StemPlan,
    rng: np.random.Generator,
    energies: list[float],
) -> tuple[Note, ...]:
    sixteenth = 60.0 / plan.tempo_bpm / 4.0
    bar_s = plan.bar_seconds
    legato = 0.97 if plan.density < 0.45 else 0.92
    notes = []
    for index, bar in enumerate(lines):
        for onset, length, pitch in bar:
            start = index * bar_s + onset * sixteenth
            if plan.swing and plan.meter[1] == 4 and onset % 4 == 2:
                start += plan.swing * 2 * sixteenth
            strong = onset in dplan.strong
            base = (88 if strong else 76) if stem.role == "melody" else (86 if strong else 78)
            velocity = base * (0.75 + 0.5 * energies[index]) + rng.normal(0, 5)
            end = index * bar_s + (onset + length * legato) * sixteenth
            if start >= plan.duration_s - 0.05:
                continue
            notes.append(
                Note(
                    pitch + dplan.tonic_pc,
                    start,
                    min(max(end, start + 0.03), plan.duration_s),
                    int(np.clip(velocity, 20, 120)),
                )
            )
    return tuple(notes)


def notes_of(result: DecodeResult, plan: MusicPlan, dplan: DecodePlan, stem: StemPlan):
    """The notes of a decoded line (melody or bass by the stem's role), in seconds."""
    energies = [s.energy for s in plan.sections for _ in s.chords]
    rng = np.random.default_rng([plan.seed, 0x6C6D, 1 if stem.role == "melody" else 2])
    lines = result.melody if stem.role == "melody" else result.bass
    return _performed(lines, plan, dplan, stem, rng, energies)


def compose_lm(
    plan: MusicPlan,
    *,
    model_dir: Path | None = None,
    sampling: SamplingSettings | None = None,
    precision: Precision = "auto",
    check_originality: bool = True,
) -> tuple[Score, LMReport]:
    """Compose a plan with the music LM: its melody and bass, the arranger's other parts.

    Parameters
    ----------
    plan
        The plan; its seed seeds the sampling (same seed, same notes).
    model_dir
        A model folder (``loci train``); None uses the shipped ``assets/models/default``.
    sampling
        Temperature, top-p and strong-beat bias; defaults from :class:`SamplingSettings`.
    precision
        See :func:`generation.lm.model.load_model`.
    check_originality
        Rewrite phrases that copy 16 intervals of a training melody.

    Returns
    -------
    (Score, LMReport)
        The score (parts in the plan's stem order) and the record for plan.json.

    Raises
    ------
    generation.lm.model.LMError
        For a missing or incompatible model folder, or a plan the vocabulary cannot write.
    """
    import time

    started = time.perf_counter()
    folder = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    loaded, index = _cached_model(str(folder.resolve()), precision)
    dplan = decode_plan(plan)
    sampling = sampling or SamplingSettings()
    result = sample_piece(
        loaded,
        dplan,
        seed=plan.seed,
        settings=sampling,
        originality=index if check_originality else None,
    )
    rules = compose_rules(plan)
    parts = []
    for part in rules.parts:
        if part.stem.role in ("melody", "bass"):
            parts.append(Part(stem=part.stem, notes=notes_of(result, plan, dplan, part.stem)))
        else:
            parts.append(part)
    report = LMReport(
        model_name=loaded.name,
        model_path=str(loaded.folder),
        model_sha256=loaded.sha256,
        device=loaded.device,
        precision=loaded.precision,
        conditioning=tuple(dplan.header()[1:]),
        sampling=sampling,
        seed=plan.seed,
        free_steps=result.free_steps,
        interventions=result.interventions,
        masked_mass=result.masked_mass,
        bar_log_likelihood=result.bar_log_likelihood,
        regenerated_phrases=result.regenerated_phrases,
        originality_violations=result.originality_violations,
        originality_runs_indexed=len(index) if check_originality else 0,
        tokens=len(result.tokens),
        seconds=time.perf_counter() - started,
        token_strings=result.tokens,
        track_interventions=result.track_interventions,
    )
    return Score(plan=plan, parts=tuple(parts)), report
