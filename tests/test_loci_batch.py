"""loci batch: jobs from folders and manifests, the ledger, resume, kills, failures, report."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from browser import headless_chromium, needs_chromium

from loci.batch.engines import _ONE_THREAD_ENV, _one_thread_environment
from loci.batch.jobs import discover_jobs
from loci.cli import main
from scene.errors import SceneError

ROOT = Path(__file__).resolve().parents[1]

# A small shoebox and two seconds of music: about 0.1-0.5 s a render once a worker is warm.
SHORT_SCENE = {
    "version": 1,
    "instruction": "a calm piano piece",
    "duration": 2,
    "seed": 1,
    "room": {"kind": "shoebox", "size": [6, 5, 3]},
    "listener": {"position": [2, 2, 1.7], "yaw": 0},
}


def _scene(path: Path, **changes: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**SHORT_SCENE, **changes}, allow_unicode=True), "utf-8")
    return path


def _ledger(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "batch.jsonl").read_text("utf-8").splitlines()]


class _Rows(HTMLParser):
    """Counts the report's job rows and notes anything that would load from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.audio: list[str | None] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("class") == "job":
            self.rows.append(found)
        if tag == "audio":
            self.audio.append(found.get("src"))
        for name in ("src", "href"):
            value = found.get(name) or ""
            if tag in ("script", "link", "img") or "//" in value:
                self.external.append(f"{tag} {name}={value}")


def _report(out: Path) -> tuple[_Rows, str]:
    text = (out / "report.html").read_text("utf-8")
    parser = _Rows()
    parser.feed(text)
    return parser, text


def _batch(*args: str | Path) -> int:
    return main(["batch", *map(str, args), "--workers", "2", "--quiet"])


def test_folder_batch_renders_every_scene_and_writes_ledger_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenes = tmp_path / "scenes"
    _scene(scenes / "hall.yaml")
    _scene(scenes / "rooms" / "small.yml", seed=2)
    (scenes / "rooms" / "notes.txt").write_text("not a scene", "utf-8")
    out = tmp_path / "out"
    threads = {name: os.environ.get(name) for name in _ONE_THREAD_ENV}

    assert _batch(scenes, "-o", out) == 0

    assert {name: os.environ.get(name) for name in _ONE_THREAD_ENV} == threads
    records = _ledger(out)
    assert sorted(r["job"] for r in records) == ["hall", "rooms/small"]
    for record in records:
        assert record["status"] == "ok" and record["error"] is None
        assert set(record) >= {"input_hash", "seconds", "key", "tempo_bpm", "loudness_lufs"}
        assert record["loudness_lufs"] == pytest.approx(-16.0, abs=0.1)
        assert record["true_peak_dbtp"] <= -1.0 + 1e-6
        assert (out / record["job"] / "mix.wav").is_file()
    parser, text = _report(out)
    assert len(parser.rows) == 2
    assert sorted(parser.audio) == ["hall/mix.wav", "rooms/small/mix.wav"]
    assert parser.external == []
    assert text.count("<svg") == 2 and "RT60" in text
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("batch: 2 done, 0 skipped, 0 failed of 2 jobs")
    # Each worker measured its mix's envelope; the report draws it from the ledger.
    from loci.batch.report import envelope_svg, peak_envelope

    for record in records:
        wav = out / record["job"] / "mix.wav"
        assert record["envelope"] == peak_envelope(wav)
        assert len(record["envelope"]) == 120 and 0.0 < max(record["envelope"]) <= 10 ** (-1 / 20)
        assert envelope_svg(record["envelope"]) in text


def test_manifest_variants_render_into_their_own_folders_with_different_audio(
    tmp_path: Path,
) -> None:
    _scene(tmp_path / "scenes" / "room.yaml")
    manifest = tmp_path / "jobs.csv"
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scene", "seed", "instruction", "output"])
        writer.writerow(["scenes/room.yaml", "1", "", ""])
        writer.writerow(["scenes/room.yaml", "2", "", ""])
        writer.writerow(["scenes/room.yaml", "", "a lively fast jazz tune", "jazz"])
    out = tmp_path / "out"

    assert _batch(manifest, "-o", out) == 0

    folders = sorted(p.name for p in (out / "scenes").iterdir() if not p.name.startswith("."))
    assert folders == ["room-seed1", "room-seed2"]
    one, _ = sf.read(out / "scenes" / "room-seed1" / "mix.wav")
    two, _ = sf.read(out / "scenes" / "room-seed2" / "mix.wav")
    assert not np.array_equal(one, two)
    plan = json.loads((out / "jazz" / "plan.json").read_text("utf-8"))
    assert plan["style"]["instruction"] == "a lively fast jazz tune"
    assert plan["scene"]["seed"] == 1


