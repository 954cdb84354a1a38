"""The music LM: vocabulary, corpus reading, constrained decoding, originality, training.

Models here are tiny and randomly initialised, saved with ``save_pretrained`` and loaded
back through ``from_pretrained`` (the real path); the data are a handful of real scores
from music21's corpus. The shipped model's quality is measured in benchmarks/.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import music21
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from generation import make_plan, understand  # noqa: E402
from generation.harmony import PARENT_MODE, SCALES, tonic_pitch_class  # noqa: E402
from generation.lm import DEFAULT_MODEL_DIR  # noqa: E402
from generation.lm.batch_decode import sample_batch  # noqa: E402
from generation.lm.conditioning import decode_plan, plan_conditions  # noqa: E402
from generation.lm.constraints import ConstraintState, PlanLogitsProcessor  # noqa: E402
from generation.lm.corpus import estimate_key, read_folder  # noqa: E402
from generation.lm.dataset import piece_windows, split_by_piece  # noqa: E402
from generation.lm.decode import SamplingSettings, sample_piece  # noqa: E402
from generation.lm.model import LMError, load_model, new_model  # noqa: E402
from generation.lm.ngram import KneserNey  # noqa: E402
from generation.lm.originality import RUN, OriginalityIndex  # noqa: E402
from generation.lm.stepper import NumpyGPT2, TransformersStepper, make_stepper  # noqa: E402
from generation.lm.vocab import (  # noqa: E402
    Vocabulary,
    bar_sixteenths,
    decode_bar_tokens,
    encode_piece,
)
from scene.environment import Environment, Feature  # noqa: E402

CORPUS = Path(music21.__file__).parent / "corpus"
REAL_FILES = [
    CORPUS / "ryansMammoth" / "BossJig.abc",
    CORPUS / "ryansMammoth" / "BostonReel.abc",
    CORPUS / "ryansMammoth" / "BottleOfBrandyJig.abc",
    CORPUS / "ryansMammoth" / "BonniestLassInAyerStrathspey.abc",
    CORPUS / "bach" / "bwv10.7.mxl",
    CORPUS / "bach" / "bwv101.7.mxl",
]
DRY = Environment(kind=Feature("free_field", "", "test"), indoor=Feature(False, "", "test"))


@pytest.fixture(scope="module")
def pieces():
    report = read_folder(CORPUS, files=REAL_FILES)
    assert not report.skipped, report.skipped
    return list(report.pieces)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised 2 x 32 GPT-2 with a 128-token context, saved to disk."""
    folder = tmp_path_factory.mktemp("tiny_lm")
    vocab = Vocabulary()
    torch.manual_seed(0)
    new_model(vocab, layers=2, width=32, heads=2, context=128).save_pretrained(str(folder))
    vocab.save(folder)
    return folder


def _plan(text: str, *, seed: int = 0, duration_s: float = 20.0):
    return make_plan(understand(text), DRY, seed=seed, duration_s=duration_s)


def _check_piece(result, dplan, plan) -> None:
    """Every bar full, pitches in register and scale, cadences and the last bar as planned."""
    length = dplan.bar_length
    scale = set(SCALES[plan.mode])
    parent = set(SCALES[PARENT_MODE[plan.mode]])
    for index, bar in enumerate(dplan.bars):
        lines = [("melody", result.melody[index], dplan.melody_range)]
        if dplan.with_bass:
            lines.append(("bass", result.bass[index], dplan.bass_range))
        for name, notes, (low, high) in lines:
            time = 0
            for onset, duration, pitch in notes:
                assert onset >= time, (name, index, notes)
                time = onset + duration
                assert low <= pitch <= high
                pc = pitch % 12
                allowed = scale | (set(bar.chord_pcs) & {11})
                if onset not in dplan.strong and duration <= 2:
                    allowed |= parent
                assert pc in allowed, (name, index, pitch)
            assert time <= length
            if bar.last:
                assert notes[0][0] == 0 and notes[0][2] % 12 == 0, (name, notes)
                assert notes[0][1] >= length // 2
            if bar.cadence and notes and notes[-1][0] + notes[-1][1] == length:
                assert notes[-1][2] % 12 in bar.chord_pcs, (name, index, notes)


# --- vocabulary and corpus ----------------------------------------------------------------


