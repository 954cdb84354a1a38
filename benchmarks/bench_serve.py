"""``loci serve`` under load: capacity, motion to sound, and misbehaving clients.

    python benchmarks/bench_serve.py capacity [--seconds 20] [--max 12] [--processes N] [--sway CM]
    python benchmarks/bench_serve.py admission [--sessions 4] [--gap 4] [--seconds 30]
    python benchmarks/bench_serve.py load [--seconds 60] [--clients 32] [--bad 4] [--processes N]

``capacity``: N head-tracked sessions (8 source slots each, 256-sample blocks, poses at
60 Hz, a small room), N = 1, 2, 3, ... until a session's blocks miss their deadline more
than 0.1% of the time; each N runs on a fresh server process. Prints deadline misses per
N, the server's CPU, the renderer's CPU per block beside a numpy baseline (one
partitioned convolution of the same 8 sources without any head tracking), and motion to
sound.

``admission``: head-tracked sessions arrive one every ``gap`` seconds at one server that
keeps its admission limit (``--max-audio-load``); prints which were admitted and refused,
the admitted sessions' deadline misses, and the audio clock's load.

``load``: ``clients`` sessions for ``seconds`` where ``bad`` of them misbehave (garbage
and oversize text, a 1 kHz pose flood, frames over the size limit, sudden disconnects
in the middle of the stream, reconnecting); the others measure their deadline misses
(from the server's per-session counters) against a run of the same well-behaved clients
alone, and the server's resident memory is read before and after. Bounded in time and
count; every process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from head_motion import sway  # noqa: E402
from numpy_baseline import partitioned_convolution_ms  # noqa: E402
from serve_support import server_process  # noqa: E402

from loci.client import connect  # noqa: E402

BLOCK = 256


def _turn(yaw_deg: float) -> list[float]:
    half = math.radians(yaw_deg) / 2
    return [0.0, math.sin(half), 0.0, math.cos(half)]


def _metrics(base: str) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://{base}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it (a cluster's workers, generation workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split(")")[-1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def _cpu_s(pid: int) -> float:
    """CPU seconds of the server: all its processes."""
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().split(")")[-1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    """Resident memory of the server: all its processes, MB."""
    total = 0.0
    for member in _tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:"))
    return total


async def _listener(
    base, seconds, *, place, instruction, seed, pose_hz, block_size=BLOCK, sway_cm=0.0
):
    """A well-behaved head-tracked client: returns its final state and pose latencies.
    ``sway_cm``: the head's position also sways +- that much (:func:`head_motion.sway`),
    as a standing headset wearer's does."""
    async with connect(
        f"ws://{base}/v1/session",
        instruction=instruction,
        place=place,
        seed=seed,
        block_size=block_size,
        timeout=120,
    ) as client:
        start = time.monotonic()
        first_state = dict(client.state)

        async def head() -> None:
            i = 0
            while time.monotonic() - start < seconds:
                side, front = sway(i / pose_hz, sway_cm)
                # WebXR: x to the right, y up, -z forward.
                await client.pose((side, 0.0, -front), _turn(40 * math.sin(i / pose_hz)))
                i += 1
                await asyncio.sleep(1 / pose_hz)

        mover = asyncio.create_task(head())
        blocks = 0
        async for _ in client.audio(seconds=seconds):
            blocks += 1
        await mover
        await asyncio.sleep(0.3)  # the last per-bar state
        return {
            "first": first_state,
            "last": client.state,
            "blocks": blocks,
            "latencies": client.pose_latencies(),
            "errors": client.errors,
        }


async def _tracked(base: str, seconds: float, *, seed: int, sway_cm: float = 0.0) -> dict:
    """The capacity and admission runs' client: a small room, a light piece, poses at
    60 Hz."""
    return await _listener(
        base,
        seconds,
        place="a small room",
        instruction="a light cheerful piece",
        seed=seed,
        pose_hz=60,
        sway_cm=sway_cm,
    )


def _session_misses(result: dict) -> tuple[int, int]:
    """Deadline misses and blocks of one session while the client listened."""
    first, last = result["first"], result["last"]
    return (
        last.get("deadline_misses", 0) - first.get("deadline_misses", 0),
        last.get("blocks", 0) - first.get("blocks", 0),
    )


