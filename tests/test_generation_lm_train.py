"""``loci train`` and the ``lm`` backend through the command line and the pipeline.

A tiny GPT-2 (2 x 32) is trained on a handful of real scores from music21's corpus;
checkpoints, resume, fine-tuning, TensorBoard logs and plan.json are checked on disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import music21
import pytest

torch = pytest.importorskip("torch")

from generation.lm.corpus import read_folder  # noqa: E402
from generation.lm.dataset import split_by_piece, windows  # noqa: E402
from generation.lm.model import load_model, new_model  # noqa: E402
from generation.lm.train import CHECKPOINT, TrainConfig, evaluate_loss, train  # noqa: E402
from generation.lm.vocab import Vocabulary  # noqa: E402
from loci import cli, pipeline  # noqa: E402

CORPUS = Path(music21.__file__).parent / "corpus"
FILES = [
    CORPUS / "ryansMammoth" / name
    for name in (
        "BossJig.abc",
        "BostonReel.abc",
        "BottleOfBrandyJig.abc",
        "BonniestLassInAyerStrathspey.abc",
        "BosonRattlersReel.abc",
        "BostonBoysReel.abc",
    )
] + [CORPUS / "bach" / "bwv10.7.mxl"]
TINY = TrainConfig(
    epochs=3, layers=2, width=32, heads=2, context=256, batch_tokens=1024, warmup_steps=2
)


@pytest.fixture(scope="module")
def pieces():
    return list(read_folder(CORPUS, files=FILES).pieces)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, pieces) -> Path:
    out = tmp_path_factory.mktemp("trained")
    train(pieces, out, config=TINY, progress=False)
    return out


def test_training_lowers_the_loss_and_writes_a_model(pieces, trained: Path) -> None:
    vocab = Vocabulary()
    train_pieces, _ = split_by_piece(pieces)
    seqs = windows(train_pieces, vocab, context=256)
    torch.manual_seed(TINY.seed)
    untrained = new_model(vocab, layers=2, width=32, heads=2, context=256)
    loaded = load_model(trained, precision="fp32")
    before = evaluate_loss(untrained, seqs, pad_id=vocab.pad_id)
    after = evaluate_loss(loaded.model, seqs, pad_id=vocab.pad_id)
    assert after < before - 0.3, (before, after)
    info = json.loads((trained / "training.json").read_text())
    assert info["train_pieces"] + info["validation_pieces"] == len(pieces)
    assert info["validation_loss_per_token"] > 0 and info["ngram4_validation_loss_per_token"] > 0
    assert info["training_tokens_per_s"] > 0 and info["originality_runs"] > 100
    for name in ("config.json", "model.safetensors", "tokenizer.json", "originality.npy"):
        assert (trained / name).is_file(), name
    assert list((trained / "logs").glob("events.out.tfevents.*"))
    assert not (trained / CHECKPOINT).exists()


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path, pieces, trained) -> None:
    stopped = train(pieces, tmp_path, config=TINY, progress=False, stop_after_steps=2)
    assert stopped.steps == 2 and (tmp_path / CHECKPOINT / "trainer_state.json").is_file()
    assert not (tmp_path / "model.safetensors").exists()
    resumed = train(pieces, tmp_path, config=TINY, progress=False)
    assert resumed.resumed_from_step == 2
    full = json.loads((trained / "training.json").read_text())
    assert resumed.steps == full["steps"]
    # Same data order and optimiser state: the resumed model is the uninterrupted one
    # (up to float summation order).
    assert resumed.validation_loss == pytest.approx(full["validation_loss_per_token"], abs=2e-3)


def test_loci_train_fine_tunes_and_skips_bad_files(tmp_path: Path, trained: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for path in FILES[:3]:
        shutil.copy(path, data / path.name)
    (data / "broken.krn").write_text("**kern\n*M3/4\n=1\nnot kern\n*-\n", encoding="utf-8")
    out = tmp_path / "mine"
    status = cli.main(["train", str(data), "-o", str(out), "--from", str(trained), "-q"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "skipped 1" in captured.err and "broken.krn" in (out / "skipped.txt").read_text()
    info = json.loads((out / "training.json").read_text())
    assert info["base_model"] == str(trained) and info["architecture"]["width"] == 32
    assert load_model(out).vocab.tokens == Vocabulary().tokens
    assert "wrote" in captured.out and "tokens/s" in captured.out


def test_loci_train_rejects_bad_arguments(tmp_path: Path, capsys) -> None:
    assert cli.main(["train", str(tmp_path / "none"), "-o", str(tmp_path / "o")]) == 2
    assert "DATA_DIR: got" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path), "-o", str(tmp_path / "o"), "--epochs", "0"]) == 2
    assert "--epochs: got 0" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path), "-o", str(tmp_path / "o"), "--from", "x"]) == 2
    assert "--from: got 'x'" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path), "-o", str(tmp_path / "o"), "-q"]) == 2
    assert "no pieces to train on" in capsys.readouterr().err


def test_compose_with_the_lm_backend_records_it_in_plan_json(tmp_path: Path, trained) -> None:
    out = tmp_path / "piece"
    args = ["compose", "a calm folk tune", "-o", str(out), "--duration", "12", "--seed", "3"]
    assert cli.main([*args, "--backend", "lm", "--model", str(trained)]) == 0
    plan = json.loads((out / "plan.json").read_text())
    composer = plan["composer"]
    assert composer["backend"] == "lm"
    assert len(composer["model"]["sha256"]) == 64
    assert composer["conditioning"][0].startswith("STYLE_")
    assert composer["sampling"]["seed"] == 3 and composer["sampling"]["top_p"] == 0.95
    bars = sum(section["bars"] for section in plan["form"])
    assert len(composer["bar_log_likelihood"]) == bars
    assert composer["originality"]["violations"] == 0
    assert 0 <= composer["constraints"]["intervention_rate"] <= 1
    assert (out / "score.mid").is_file() and (out / "stems" / "melody.wav").is_file()


def test_backend_options_are_checked(tmp_path: Path, capsys) -> None:
    assert cli._BACKENDS == pipeline.BACKENDS
    out = str(tmp_path / "o")
    assert cli.main(["compose", "a tune", "-o", out, "--model", str(tmp_path)]) == 2
    assert "--model: needs --backend lm" in capsys.readouterr().err
    args = ["compose", "a tune", "-o", out, "--backend", "lm", "--model", str(tmp_path)]
    assert cli.main(args) == 2
    assert "is not a model folder" in capsys.readouterr().err
    missing = ["compose", "a tune", "-o", out, "--backend", "lm", "--model", "/no/such"]
    assert cli.main(missing) == 2
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="backend: got 'jazz'"):
        pipeline.compose_score(None, backend="jazz")  # type: ignore[arg-type]