def test_real_scores_become_whole_bars_that_round_trip(pieces) -> None:
    vocab = Vocabulary()
    assert {p.conditions.style for p in pieces} == {"folk", "classical"}
    for piece in pieces:
        length = bar_sixteenths(piece.conditions.meter)
        tokens = encode_piece(piece)
        ids = vocab.encode(tokens)
        assert vocab.decode(ids) == tokens
        # Split the tokens at bar lines and decode each bar back to its notes.
        bars, current = [], None
        for token in tokens:
            if token == "BAR":
                current = []
                bars.append(current)
            elif current is not None and not token.startswith(("CHORD_", "SECTION_", "EOS")):
                current.append(token)
        assert len(bars) == len(piece.bars)
        for bar, bar_tokens in zip(piece.bars, bars, strict=True):
            melody, bass = decode_bar_tokens(bar_tokens, tonic_pc=piece.tonic_pc)
            assert tuple(melody) == bar.melody
            assert tuple(bass) == (bar.bass or ())
            for line in (bar.melody, bar.bass or ()):
                if line:
                    assert line[-1].start + line[-1].length <= length
    # The chorales have a bass line, the fiddle tunes none.
    assert [p.has_bass for p in pieces] == [False] * 4 + [True] * 2


def test_key_estimate_agrees_with_music21_on_chorales(pieces) -> None:
    for path, piece in zip(REAL_FILES[4:], pieces[4:], strict=True):
        key = music21.converter.parse(str(path)).analyze("key")
        assert piece.tonic_pc == key.tonic.pitchClass
        assert (piece.conditions.mode == "major") == (key.mode == "major")


def test_key_estimate_names_a_dorian_tune() -> None:
    # D dorian: D E F G A B C, ending on D.
    melody = [(62, 1.0), (64, 1.0), (65, 1.0), (67, 1.0), (69, 1.0), (71, 1.0), (72, 1.0)]
    assert estimate_key([*melody, (62, 2.0)], None) == (2, "dorian")


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "noise.mid").write_bytes(b"not a midi file at all")
    (tmp_path / "changes.abc").write_text(
        "X:1\nT:Changes\nM:3/4\nL:1/8\nK:G\nGABcde|GABcde|\nM:2/4\nGABc|GABc|GABc|GABc|\n",
        encoding="utf-8",
    )
    (tmp_path / "good.abc").write_text(
        (CORPUS / "ryansMammoth" / "BossJig.abc").read_text(encoding="utf-8"), encoding="utf-8"
    )
    report = read_folder(tmp_path)
    assert len(report.pieces) == 1
    reasons = dict((Path(path).name, why) for path, why in report.skipped)
    assert reasons["noise.mid"].startswith("unreadable")
    # music21 misses the change of metre; the short bars it leaves give the piece away.
    assert reasons["changes.abc"].startswith("irregular bars")
    assert "skipped 2" in report.summary()


def test_split_is_by_piece_and_never_leaves_validation_empty(pieces) -> None:
    train, validation = split_by_piece(pieces, validation_fraction=0.1)
    assert validation and train
    assert not {p.name for p in train} & {p.name for p in validation}
    with pytest.raises(ValueError, match="validation_fraction"):
        split_by_piece(pieces, validation_fraction=1.0)


def test_long_pieces_are_cut_at_bar_lines_with_the_header(pieces) -> None:
    vocab = Vocabulary()
    piece = max(pieces, key=lambda p: len(encode_piece(p)))
    cut = piece_windows(piece, vocab, context=120)
    assert len(cut) > 1
    header = vocab.encode(encode_piece(piece)[:9])
    for window in cut:
        assert len(window) <= 120
        assert window[:9] == header
        assert vocab.tokens[window[9]] in ("BAR",) or vocab.tokens[window[9]].startswith("SECTION")


def test_kneser_ney_is_a_distribution_and_learns() -> None:
    rng = np.random.default_rng(0)
    sequences = [[1, *rng.integers(3, 12, size=60).tolist()] for _ in range(30)]
    model = KneserNey(sequences, order=4, vocab_size=12, pad=0)
    history = sequences[0][:5]
    total = sum(np.exp(model.log_probs([[*history, w]])[-1]) for w in range(12))
    assert total == pytest.approx(1.0, abs=1e-9)
    # A repetitive language is learnt: far below the uniform log(9) nats.
    repetitive = [[1, *([3, 4, 5, 6] * 20)] for _ in range(10)]
    assert KneserNey(repetitive, order=4, vocab_size=12, pad=0).cross_entropy(repetitive) < 0.1


