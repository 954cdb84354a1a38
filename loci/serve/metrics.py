"""Server metrics in the Prometheus text exposition format (``GET /metrics``)."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Sequence

__all__ = ["RENDER_BUCKETS_S", "Metrics"]

#: Upper bounds of the render-time histogram, seconds (a 256-sample block lasts 5.33 ms).
RENDER_BUCKETS_S: tuple[float, ...] = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.01,
    0.02,
    0.05,
)


class Metrics:
    """Counters, gauges and the render-time histogram of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sessions = 0
        self.sessions_total = 0
        self.sessions_refused: Counter[str] = Counter()
        self.blocks_rendered = 0
        self.deadline_misses = 0
        self.blocks_dropped = 0
        self.music_underruns = 0
        self.errors: Counter[str] = Counter()
        self.messages: Counter[str] = Counter()
        self.bars_generated = 0
        self.cached_bars = 0
        self.generation_seconds = 0.0
        self.audio_load = 0.0
        self._render_counts = [0] * (len(RENDER_BUCKETS_S) + 1)
        self._render_sum = 0.0

    def observe_render(self, seconds: float) -> None:
        """Record the time taken to render one block (all its stages), seconds."""
        with self._lock:
            self._render_counts[bisect.bisect_left(RENDER_BUCKETS_S, seconds)] += 1
            self._render_sum += seconds
            self.blocks_rendered += 1

    def render_time_sum(self) -> float:
        """Total render time recorded, seconds."""
        return self._render_sum

    def snapshot(self) -> dict:
        """Every counter and gauge as plain numbers and dicts (JSON-ready)."""
        with self._lock:
            return {
                "sessions": self.sessions,
                "sessions_total": self.sessions_total,
                "sessions_refused": dict(self.sessions_refused),
                "blocks_rendered": self.blocks_rendered,
                "deadline_misses": self.deadline_misses,
                "blocks_dropped": self.blocks_dropped,
                "music_underruns": self.music_underruns,
                "errors": dict(self.errors),
                "messages": dict(self.messages),
                "bars_generated": self.bars_generated,
                "cached_bars": self.cached_bars,
                "generation_seconds": self.generation_seconds,
                "audio_load": self.audio_load,
                "render_counts": list(self._render_counts),
                "render_sum": self._render_sum,
            }

    def render_text(self, others: Sequence[dict] = ()) -> str:
        """All metrics in the Prometheus text format, version 0.0.4.

        Parameters
        ----------
        others
            :meth:`snapshot` s of the server's other processes, added to this one's.
        """
        m = _summed([self.snapshot(), *others])
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{labels} {_number(value)}")

        metric("loci_sessions", "gauge", "Sessions being served.", [("", m["sessions"])])
        metric("loci_sessions_total", "counter", "Sessions started.", [("", m["sessions_total"])])
        metric(
            "loci_sessions_refused_total",
            "counter",
            "Connections refused, by error code.",
            [(f'{{code="{code}"}}', n) for code, n in sorted(m["sessions_refused"].items())],
        )
        metric(
            "loci_blocks_rendered_total",
            "counter",
            "Audio blocks rendered.",
            [("", m["blocks_rendered"])],
        )
        metric(
            "loci_deadline_misses_total",
            "counter",
            "Blocks sent more than one block period after they were due.",
            [("", m["deadline_misses"])],
        )
        metric(
            "loci_blocks_dropped_total",
            "counter",
            "Blocks dropped because a client did not read them.",
            [("", m["blocks_dropped"])],
        )
        metric(
            "loci_music_underruns_total",
            "counter",
            "Blocks played while a bar of music was not ready (silence in its place).",
            [("", m["music_underruns"])],
        )
        metric(
            "loci_bars_generated_total",
            "counter",
            "Bars of music generated.",
            [("", m["bars_generated"])],
        )
        metric(
            "loci_cached_bars",
            "gauge",
            "Bars kept for sessions that ask for the same music (freed with the last).",
            [("", m["cached_bars"])],
        )
        metric(
            "loci_generation_seconds_total",
            "counter",
            "Time spent generating bars, seconds.",
            [("", m["generation_seconds"])],
        )
        metric(
            "loci_audio_load",
            "gauge",
            "Share of real time the audio clock's thread spends working, over about 2 s "
            "(summed over the server's processes: 1 is one core).",
            [("", m["audio_load"])],
        )
        metric(
            "loci_messages_total",
            "counter",
            "Client messages received, by type.",
            [(f'{{type="{kind}"}}', n) for kind, n in sorted(m["messages"].items())],
        )
        metric(
            "loci_errors_total",
            "counter",
            "Errors sent to clients, by code.",
            [(f'{{code="{code}"}}', n) for code, n in sorted(m["errors"].items())],
        )
        lines.append(
            "# HELP loci_render_seconds Time to render one audio block (music, room, head)."
        )
        lines.append("# TYPE loci_render_seconds histogram")
        cumulative = 0
        for bound, count in zip(RENDER_BUCKETS_S, m["render_counts"], strict=False):
            cumulative += count
            lines.append(f'loci_render_seconds_bucket{{le="{bound:g}"}} {cumulative}')
        cumulative += m["render_counts"][-1]
        lines.append(f'loci_render_seconds_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"loci_render_seconds_sum {_number(m['render_sum'])}")
        lines.append(f"loci_render_seconds_count {cumulative}")
        return "\n".join(lines) + "\n"


def _summed(snapshots: Sequence[dict]) -> dict:
    """Snapshots added up: numbers summed, dicts summed by key, lists element by element."""
    total = dict(snapshots[0])
    for other in snapshots[1:]:
        for key, value in other.items():
            mine = total.get(key)
            if isinstance(value, dict):
                merged = Counter(mine or {})
                merged.update(value)
                total[key] = dict(merged)
            elif isinstance(value, list):
                total[key] = [a + b for a, b in zip(mine, value, strict=True)] if mine else value
            else:
                total[key] = (mine or 0) + value
    return total


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.9g}"
