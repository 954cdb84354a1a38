"""``OUT/report.html``: one self-contained page (no external resources) about a batch.

A row per job (status, time, key, tempo, loudness, true peak, RT60 of the place, the plan's
first explanations, a waveform thumbnail as inline SVG and a player of its mix.wav by
relative path), the totals and the five slowest jobs. Written to a temporary file and
renamed into place, so that a reader never sees half a report.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from loci.batch.ledger import latest_records, read_records

__all__ = ["envelope_svg", "peak_envelope", "waveform_svg", "write_report"]

_EXPLANATION_LINES = 3
_THUMB_COLUMNS = 120
_THUMB_W, _THUMB_H = 240, 40
_SLOWEST = 5

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#176b2c}.failed{color:#b00020;font-weight:bold}.skipped{color:#555}
.err{color:#b00020;font-family:monospace;font-size:12px}
ul.why{margin:0;padding-left:1.1em;font-size:12px}
audio{width:220px;height:32px}
svg.wave{background:#fafafa}
"""


def write_report(plan, path: Path, *, total_seconds: float) -> Path:  # plan: BatchPlan
    """Write the batch's report atomically and return its path.

    Parameters
    ----------
    plan
        The :class:`loci.batch.runner.BatchPlan` whose jobs get a row each.
    path
        Where to write it (``OUT/report.html``).
    total_seconds
        Wall time of this run of the batch.
    """
    latest = latest_records(read_records(plan.ledger))
    skipped = set(plan.skipped)
    rows = []
    for job in plan.jobs:
        record = latest.get(job.name)
        if job.name in skipped:
            status = "skipped"
        elif record is None:
            status = "not run"
        else:
            status = str(record.get("status"))
        rows.append(_row(plan.out_root, job.name, status, record, origin=job.origin))
    page = _page(plan, rows, latest, total_seconds=total_seconds)
    _write_atomic(Path(path), page)
    return Path(path)


def _row(out_root: Path, name: str, status: str, record: dict | None, *, origin: str) -> str:
    record = record or {}
    folder = out_root / name
    ok = status in ("ok", "skipped")
    explanation = _explanation(folder / "plan.json") if ok else []
    rt60 = _rt60(folder / "environment.json") if ok else None
    wave = _thumbnail(record.get("envelope"), folder / "mix.wav") if ok else ""
    audio = (
        f'<audio controls preload="none" src="{html.escape(quote(name + "/mix.wav"))}"></audio>'
        if ok
        else ""
    )
    error = record.get("error") if status == "failed" else None
    shown_status = {"ok": "done", "skipped": "done earlier"}.get(status, status)
    css = {"ok": "ok", "skipped": "skipped", "failed": "failed"}.get(status, "")
    why = "".join(f"<li>{html.escape(line)}</li>" for line in explanation)
    return (
        "<tr class=job>"
        f"<td><b>{html.escape(name)}</b><br><small>{html.escape(origin)}</small></td>"
        f'<td class="{css}">{html.escape(shown_status)}'
        + (f"<div class=err>{html.escape(str(error))}</div>" if error else "")
        + "</td>"
        f"<td class=num>{_num(record.get('seconds'), '{:.1f} s')}</td>"
        f"<td>{html.escape(str(record.get('key') or '–')) if ok else '–'}</td>"
        f"<td class=num>{_num(record.get('tempo_bpm') if ok else None, '{:.0f} bpm')}</td>"
        f"<td class=num>{_num(record.get('loudness_lufs') if ok else None, '{:.1f} LUFS')}</td>"
        f"<td class=num>{_num(record.get('true_peak_dbtp') if ok else None, '{:.1f} dBTP')}</td>"
        f"<td class=num>{_num(rt60, '{:.2f} s')}</td>"
        f"<td><ul class=why>{why}</ul></td>"
        f"<td>{wave}</td>"
        f"<td>{audio}</td>"
        "</tr>"
    )