# --- constrained decoding ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["a happy pop song", "a sad slow waltz in 3/4", "欢快的中国风笛子", "a jig in 6/8 in D dorian"],
)
def test_constrained_decoding_keeps_the_plan(tiny_model: Path, text: str) -> None:
    plan = _plan(text, seed=4, duration_s=24.0)
    loaded = load_model(tiny_model, precision="fp32")
    dplan = decode_plan(plan)
    result = sample_piece(loaded, dplan, seed=4)
    assert len(result.melody) == len(dplan.bars) == len(result.bar_log_likelihood)
    _check_piece(result, dplan, plan)
    # A random model breaks the rules often: the constraints had to step in.
    assert result.interventions > 0.2 * result.free_steps
    # 128 tokens of context cannot hold 24 s: the decoder re-primed and went on.
    assert result.reprimes >= 1


def test_the_same_seed_gives_the_same_notes(tiny_model: Path) -> None:
    loaded = load_model(tiny_model, precision="fp32")
    dplan = decode_plan(_plan("a calm folk tune", seed=1))
    first = sample_piece(loaded, dplan, seed=11)
    assert sample_piece(loaded, dplan, seed=11).melody == first.melody
    assert sample_piece(loaded, dplan, seed=12).melody != first.melody


def test_numpy_stepper_gives_transformers_logits(tiny_model: Path) -> None:
    loaded = load_model(tiny_model, precision="fp32")
    assert loaded.numpy_weights is not None
    fast = NumpyGPT2(loaded.numpy_weights)
    reference = TransformersStepper(loaded.model, "cpu")
    ids = np.random.default_rng(0).integers(3, len(loaded.vocab), 100).tolist()
    # A prompt, single tokens, a chunk, then a rollback and a different continuation.
    steps = [ids[:30], [ids[30]], ids[31:36], *[[i] for i in ids[36:60]]]
    with torch.inference_mode():
        for chunk in steps:
            np.testing.assert_allclose(fast.feed(chunk), reference.feed(chunk), atol=2e-5)
        fast.crop(40)
        reference.crop(40)
        np.testing.assert_allclose(fast.feed(ids[60:70]), reference.feed(ids[60:70]), atol=2e-5)
        assert fast.length == reference.length == 50
        fast.reset()
        reference.reset()
        np.testing.assert_allclose(fast.feed(ids[:5]), reference.feed(ids[:5]), atol=2e-5)
    with pytest.raises(ValueError, match="the context is 128"):
        fast.feed(ids + ids)


def test_stepper_falls_back_to_transformers_where_numpy_does_not_apply(tiny_model) -> None:
    assert isinstance(make_stepper(load_model(tiny_model, precision="fp32")), NumpyGPT2)
    int8 = load_model(tiny_model, precision="int8")
    assert int8.numpy_weights is None
    assert isinstance(make_stepper(int8), TransformersStepper)


def test_int8_model_decodes_within_the_plan(tiny_model: Path) -> None:
    plan = _plan("a happy pop song", seed=2)
    loaded = load_model(tiny_model, precision="int8")
    assert loaded.precision == "int8"
    assert not any(type(m).__name__ == "Conv1D" for m in loaded.model.modules()), (
        "Conv1D layers stay unquantised"
    )
    _check_piece(sample_piece(loaded, decode_plan(plan), seed=2), decode_plan(plan), plan)


def test_a_batch_of_pieces_keeps_each_plan(tiny_model: Path) -> None:
    loaded = load_model(tiny_model, precision="fp32")
    texts = ["a happy pop song", "a sad slow waltz in 3/4", "欢快的中国风笛子", "a jig in 6/8"]
    plans = [_plan(text, seed=row, duration_s=5.0) for row, text in enumerate(texts)]
    # One piece too long for the 128-token context: the single-piece path writes it.
    plans.append(_plan("a happy pop song", seed=4, duration_s=24.0))
    dplans = [decode_plan(plan) for plan in plans]
    results = sample_batch(loaded, dplans, seed=3)
    assert len(results) == len(plans)
    for result, dplan, plan in zip(results, dplans, plans, strict=True):
        assert len(result.melody) == len(dplan.bars) == len(result.bar_log_likelihood)
        _check_piece(result, dplan, plan)
        assert result.tokens[-1] == "EOS" and result.free_steps > 0
        assert all(ll <= 0 for ll in result.bar_log_likelihood if not np.isnan(ll))
    batch_passes = {r.forward_passes for r in results[:4]}
    assert len(batch_passes) == 1, "the batch rows share their model calls"
    assert results[4].reprimes >= 1, "the long piece went through the single-piece path"
    again = sample_batch(loaded, dplans, seed=3)
    assert [r.melody for r in again] == [r.melody for r in results]
    assert [r.melody for r in sample_batch(loaded, dplans, seed=4)] != [r.melody for r in results]


