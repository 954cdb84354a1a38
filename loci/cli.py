"""The ``loci`` command.

Exit status: 0 on success, 2 for a problem with the user's input (the message names the
file, the field and the value), 3 for an instruction that the content policy refuses
(docs/safety.md; nothing is written), 1 for anything else. Heavy libraries are imported only
inside the commands, so ``loci --help`` answers at once.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3

#: Choices of ``--backend`` (what writes the score); ``loci.pipeline.BACKENDS`` holds the
#: same names (a test checks), kept apart so that ``loci --help`` imports nothing heavy.
_BACKENDS: tuple[str, ...] = ("rules", "lm", "musicgen")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loci",
        description="genius-loci: music composed for a place, heard binaurally in that place.",
    )
    from loci import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = commands.add_parser(
        "render",
        help="render a scene file to binaural music",
        description=(
            "Compose music for the scene's instruction and place, and render what the "
            "listener hears. Writes OUT/mix.wav (binaural, 48 kHz), OUT/stems/*.wav (dry "
            "stems), OUT/score.mid, OUT/plan.json and OUT/environment.json."
        ),
    )
    render.add_argument("scene", type=Path, help="scene file (.yaml, .yml or .json)")
    render.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    render.add_argument("--seed", type=int, help="override the scene's seed")
    render.add_argument("--duration", type=float, help="override the scene's duration, s")
    render.add_argument(
        "--lufs", type=float, default=-16.0, help="integrated loudness of mix.wav (default -16)"
    )
    render.add_argument(
        "--format",
        dest="audio_format",
        choices=("float", "pcm24", "ambix"),
        default="float",
        help="mix.wav sample format (default float); ambix also writes OUT/ambix.wav, the "
        "AmbiX (ACN, SN3D) mix for 360-degree video and VR players, and makes mix.wav its "
        "binaural decode",
    )
    render.add_argument(
        "--ambisonic-order",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="order of ambix.wav with --format ambix: 1, 2 or 3 (4, 9 or 16 channels; default 1)",
    )
    render.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 to play the stems")
    render.add_argument(
        "--loop", action="store_true", help="a seamless loop, rounded to whole bars"
    )
    _add_backend_options(render)
    _add_lyrics_options(render)
    render.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    render.set_defaults(run=_run_render)

    compose = commands.add_parser(
        "compose",
        help="compose music for an instruction, without a room",
        description=(
            "Compose music for an instruction and write OUT/stems/*.wav (dry, 48 kHz), "
            "OUT/score.mid and OUT/plan.json, with no spatial rendering."
        ),
    )
    compose.add_argument("instruction", help='what to compose, e.g. "在海滩上播放一首轻快的音乐"')
    compose.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    compose.add_argument("--duration", type=float, default=60.0, help="length, s (default 60)")
    compose.add_argument("--seed", type=int, default=0, help="seed of every choice (default 0)")
    compose.add_argument(
        "--place", action="append", default=[], help="a place word, e.g. beach (repeatable)"
    )
    compose.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 to play the stems")
    compose.add_argument(
        "--loop", action="store_true", help="a seamless loop, rounded to whole bars"
    )
    _add_backend_options(compose)
    _add_lyrics_options(compose)
    compose.set_defaults(run=_run_compose)

    train = commands.add_parser(
        "train",
        help="train or fine-tune the music language model on a folder of scores",
        description=(
            "Read every MIDI, MusicXML, ABC and kern file under DATA_DIR (bad files are "
            "skipped and counted), hold out a tenth of the pieces for validation, and train "
            "the music LM that `--backend lm` uses: a new one, or the model given by --from "
            "fine-tuned. OUT gets the model (config.json, model.safetensors, tokenizer), "
            "training.json, TensorBoard logs in OUT/logs and, while training, a checkpoint "
            "that a rerun of the same command resumes from."
        ),
    )
    train.add_argument("data", type=Path, help="folder of score files (searched recursively)")
    train.add_argument("-o", "--out", type=Path, required=True, help="output model folder")
    train.add_argument(
        "--from", dest="base", type=Path, help="fine-tune this model folder (e.g. the default)"
    )
    train.add_argument("--epochs", type=int, default=1, help="passes over the data (default 1)")
    train.add_argument("--seed", type=int, default=0, help="seed of weights and batch order")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    train.set_defaults(run=_run_train)

    batch = commands.add_parser(
        "batch",
        help="render many scene files, with resume and a report",
        description=(
            "Render every scene file under a folder, or every row of a CSV/JSON manifest "
            "(scene plus overrides: instruction, seed, duration, format, output), each into "
            "OUT/NAME/. Finished jobs are recorded in OUT/batch.jsonl; OUT/report.html shows "
            "them all. See docs/batch.md."
        ),
    )
    batch.add_argument("path", type=Path, help="folder of scene files, or a .csv/.json manifest")
    batch.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    batch.add_argument("--workers", type=int, help="parallel renders (default: one per core)")
    batch.add_argument(
        "--engine", choices=("local", "ray"), default="local", help="where jobs run (default local)"
    )
    batch.add_argument(
        "--ray-address", help="a running Ray cluster (auto, ray://HEAD:10001); default: start one"
    )
    batch.add_argument(
        "--resume", action="store_true", help="skip jobs done earlier whose inputs are unchanged"
    )
    batch.add_argument(
        "--retries", type=int, default=1, help="further attempts of a failed job (default 1)"
    )
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    batch.set_defaults(run=_run_batch)

    analyze = commands.add_parser(
        "analyze",
        help="print the environment E of a scene, a mesh, an RGB-D scan or a folder of frames",
        description=(
            "Measure the place: for a scene file what perception reports to the composer, "
            "for a mesh (.obj .ply .stl .gltf .glb) its volume, surfaces per material, "
            "openness and reverberation, for an RGB-D scan (a folder with a nerfstudio "
            "transforms.json) the room it shows and its reverberation, for a folder of "
            "camera images their colour, clutter, sky, light, motion and mood. Prints JSON."
        ),
    )
    analyze.add_argument(
        "path", type=Path, help="scene file, mesh file, scan folder or folder of images"
    )
    analyze.add_argument("--plot", type=Path, help="also draw a top view to this PNG")
    analyze.set_defaults(run=_run_analyze)

    serve = commands.add_parser(
        "serve",
        help="live music for AR headsets and the browser, over a WebSocket",
        description=(
            "Serve live, head-tracked music: WebSocket /v1/session (docs/protocol.md), the "
            "web client at /, /healthz and /metrics. Listens on 127.0.0.1 unless --host "
            "says otherwise."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--token", help="a secret every session and /metrics must present")
    serve.add_argument(
        "--max-sessions", type=int, default=16, help="concurrent sessions (default 16)"
    )
    serve.add_argument(
        "--max-audio-load",
        default="0.7",
        help=(
            "refuse a new session when the audio clock's measured load (share of real time "
            "its thread works, 0 to 1) would pass this with one more session; 'none' admits "
            "up to --max-sessions whatever the load (default 0.7)"
        ),
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="generation worker processes (default 1)"
    )
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        help=(
            "processes that render sessions, each on a core of its own; the connections are "
            "shared out by their sessions (default 1)"
        ),
    )
    serve.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 to play the stems")
    serve.add_argument(
        "--reflection-order",
        choices=["1", "2", "3", "hrtf"],
        default="1",
        help=(
            "reflections as a world-frame ambisonic field of this order, turned with the "
            "head (cheap to turn), or 'hrtf': each image through its own HRTF, remade as "
            "the head turns (default 1)"
        ),
    )
    serve.set_defaults(run=_run_serve)

    headset = commands.add_parser(
        "headset",
        help="replay a scan to a server as a headset would, and record what it hears",
        description=(
            "Replay a scan folder (transforms.json with images, depth and camera poses) to "
            "a loci server at the scan's own rate: head poses at 60 Hz between its frames, "
            "its frames at --fps. Writes OUT/heard.wav and OUT/latency.json (per-block "
            "figures, motion to sound)."
        ),
    )
    headset.add_argument("scan", type=Path, help="scan folder (with transforms.json)")
    headset.add_argument(
        "--url", default="ws://127.0.0.1:8765/v1/session", help="the server's session URL"
    )
    headset.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    headset.add_argument("--instruction", help="what to play (default: the server's choice)")
    headset.add_argument("--place", help="place words, e.g. 'museum hall'")
    headset.add_argument("--token", help="the server's token")
    headset.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    headset.add_argument("--duration", type=float, help="seconds to play (default: the scan once)")
    headset.set_defaults(run=_run_headset)
    return parser


def _add_backend_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--backend",
        choices=_BACKENDS,
        default="rules",
        help="what writes the score: the rules arranger (default) or the music LM; or "
        "musicgen: the audio from a local MusicGen checkpoint given by --model (MusicGen "
        "weights are CC-BY-NC 4.0: non-commercial use only)",
    )
    command.add_argument(
        "--model",
        type=Path,
        help="the lm backend's model folder (default: the shipped model), or the musicgen "
        "backend's checkpoint folder (required)",
    )


def _add_lyrics_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--lyrics",
        action="store_true",
        help="sing lyrics on the melody: a vocal stem, lyrics.txt, lyrics.lrc, score.musicxml",
    )
    command.add_argument(
        "--lyrics-lang",
        choices=("en", "zh"),
        help="language of the lyrics (default: the instruction's); implies --lyrics",
    )
    command.add_argument(
        "--lyrics-model",
        type=Path,
        metavar="DIR",
        help="a local causal language model (transformers format) to write the lyrics "
        "instead of the built-in grammar; implies --lyrics",
    )


def _lyrics_options(args: argparse.Namespace):  # -> loci.pipeline.LyricsOptions | None
    if not (args.lyrics or args.lyrics_lang or args.lyrics_model):
        return None
    from loci.pipeline import LyricsOptions

    return LyricsOptions(language=args.lyrics_lang, model_dir=args.lyrics_model)


def _lyrics_problem(args: argparse.Namespace) -> str | None:
    if args.lyrics_model is not None and not args.lyrics_model.is_dir():
        return f"--lyrics-model: got {str(args.lyrics_model)!r}; no such folder"
    return None


def _backend_problem(args: argparse.Namespace) -> str | None:
    if args.model is not None and args.backend not in ("lm", "musicgen"):
        return f"--model: needs --backend lm or musicgen (got --backend {args.backend})"
    if args.backend == "musicgen" and args.model is None:
        return "--backend musicgen: needs --model DIR, a local MusicGen checkpoint folder"
    if args.model is not None and not args.model.is_dir():
        return f"--model: got {str(args.model)!r}; no such folder"
    return None


def _run_render(args: argparse.Namespace) -> int:
    from generation.lm.model import LMError
    from generation.lyrics.lm import LyricsModelError
    from generation.musicgen import MusicGenError
    from generation.safety import RefusedInstruction
    from scene.errors import SceneError

    if args.duration is not None and not (0 < args.duration <= 3600):
        return _fail_input(f"--duration: got {args.duration}; must be in (0, 3600] seconds")
    if args.seed is not None and args.seed < 0:
        return _fail_input(f"--seed: got {args.seed}; must be >= 0")
    if not -70.0 <= args.lufs <= -5.0:
        return _fail_input(f"--lufs: got {args.lufs}; must be between -70 and -5 LUFS")
    if args.soundfont is not None and not args.soundfont.is_file():
        return _fail_input(f"--soundfont: got {str(args.soundfont)!r}; no such file")
    if (problem := _backend_problem(args) or _lyrics_problem(args)) is not None:
        return _fail_input(problem)
    try:
        from loci.pipeline import STEPS, RenderOptions, render_file

        options = RenderOptions(
            target_lufs=args.lufs,
            audio_format="float" if args.audio_format == "ambix" else args.audio_format,
            ambisonic_order=args.ambisonic_order if args.audio_format == "ambix" else None,
            soundfont=args.soundfont,
            seed=args.seed,
            duration_s=args.duration,
            loop=args.loop,
            backend=args.backend,
            model_dir=args.model,
            lyrics=_lyrics_options(args),
        )
        with _progress(STEPS, quiet=args.quiet) as step:
            result = render_file(args.scene, args.out, options=options, progress=step)
    except RefusedInstruction as error:
        return _refuse(error)
    except (SceneError, LMError, LyricsModelError, MusicGenError) as error:
        return _fail_input(str(error))
    music = f"{result.key}, {result.tempo_bpm:.0f} bpm, " if result.key else ""
    print(
        f"wrote {result.out_dir}: {result.duration_s:g} s, {music}"
        f"{result.loudness_lufs:.1f} LUFS, true peak {result.true_peak_dbtp:.1f} dBTP, "
        f"in {result.elapsed_s:.1f} s"
        + (f" ({result.mastering_note})" if result.mastering_note else "")
    )
    return EXIT_OK


def _run_compose(args: argparse.Namespace) -> int:
    if not 0 < args.duration <= 3600:
        return _fail_input(f"--duration: got {args.duration}; must be in (0, 3600] seconds")
    if args.seed < 0:
        return _fail_input(f"--seed: got {args.seed}; must be >= 0")
    if not args.instruction.strip():
        return _fail_input("instruction: got ''; must contain words")
    if args.soundfont is not None and not args.soundfont.is_file():
        return _fail_input(f"--soundfont: got {str(args.soundfont)!r}; no such file")
    if (problem := _backend_problem(args) or _lyrics_problem(args)) is not None:
        return _fail_input(problem)
    from generation.lm.model import LMError
    from generation.lyrics.lm import LyricsModelError
    from generation.musicgen import MusicGenError
    from generation.safety import RefusedInstruction
    from loci.compose import compose_to_folder

    try:
        result = compose_to_folder(
            args.instruction,
            args.out,
            duration_s=args.duration,
            seed=args.seed,
            place=tuple(args.place),
            soundfont=args.soundfont,
            loop=args.loop,
            backend=args.backend,
            model_dir=args.model,
            lyrics=_lyrics_options(args),
        )
    except RefusedInstruction as error:
        return _refuse(error)
    except (LMError, LyricsModelError, MusicGenError) as error:
        return _fail_input(str(error))
    plan = result.music.plan
    stems = ", ".join(stem.name for stem in result.music.stems)
    print(
        f"wrote {result.out_dir}: {plan.duration_s:g} s, {plan.key}, {plan.tempo_bpm:.0f} bpm, "
        f"{plan.meter[0]}/{plan.meter[1]}; stems: {stems}"
    )
    return EXIT_OK


def _run_train(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        return _fail_input(f"DATA_DIR: got {str(args.data)!r}; no such folder")
    if args.epochs < 1:
        return _fail_input(f"--epochs: got {args.epochs}; must be >= 1")
    if args.base is not None and not (args.base / "config.json").is_file():
        return _fail_input(f"--from: got {str(args.base)!r}; not a model folder (no config.json)")
    from generation.lm.model import LMError
    from generation.lm.train import train_folder

    try:
        result = train_folder(
            args.data,
            args.out,
            base=args.base,
            epochs=args.epochs,
            seed=args.seed,
            progress=not args.quiet and sys.stderr.isatty(),
            log=lambda line: print(f"loci train: {line}", file=sys.stderr),
        )
    except LMError as error:
        return _fail_input(str(error))
    print(
        f"wrote {result.out_dir.resolve()}: {result.train_pieces} pieces "
        f"({result.train_tokens:,} tokens) x {args.epochs} epoch(s) in {result.seconds:.0f} s, "
        f"{result.tokens_per_s:,.0f} tokens/s; validation loss {result.validation_loss:.3f} "
        f"nats/token on {result.validation_pieces} pieces (4-gram {result.ngram_loss:.3f})"
    )
    return EXIT_OK


def _run_batch(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return _fail_input(f"--workers: got {args.workers}; must be >= 1")
    if args.retries < 0:
        return _fail_input(f"--retries: got {args.retries}; must be >= 0")
    if args.ray_address is not None and args.engine != "ray":
        return _fail_input("--ray-address: needs --engine ray")
    from loci.batch import BatchBusyError, RayMissingError, plan_batch, run_batch
    from loci.batch.console import job_progress, summary_line
    from scene.errors import SceneError

    try:
        plan = plan_batch(args.path, args.out, resume=args.resume)
        with job_progress(
            total=len(plan.jobs), skipped=len(plan.skipped), quiet=args.quiet
        ) as advance:
            summary = run_batch(
                plan,
                engine=args.engine,
                workers=args.workers,
                retries=args.retries,
                ray_address=args.ray_address,
                on_outcome=advance,
            )
    except (SceneError, RayMissingError, BatchBusyError) as error:
        return _fail_input(str(error))
    for name in summary.failed:
        print(f"loci: batch: {name} failed: {summary.errors[name]}", file=sys.stderr)
    print(
        summary_line(
            done=len(summary.done),
            skipped=len(summary.skipped),
            failed=len(summary.failed),
            seconds=summary.seconds,
            report=summary.report,
        )
    )
    return EXIT_OK if summary.ok else EXIT_FAILURE


def _run_analyze(args: argparse.Namespace) -> int:
    from loci.analyze import analyze_path, plot_top_view, report_json
    from scene.errors import SceneError

    if args.plot is not None and args.plot.suffix.lower() != ".png":
        return _fail_input(f"--plot: got {str(args.plot)!r}; must be a .png file")
    try:
        analysis = analyze_path(args.path)
        if args.plot is not None:
            plot_top_view(analysis, args.plot)
    except SceneError as error:
        return _fail_input(str(error))
    sys.stdout.buffer.write((report_json(analysis) + "\n").encode("utf-8"))
    sys.stdout.flush()
    return EXIT_OK


def _refuse(error: Exception) -> int:
    print(f"loci: refused: {error}", file=sys.stderr)
    return EXIT_REFUSED


def _run_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        return _fail_input(f"--port: got {args.port}; must be in 1..65535")
    if args.max_sessions < 1:
        return _fail_input(f"--max-sessions: got {args.max_sessions}; must be >= 1")
    max_audio_load = _audio_load_option(args.max_audio_load)
    if isinstance(max_audio_load, str):
        return _fail_input(max_audio_load)
    if args.workers < 0:
        return _fail_input(f"--workers: got {args.workers}; must be >= 0")
    if not 1 <= args.processes <= 64:
        return _fail_input(f"--processes: got {args.processes}; must be in 1..64")
    if args.soundfont is not None and not args.soundfont.is_file():
        return _fail_input(f"--soundfont: got {str(args.soundfont)!r}; no such file")
    if args.token is not None and len(args.token) < 8:
        return _fail_input("--token: must be at least 8 characters")
    from loci.serve.app import ServeConfig
    from loci.serve.limits import Limits
    from loci.serve.server import serve

    config = ServeConfig(
        token=args.token,
        limits=Limits(max_sessions=args.max_sessions, max_audio_load=max_audio_load),
        workers=args.workers,
        soundfont=None if args.soundfont is None else str(args.soundfont.resolve()),
        reflection_order=None if args.reflection_order == "hrtf" else int(args.reflection_order),
    )
    print(f"loci serve: http://{args.host}:{args.port}/ (WebSocket /v1/session)", flush=True)
    serve(config, host=args.host, port=args.port, processes=args.processes)
    return EXIT_OK


def _audio_load_option(text: str) -> float | str | None:
    """``--max-audio-load``'s value, or the message that refuses it."""
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        return (
            f"--max-audio-load: got {text!r}; must be 'none' or a share of real time, > 0 and <= 1"
        )
    return value