def _renderer_cpu_ms(reflection_order: int | None) -> tuple[float, float, float]:
    """CPU ms per 256-sample block: StreamRenderer with a turning head (60 Hz poses),
    StreamRenderer static, and a plain numpy partitioned convolution of 8 sources."""
    import numpy as np

    from loci.serve.places import scene_for_hello
    from spatial.stream import StreamRenderer

    scene = scene_for_hello(scene_text=None, place="a small room", instruction=None, seed=0)
    listener = scene.listener
    positions = [
        (listener.position[0] + 2, listener.position[1] - 1.4 + 0.4 * k, 1.5) for k in range(8)
    ]
    renderer = StreamRenderer(
        scene.room,
        sources=8,
        block_size=BLOCK,
        listener=listener,
        positions=positions,
        seed=0,
        reflection_updates_per_second=16.0,
        reflection_order=reflection_order,
    )
    x = np.random.default_rng(0).standard_normal((8, BLOCK)).astype(np.float32) * 0.1
    for _ in range(50):
        renderer.process(x)
    n = 600
    started = time.process_time()
    for i in range(n):
        if i % 3 == 0:  # 60 Hz poses against 187.5 blocks a second
            renderer.set_listener(type(listener)(listener.position, yaw_deg=40 * math.sin(i / 60)))
        renderer.process(x)
    turning = (time.process_time() - started) / n * 1000
    started = time.process_time()
    for _ in range(n):
        renderer.process(x)
    static = (time.process_time() - started) / n * 1000
    numpy_ms = partitioned_convolution_ms(x, blocks=n // 3)
    return turning, static, numpy_ms


def capacity(args: argparse.Namespace) -> None:
    order = None if args.reflection_order == "hrtf" else int(args.reflection_order)
    turning, static, numpy_ms = _renderer_cpu_ms(order)
    block_ms = 1000 * BLOCK / 48_000
    print(
        f"renderer CPU per {BLOCK}-sample block ({block_ms:.2f} ms), 8 sources, small room, "
        f"reflections {args.reflection_order} (made inside process here):"
    )
    print(f"  StreamRenderer, head turning (60 Hz poses): {turning:.3f} ms")
    print(f"  StreamRenderer, head still:                 {static:.3f} ms")
    print(
        f"  numpy partitioned convolution (8 x 1 s, no head tracking): {numpy_ms:.3f} ms "
        f"(StreamRenderer turning / numpy = {turning / numpy_ms:.2f})"
    )
    print()
    print(
        "sessions  blocks  misses  miss%   server CPU  motion-to-sound median/p95 ms (render part)"
    )
    best = 0
    per_session: list[float] = []
    print(f"load average before: {os.getloadavg()[0]:.1f} (two cores, shared)")
    for n in range(1, args.max + 1):
        with server_process(
            "--max-sessions",
            str(n + 2),
            "--processes",
            str(args.processes),
            "--reflection-order",
            args.reflection_order,
            "--max-audio-load",  # measured past the point where the server would refuse
            "none",
        ) as (
            base,
            pid,
        ):
            time.sleep(8)  # the generation worker warms up
            cpu0, wall0 = _cpu_s(pid), time.monotonic()

            async def run(n=n, base=base):
                return await asyncio.gather(
                    *[_tracked(base, args.seconds, seed=k, sway_cm=args.sway) for k in range(n)]
                )

            results = asyncio.run(run())
            cpu = (_cpu_s(pid) - cpu0) / (time.monotonic() - wall0)
        misses = sum(_session_misses(r)[0] for r in results)
        blocks = sum(_session_misses(r)[1] for r in results)
        latencies = [lat for r in results for lat in r["latencies"]]
        total = sorted(1000 * lat.total_s for lat in latencies)
        render = sorted(1000 * lat.render_s for lat in latencies)
        rate = misses / blocks if blocks else math.nan
        p95 = total[int(0.95 * len(total))] if total else math.nan
        print(
            f"{n:8d}  {blocks:6d}  {misses:6d}  {100 * rate:5.2f}  {100 * cpu:8.0f}%   "
            f"{statistics.median(total):7.1f} / {p95:7.1f}  "
            f"({statistics.median(render):.1f} / {render[int(0.95 * len(render))]:.1f})",
            flush=True,
        )
        per_session.append(cpu / n)
        if rate < 0.001:
            best = n
        elif rate > 0.05:
            break
    share = statistics.median(per_session)
    print(f"\ncapacity: {best} head-tracked sessions in real time with < 0.1% deadline misses")
    print(
        f"server CPU per session: {100 * share:.0f}% of a core (median over the runs): "
        f"{1 / share:.1f} sessions would fill one core, the audio clock's"
    )


async def _garbage(base: str, seconds: float) -> dict:
    """Garbage and oversize text messages, then binary junk."""
    codes: list[str] = []
    async with connect(f"ws://{base}/v1/session", instruction="calm", timeout=120) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end and client.closed_code is None:
            for junk in ("{oops", "[]", '{"type":"dance"}', "x" * 300_000, b"\x00junk"):
                try:
                    await client.send_raw(junk)
                except Exception:
                    break
            await asyncio.sleep(0.2)
        codes = [e["code"] for e in client.errors]
        return {"kind": "garbage", "codes": codes, "closed": client.closed_code}


async def _flood(base: str, seconds: float) -> dict:
    """Poses at 1 kHz."""
    async with connect(f"ws://{base}/v1/session", instruction="calm", timeout=120) as client:
        end = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < end:
            try:
                await client.pose((0, 0, 0), _turn(sent % 360))
            except Exception:
                break
            sent += 1
            if sent % 10 == 0:
                await asyncio.sleep(0.01)  # 10 poses every 10 ms
        return {
            "kind": "flood",
            "sent": sent,
            "codes": [e["code"] for e in client.errors],
            "closed": client.closed_code,
        }


async def _big_frames(base: str, seconds: float) -> dict:
    """Frames over the 2 MiB limit, twice a second."""
    async with connect(f"ws://{base}/v1/session", instruction="calm", timeout=120) as client:
        end = time.monotonic() + seconds
        payload = b"\xff\xd8" + bytes(3 * 1024 * 1024)
        while time.monotonic() < end and client.closed_code is None:
            try:
                await client.frame(payload, image_format="jpeg")
            except Exception:
                break
            await asyncio.sleep(0.5)
        return {
            "kind": "big frames",
            "codes": [e["code"] for e in client.errors],
            "closed": client.closed_code,
        }


async def _hang_ups(base: str, seconds: float) -> dict:
    """Connect, take some audio, drop the TCP connection without a close, again and again."""
    import websockets

    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        try:
            ws = await websockets.connect(f"ws://{base}/v1/session", max_size=None)
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "instruction": "calm"}))
            for _ in range(random.Random(count).randint(5, 200)):
                await ws.recv()
            ws.transport.abort()  # no close frame: mid-stream, mid-block
            count += 1
        except Exception:
            await asyncio.sleep(0.2)
    return {"kind": "hang-ups", "disconnects": count}