def test_logits_processor_works_inside_generate(tiny_model: Path) -> None:
    plan = _plan("a calm folk tune", seed=3, duration_s=8.0)
    loaded = load_model(tiny_model, precision="fp32")
    dplan = replace(decode_plan(plan), with_bass=False)
    vocab = loaded.vocab
    prompt = torch.tensor([vocab.encode(dplan.header())])
    state = ConstraintState(dplan, vocab)
    processor = PlanLogitsProcessor([state], prompt_length=0)
    out = loaded.model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        logits_processor=[processor],
        do_sample=True,
        max_new_tokens=120,
        eos_token_id=vocab.eos_id,
        pad_token_id=vocab.pad_id,
    )
    tokens = vocab.decode(out[0].tolist())
    # Whole bars: the durations between bar lines add up to the metre.
    length = dplan.bar_length
    for chunk in " ".join(tokens).split("BAR")[1:-1]:
        total = sum(int(t.split("_")[1]) for t in chunk.split() if t[:4] in ("DUR_", "REST"))
        assert total == length


def test_a_copied_phrase_is_written_again(tiny_model: Path) -> None:
    loaded = load_model(tiny_model, precision="fp32")
    # Long enough for a melody of more than 17 notes from any sampling settings.
    dplan = decode_plan(_plan("a happy pop song", seed=5, duration_s=40.0))
    first = sample_piece(loaded, dplan, seed=5)
    melody = [note[2] for bar in first.melody for note in bar]
    # Pretend the first piece was a training piece: the same seed must now avoid it.
    index = OriginalityIndex.from_pieces([])
    index = OriginalityIndex(np.concatenate([index.hashes, _hashes(melody)]))
    again = sample_piece(loaded, dplan, seed=5, originality=index)
    assert again.regenerated_phrases > 0
    pitches = [note[2] for bar in again.melody for note in bar]
    assert len(index.matches(pitches)) == again.originality_violations == 0


def _hashes(pitches):
    from generation.lm.originality import interval_run_hashes

    assert len(pitches) > RUN + 1
    return interval_run_hashes(pitches)


def test_sampling_settings_and_metres_are_validated() -> None:
    with pytest.raises(LMError, match="temperature: got 0"):
        SamplingSettings(temperature=0)
    with pytest.raises(LMError, match=r"top_p: got 1\.5"):
        SamplingSettings(top_p=1.5)
    plan = replace(_plan("a calm folk tune"), meter=(5, 8))
    with pytest.raises(LMError, match="meter: got 5/8"):
        decode_plan(plan)


def test_conditions_follow_the_plan() -> None:
    calm = plan_conditions(_plan("a very calm slow sad piece"))
    lively = plan_conditions(_plan("a very happy energetic fast dance"))
    assert (calm.arousal, calm.tempo, calm.density) == ("low", "slow", "low")
    assert (lively.arousal, lively.tempo, lively.density) == ("high", "fast", "high")
    assert calm.mode == "minor" and lively.mode == "major"


def test_model_folders_are_checked(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(LMError, match="not a model folder"):
        load_model(tmp_path)
    broken = tmp_path / "other"
    broken.mkdir()
    for item in tiny_model.iterdir():
        (broken / item.name).write_bytes(item.read_bytes())
    data = json.loads((broken / "tokenizer.json").read_text())
    data["model"]["vocab"]["EXTRA"] = len(data["model"]["vocab"])
    (broken / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(LMError, match="differ from this version's vocabulary"):
        load_model(broken)
    with pytest.raises(LMError, match="fp16 needs a CUDA GPU"):
        load_model(tiny_model, precision="fp16", device="cpu")


def test_the_shipped_model_loads_and_keeps_the_plan() -> None:
    plan = _plan("a light cheerful piece on the beach", seed=7, duration_s=12.0)
    loaded = load_model(DEFAULT_MODEL_DIR)
    assert loaded.sha256 and loaded.context >= 512
    dplan = decode_plan(plan)
    result = sample_piece(loaded, dplan, seed=7)
    _check_piece(result, dplan, plan)
    assert tonic_pitch_class(plan.key_tonic) == dplan.tonic_pc