def _page(plan, rows: list[str], latest: dict[str, dict], *, total_seconds: float) -> str:
    names = {job.name for job in plan.jobs}
    records = [latest[n] for n in names if n in latest]
    failed = sum(1 for n in names if n in latest and latest[n].get("status") == "failed")
    succeeded = sum(1 for n in names if n in latest and latest[n].get("status") == "ok")
    render_s = sum(float(r.get("seconds") or 0.0) for r in records)
    slowest = sorted(
        (r for r in records if r.get("status") == "ok"),
        key=lambda r: float(r.get("seconds") or 0.0),
        reverse=True,
    )[:_SLOWEST]
    slow_items = "".join(
        f"<li>{html.escape(r['job'])}: {float(r.get('seconds') or 0):.1f} s</li>" for r in slowest
    )
    title = f"loci batch: {plan.source}"
    head = (
        "<tr><th>job</th><th>status</th><th>time</th><th>key</th><th>tempo</th>"
        "<th>loudness</th><th>true peak</th><th>RT60 (mid)</th><th>why</th>"
        "<th>waveform</th><th>listen</th></tr>"
    )
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p id=totals>{len(plan.jobs)} jobs: {succeeded} done ({len(plan.skipped)} of them "
        f"earlier), {failed} failed; {render_s:.1f} s of rendering; this run took "
        f"{total_seconds:.1f} s. Written {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>"
        f"<h2>Slowest jobs</h2><ol id=slowest>{slow_items}</ol>"
        f"<h2>Jobs</h2><table id=jobs><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        "</body></html>\n"
    )


def waveform_svg(wav: Path, *, columns: int = _THUMB_COLUMNS) -> str:
    """A small inline SVG of a WAV file's peak envelope (both channels); '' if unreadable."""
    peaks = peak_envelope(wav, columns=columns)
    return envelope_svg(peaks) if peaks is not None else ""


def peak_envelope(wav: Path, *, columns: int = _THUMB_COLUMNS) -> list[float] | None:
    """Peak of ``|x|`` over both channels in ``columns`` equal spans of a WAV file.

    Parameters
    ----------
    wav
        The audio file.
    columns
        Spans, left to right; the last few samples (fewer than ``columns``) are left out.

    Returns
    -------
    list of float or None
        ``columns`` linear peaks (full scale 1), rounded to 4 decimals; None when the file
        is unreadable or shorter than ``columns`` samples.
    """
    import numpy as np
    import soundfile as sf

    try:
        audio, _rate = sf.read(wav, dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError):
        return None
    if audio.shape[0] < columns:
        return None
    # Whole columns of samples: one reduction, no loop.
    frames = audio[: audio.shape[0] // columns * columns].reshape(columns, -1)
    return [round(float(p), 4) for p in np.abs(frames).max(axis=1)]


def envelope_svg(peaks: list[float]) -> str:
    """The inline SVG of a peak envelope (from :func:`peak_envelope`), scaled to its maximum."""
    top = max(max(peaks, default=0.0), 1e-9)
    mid = _THUMB_H / 2
    step = _THUMB_W / max(len(peaks), 1)
    path = " ".join(
        f"M{i * step + step / 2:.1f} {mid - p / top * mid:.1f}V{mid + p / top * mid:.1f}"
        for i, p in enumerate(peaks)
    )
    return (
        f'<svg class=wave xmlns="http://www.w3.org/2000/svg" width="{_THUMB_W}" '
        f'height="{_THUMB_H}" viewBox="0 0 {_THUMB_W} {_THUMB_H}">'
        f'<path d="{path}" stroke="#3366aa" stroke-width="{step * 0.8:.2f}"/></svg>'
    )


def _thumbnail(envelope: object, wav: Path) -> str:
    # The worker measured the envelope while the file was fresh (the ledger has it); read
    # the file only for records written without one.
    if isinstance(envelope, list) and envelope:
        if all(isinstance(p, int | float) for p in envelope):
            return envelope_svg([float(p) for p in envelope])
    return waveform_svg(wav)


def _explanation(plan_json: Path) -> list[str]:
    data = _read_json(plan_json)
    lines = []
    for entry in (data or {}).get("explanation", [])[:_EXPLANATION_LINES]:
        if isinstance(entry, dict):
            lines.append(f"{entry.get('attribute')} = {entry.get('value')}: {entry.get('because')}")
    return lines


def _rt60(environment_json: Path) -> float | None:
    feature = (_read_json(environment_json) or {}).get("rt60_mid_s")
    value = feature.get("value") if isinstance(feature, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _num(value: object, fmt: str) -> str:
    if isinstance(value, int | float):
        return html.escape(fmt.format(value))
    return "–"


def _write_atomic(path: Path, text: str) -> None:
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # NamedTemporaryFile makes it private (0600); a report is as readable as the audio.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