def load(args: argparse.Namespace) -> None:
    good = args.clients - args.bad
    settings = {
        "place": "beach",
        "instruction": "a light cheerful piece",
        "pose_hz": 10,
        "block_size": args.block,
    }
    print(
        f"{good} well-behaved sessions ({args.block}-sample blocks, poses at 10 Hz, the "
        f"same music) for {args.seconds:g} s, alone and beside {args.bad} misbehaving ones"
    )
    figures = {}
    for label, bad in (("alone", 0), ("with misbehaving clients", args.bad)):
        with server_process(
            "--max-sessions",
            str(args.clients + 8),
            "--processes",
            str(args.processes),
            "--max-audio-load",  # every client is served: the test is of their behaviour
            "none",
        ) as (base, pid):
            time.sleep(8)

            async def warm(base=base):
                return await _listener(base, 3.0, seed=0, **settings)

            asyncio.run(warm())
            time.sleep(2)
            before = _rss_mb(pid)
            m0 = _metrics(base)

            async def run(base=base, bad=bad):
                listeners = [_listener(base, args.seconds, seed=0, **settings) for _ in range(good)]
                mischief = [_garbage, _flood, _big_frames, _hang_ups][:bad]
                return await asyncio.gather(*listeners, *[f(base, args.seconds) for f in mischief])

            results = asyncio.run(run())
            time.sleep(5)
            after = _rss_mb(pid)
            m1 = _metrics(base)
        listeners, others = results[:good], results[good:]
        misses = [_session_misses(r) for r in listeners]
        missed = sum(m for m, _ in misses)
        blocks = sum(b for _, b in misses)
        figures[label] = (missed, blocks)
        print(f"\n{label}:")
        print(
            f"  well-behaved: {blocks} blocks, {missed} deadline misses "
            f"({100 * missed / max(1, blocks):.3f}%), worst session "
            f"{max(m for m, _ in misses)}; errors seen by them: "
            f"{sum(len(r['errors']) for r in listeners)}"
        )
        for other in others:
            print(
                f"  misbehaving {other['kind']}: "
                + ", ".join(
                    f"{k}={v if not isinstance(v, list) else sorted(set(v))}"
                    for k, v in other.items()
                    if k != "kind"
                )
            )
        refused = {k: v - m0.get(k, 0) for k, v in m1.items() if k.startswith("loci_errors_total")}
        print(f"  server errors sent: {refused}")
        print(
            f"  server memory: {before:.0f} MB before, {after:.0f} MB after "
            f"({100 * (after - before) / before:+.1f}%); sessions left "
            f"{m1.get('loci_sessions', math.nan):.0f}"
        )
    alone, beside = figures["alone"], figures["with misbehaving clients"]
    print(
        f"\nextra deadline misses of the well-behaved sessions: "
        f"{100 * (beside[0] / max(1, beside[1]) - alone[0] / max(1, alone[1])):+.3f} points"
    )