def test_a_broken_scene_fails_alone_and_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenes = tmp_path / "scenes"
    _scene(scenes / "a.yaml")
    _scene(scenes / "b.yaml", seed=3)
    (scenes / "broken.yaml").write_text("version: 1\nduration: -3\n", "utf-8")
    out = tmp_path / "out"

    assert _batch(scenes, "-o", out) == 1

    captured = capsys.readouterr()
    assert "broken failed: SceneError:" in captured.err and "duration" in captured.err
    assert "2 done, 0 skipped, 1 failed of 3 jobs" in captured.out
    latest = {r["job"]: r for r in _ledger(out)}
    assert latest["broken"]["status"] == "failed" and "duration" in latest["broken"]["error"]
    assert latest["broken"]["attempts"] == 1  # a mistake in the input is not retried
    assert latest["a"]["status"] == latest["b"]["status"] == "ok"
    assert not (out / "broken").exists()
    parser, text = _report(out)
    assert len(parser.rows) == 3
    assert "must be a number of seconds" in text


def test_resume_skips_finished_jobs_and_redoes_changed_ones(tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    _scene(scenes / "a.yaml")
    changed = _scene(scenes / "b.yaml", seed=2)
    out = tmp_path / "out"
    assert _batch(scenes, "-o", out) == 0
    mtimes = {name: (out / name / "mix.wav").stat().st_mtime_ns for name in ("a", "b")}
    stale = out / ".a.k2j4h1"  # what a batch killed mid-write leaves beside a job
    stale.mkdir()
    (stale / "mix.wav").write_bytes(b"half")

    assert _batch(scenes, "-o", out, "--resume") == 0
    assert len(_ledger(out)) == 2
    assert {n: (out / n / "mix.wav").stat().st_mtime_ns for n in mtimes} == mtimes
    assert not stale.exists()

    _scene(changed, seed=5)
    assert _batch(scenes, "-o", out, "--resume") == 0
    records = _ledger(out)
    assert [r["job"] for r in records[2:]] == ["b"]
    first_b = next(r for r in records[:2] if r["job"] == "b")
    assert first_b["input_hash"] != records[2]["input_hash"]
    assert (out / "a" / "mix.wav").stat().st_mtime_ns == mtimes["a"]
    assert (out / "b" / "mix.wav").stat().st_mtime_ns != mtimes["b"]
    assert json.loads((out / "b" / "plan.json").read_text("utf-8"))["scene"]["seed"] == 5


def test_a_killed_batch_resumes_without_rendering_a_job_twice(tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    names = [f"s{i}" for i in range(6)]
    for i, name in enumerate(names):
        _scene(scenes / f"{name}.yaml", seed=i, duration=3)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "loci.cli", "batch", str(scenes), "-o", str(out)]
    batch = subprocess.Popen(
        [*command, "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and batch.poll() is None:
            if (out / "batch.jsonl").is_file() and (out / "batch.jsonl").stat().st_size:
                break
            time.sleep(0.05)
        assert batch.poll() is None, "the batch ended before it could be killed"
        batch.send_signal(signal.SIGKILL)
    finally:
        batch.kill()
        batch.communicate(timeout=30)
    before = _ledger(out)
    assert 1 <= len(before) < len(names)
    for folder in out.iterdir():  # every visible job folder is whole
        if folder.is_dir() and not folder.name.startswith("."):
            assert {"mix.wav", "plan.json", "environment.json"} <= {
                p.name for p in folder.iterdir()
            }
    # The killed batch's workers end by themselves (they watch their parent).
    pids = {r["worker_pid"] for r in before}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)

    resumed = subprocess.run(
        [*command, "--workers", "2", "--resume"], cwd=ROOT, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    records = _ledger(out)
    assert sorted(r["job"] for r in records) == names  # each job recorded exactly once
    assert all(r["status"] == "ok" for r in records)
    assert [p.name for p in out.iterdir() if p.name.startswith(".s")] == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "nowhere", "no such file or folder"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no scene files"),
        (
            lambda tmp: (tmp / "m.csv").write_text("file,seed\na.yaml,1\n") and tmp / "m.csv",
            "column `scene` is missing",
        ),
        (
            lambda tmp: (tmp / "m.csv").write_text("scene,seed\na.yaml,x\n") and tmp / "m.csv",
            "row 1, column seed: got 'x'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    _scene(tmp_path / "a.yaml")
    assert _batch(make(tmp_path), "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("loci: error:") and err.count("\n") == 1
    assert message in err


def test_manifest_rows_are_checked_and_named(tmp_path: Path) -> None:
    _scene(tmp_path / "a.yaml")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"jobs": [{"scene": "a.yaml", "mood": "sad"}]}), "utf-8")
    with pytest.raises(SceneError, match=r"m.json: row 1: got 'mood'; unknown column"):
        discover_jobs(manifest)
    manifest.write_text(json.dumps([{"scene": "a.yaml"}, {"scene": "a.yaml"}]), "utf-8")
    with pytest.raises(SceneError, match="would both write this output folder"):
        discover_jobs(manifest)
    manifest.write_text(json.dumps([{"scene": "a.yaml", "duration": 0}]), "utf-8")
    with pytest.raises(SceneError, match=r"row 1, column duration: got 0"):
        discover_jobs(manifest)
    manifest.write_text(json.dumps([{"scene": "a.yaml", "output": "../x"}]), "utf-8")
    with pytest.raises(SceneError, match=r"column output: got '../x'"):
        discover_jobs(manifest)
    manifest.write_text(json.dumps([{"scene": "missing.yaml"}]), "utf-8")
    with pytest.raises(SceneError, match=r"column scene: got 'missing.yaml'; no such scene"):
        discover_jobs(manifest)
    manifest.write_text(
        json.dumps([{"scene": "a.yaml", "seed": 4, "duration": 2.5}, {"scene": "a.yaml"}]), "utf-8"
    )
    assert [job.name for job in discover_jobs(manifest)] == ["a", "a-seed4-d2.5s"]


def test_the_output_folder_inside_the_scene_folder_is_not_scanned(tmp_path: Path) -> None:
    _scene(tmp_path / "a.yaml")
    (tmp_path / "out" / "a").mkdir(parents=True)
    (tmp_path / "out" / "a" / "plan.json").write_text("{}", "utf-8")
    assert [job.name for job in discover_jobs(tmp_path, exclude=tmp_path / "out")] == ["a"]


def test_workers_are_spawned_with_one_thread_and_a_users_setting_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: the batch once set NUMBA_NUM_THREADS=1 in its own process for good, and
    # numba then refused to run there ("Cannot set NUMBA_NUM_THREADS to a different value
    # once the threads have been launched").
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with _one_thread_environment():
        assert os.environ["NUMBA_NUM_THREADS"] == "1"
        assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "NUMBA_NUM_THREADS" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_ray_engine_without_ray_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    _scene(tmp_path / "scenes" / "a.yaml")
    assert _batch(tmp_path / "scenes", "-o", tmp_path / "out", "--engine", "ray") == 2
    assert 'pip install "genius-loci[ray]"' in capsys.readouterr().err


def test_ray_engine_renders_the_same_samples_as_local(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    scenes = tmp_path / "scenes"
    _scene(scenes / "a.yaml")
    _scene(scenes / "b.yaml", seed=4)
    assert _batch(scenes, "-o", tmp_path / "local") == 0
    assert _batch(scenes, "-o", tmp_path / "ray", "--engine", "ray") == 0
    for name in ("a", "b"):
        local = (tmp_path / "local" / name / "mix.wav").read_bytes()
        assert (tmp_path / "ray" / name / "mix.wav").read_bytes() == local
        score = (tmp_path / "local" / name / "score.mid").read_bytes()
        assert (tmp_path / "ray" / name / "score.mid").read_bytes() == score


@needs_chromium
def test_the_report_renders_in_a_headless_browser_with_a_row_per_job(tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    _scene(scenes / "a.yaml")
    _scene(scenes / "b.yaml", seed=3)
    (scenes / "broken.yaml").write_text("version: 1\nduration: -3\n", "utf-8")
    out = tmp_path / "out"
    assert _batch(scenes, "-o", out) == 1

    with headless_chromium() as browser:
        browser.get((out / "report.html").as_uri())
        rows = browser.execute_script(
            "return Array.from(document.querySelectorAll('tr.job'), r => r.innerText)"
        )
        # The players load the jobs' mix.wav by relative path: their length is the scene's.
        durations = browser.execute_script(
            """
            const players = Array.from(document.querySelectorAll('audio'));
            const loaded = players.map(p => new Promise(done => {
                if (p.readyState >= 1) { done(p.duration); return; }
                p.addEventListener('loadedmetadata', () => done(p.duration));
                p.addEventListener('error', () => done(-1));
                p.load();
            }));
            const timeout = new Promise(done => setTimeout(() => done('timeout'), 10000));
            return Promise.race([Promise.all(loaded), timeout]);
            """
        )
        drawn = browser.execute_script(
            "return Array.from(document.querySelectorAll('svg'),"
            " s => s.getBoundingClientRect().width)"
        )
    assert len(rows) == 3
    assert sum("must be a number of seconds" in row for row in rows) == 1
    assert durations != "timeout" and len(durations) == 2
    assert durations == pytest.approx([2.0, 2.0], abs=0.05)
    assert len(drawn) == 2 and min(drawn) > 0


def test_a_record_without_an_envelope_gets_its_thumbnail_from_the_file(tmp_path: Path) -> None:
    from loci.batch.report import _thumbnail, envelope_svg, peak_envelope

    n = 48_000
    audio = np.zeros((n, 2), dtype=np.float32)
    audio[: n // 2, 0] = 0.5  # loud first half, silent second half
    wav = tmp_path / "mix.wav"
    sf.write(wav, audio, 48_000, subtype="FLOAT")
    peaks = peak_envelope(wav)
    assert peaks == [0.5] * 60 + [0.0] * 60
    assert _thumbnail(None, wav) == envelope_svg(peaks)  # an older ledger's record
    assert _thumbnail([0.1, 0.2], tmp_path / "gone.wav") == envelope_svg([0.1, 0.2])
    assert _thumbnail(None, tmp_path / "gone.wav") == ""
    assert peak_envelope(wav, columns=n + 1) is None  # shorter than its columns