def _run_headset(args: argparse.Namespace) -> int:
    if not 0 < args.fps <= 30:
        return _fail_input(f"--fps: got {args.fps}; must be in (0, 30]")
    if args.duration is not None and not 0 < args.duration <= 3600:
        return _fail_input(f"--duration: got {args.duration}; must be in (0, 3600] seconds")
    if not args.url.startswith(("ws://", "wss://")):
        return _fail_input(f"--url: got {args.url!r}; must start with ws:// or wss://")
    from loci.client import ServerError
    from loci.headset import replay_scan
    from scene.errors import SceneError

    try:
        result = replay_scan(
            args.scan,
            args.out,
            url=args.url,
            instruction=args.instruction,
            place=args.place,
            token=args.token,
            fps=args.fps,
            duration_s=args.duration,
        )
    except SceneError as error:
        return _fail_input(str(error))
    except (ServerError, OSError) as error:
        print(f"loci: headset: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(result.summary())
    return EXIT_OK


def _fail_input(message: str) -> int:
    print(f"loci: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


class _progress:
    """A progress bar over the pipeline's steps on stderr (nothing when quiet or not a TTY)."""

    def __init__(self, steps: Sequence[str], *, quiet: bool) -> None:
        self._steps = list(steps)
        self._quiet = quiet or not sys.stderr.isatty()
        self._bar = None
        self._task = None

    def __enter__(self) -> Callable[[str], None]:
        if self._quiet:
            return lambda _step: None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("start", total=len(self._steps))
        return self._step

    def _step(self, name: str) -> None:
        assert self._bar is not None
        done = self._steps.index(name) if name in self._steps else 0
        self._bar.update(self._task, description=name, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


if __name__ == "__main__":
    sys.exit(main())