def admission(args: argparse.Namespace) -> None:
    """Head-tracked sessions arrive one every ``--gap`` seconds at one server with its
    admission limit; print which were admitted, their misses, and the clock's load."""
    from loci.client import ServerError

    def health(base: str) -> dict:
        return json.loads(urllib.request.urlopen(f"http://{base}/healthz", timeout=10).read())

    print(
        f"{args.sessions} head-tracked sessions (8 source slots, 256-sample blocks, poses at "
        f"60 Hz), one every {args.gap:g} s, each for {args.seconds:g} s; "
        f"--max-audio-load {args.max_audio_load}, --processes {args.processes}"
    )
    with server_process(
        "--max-sessions",
        str(args.sessions + 2),
        "--max-audio-load",
        args.max_audio_load,
        "--processes",
        str(args.processes),
    ) as (base, _pid):
        time.sleep(8)  # the generation worker warms up
        print(f"start-up estimate of a session's load: {health(base)['session_load']:.3f}")
        loads: list[tuple[int, float]] = []

        async def one(k: int):
            await asyncio.sleep(k * args.gap)
            try:
                result = await _tracked(base, args.seconds, seed=k)
            except ServerError as error:
                return str(error)
            return _session_misses(result)

        async def watch() -> None:
            while True:
                await asyncio.sleep(1.0)
                h = await asyncio.to_thread(health, base)
                loads.append((h["sessions"], h["audio_load"]))

        async def run():
            watcher = asyncio.create_task(watch())
            results = await asyncio.gather(*[one(k) for k in range(args.sessions)])
            watcher.cancel()
            return results

        results = asyncio.run(run())
    misses = blocks = 0
    for k, result in enumerate(results):
        if isinstance(result, str):
            print(f"  session {k + 1}: refused: {result}")
        else:
            misses, blocks = misses + result[0], blocks + result[1]
            print(f"  session {k + 1}: admitted, {result[0]} misses in {result[1]} blocks")
    peak = max((n for n, _ in loads), default=0)
    # Once the count has held for 4 s: the moving average (about 2 s) has caught up.
    steady = [
        load
        for k, (n, load) in enumerate(loads)
        if k >= 4 and all(m == peak for m, _ in loads[k - 4 : k + 1])
    ]
    print(
        f"admitted sessions: {sum(not isinstance(r, str) for r in results)}; their deadline "
        f"misses {100 * misses / max(1, blocks):.3f}%; the clock's load with {peak} playing "
        "(4 s after the last arrival): "
        + (f"{min(steady):.2f} to {max(steady):.2f}" if steady else "not held that long")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cap = commands.add_parser("capacity")
    cap.add_argument("--seconds", type=float, default=20.0)
    cap.add_argument("--max", type=int, default=12)
    cap.add_argument("--processes", type=int, default=1, help="loci serve --processes")
    cap.add_argument(
        "--reflection-order",
        default="1",
        choices=["1", "2", "3", "hrtf"],
        help="loci serve --reflection-order",
    )
    cap.add_argument(
        "--sway", type=float, default=0.0, help="the head's position sways +- this many cm"
    )
    cap.set_defaults(run=capacity)
    admit = commands.add_parser("admission")
    admit.add_argument("--sessions", type=int, default=4)
    admit.add_argument("--gap", type=float, default=4.0)
    admit.add_argument("--seconds", type=float, default=30.0)
    admit.add_argument("--max-audio-load", default="0.7", help="loci serve --max-audio-load")
    admit.add_argument("--processes", type=int, default=1, help="loci serve --processes")
    admit.set_defaults(run=admission)
    stress = commands.add_parser("load")
    stress.add_argument("--seconds", type=float, default=60.0)
    stress.add_argument("--clients", type=int, default=32)
    stress.add_argument("--bad", type=int, default=4)
    stress.add_argument("--block", type=int, default=1024)
    stress.add_argument("--processes", type=int, default=1, help="loci serve --processes")
    stress.set_defaults(run=load)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
