"""What one session and the whole server may use: sizes, rates, counts (docs/protocol.md).

Every limit has a reason: a headset sends poses at 60-120 Hz and frames at a few per
second; a hello carries at most a scene file; a 1280 x 720 JPEG with a 640 x 480 16-bit
depth image is under 1 MiB. A client past a rate gets ``rate_limited`` errors and its extra
messages are dropped; one that keeps at it, or sends bad messages again and again, is
closed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "TokenBucket"]


@dataclass(frozen=True)
class Limits:
    """Limits of the server; all enforced, all in docs/protocol.md.

    Attributes
    ----------
    max_sessions
        Concurrent sessions; one more is refused with ``server_full``.
    max_audio_load
        Share of real time (0 to 1) the audio clock's thread may be kept working: a new
        session is refused with ``server_full`` when the measured load plus what one more
        session takes (measured per session, and at least the start-up estimate) would pass
        it, so that the sessions already playing keep their deadlines. The first session is
        always admitted. None admits up to ``max_sessions`` whatever the load. The default,
        0.7, is about the bound (ln 2) under which periodic real-time work is known to keep
        its deadlines; here, at 0.73, three head-tracked sessions missed 0.7-2% of theirs.
    max_text_bytes
        Largest JSON message (a hello with a scene file's content), bytes.
    max_frame_bytes
        Largest binary frame message (header, image and depth), bytes.
    websocket_max_bytes
        Messages larger than this are cut off by the WebSocket layer itself (close code
        1009) before they are read whole; between the two limits above and this one, the
        server reads the message, answers ``message_too_large`` and drops it.
    pose_rate_hz, pose_burst
        Poses per second on average, and how many may come at once.
    frame_rate_hz, frame_burst
        Camera frames per second, and the burst.
    control_rate_hz, control_burst
        Control messages per second, and the burst.
    max_dropped
        Messages dropped for rate past which the session is closed (``rate_limited``).
    max_bad_messages
        Bad messages past which the session is closed (``too_many_errors``).
    hello_timeout_s
        Time allowed for the first message, seconds.
    send_queue_blocks
        Audio blocks queued for a client that reads slowly; the oldest are dropped past it.
    slow_client_s
        A client that has read nothing for this long is closed (``too_slow``).
    """

    max_sessions: int = 16
    max_audio_load: float | None = 0.7
    max_text_bytes: int = 256 * 1024
    max_frame_bytes: int = 2 * 1024 * 1024
    websocket_max_bytes: int = 4 * 1024 * 1024
    pose_rate_hz: float = 250.0
    pose_burst: int = 50
    frame_rate_hz: float = 5.0
    frame_burst: int = 5
    control_rate_hz: float = 20.0
    control_burst: int = 20
    max_dropped: int = 2_000
    max_bad_messages: int = 20
    hello_timeout_s: float = 10.0
    send_queue_blocks: int = 200
    slow_client_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_sessions", "max_text_bytes", "max_frame_bytes", "send_queue_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}; must be >= 1")
        load = self.max_audio_load
        if load is not None and (
            isinstance(load, bool) or not isinstance(load, int | float) or not 0.0 < load <= 1.0
        ):
            raise ValueError(
                f"max_audio_load: got {load!r}; must be None (no limit) or a share of real "
                "time, > 0 and <= 1"
            )
        if self.websocket_max_bytes < max(self.max_text_bytes, self.max_frame_bytes):
            raise ValueError(
                f"websocket_max_bytes: got {self.websocket_max_bytes}; must be at least the "
                "text and frame limits"
            )


class TokenBucket:
    """A rate limit: ``rate`` tokens a second up to ``burst``; a message takes one.

    Parameters
    ----------
    rate
        Tokens per second.
    burst
        Largest number of tokens held (messages allowed at once).
    now
        The clock reading (seconds) at which the bucket starts full.
    """

    def __init__(self, rate: float, burst: int, *, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate {rate} must be > 0 and burst {burst} >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> bool:
        """Take a token at clock reading ``now``; False when none is left."""
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
