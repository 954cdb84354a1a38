"""The ``loci serve`` wire protocol, version 1: messages, binary layouts, the pose convention.

Text messages are JSON objects with a ``type``; the client sends ``hello`` first, then
``pose``, ``control`` and ``bye``; camera frames travel as binary messages (a JSON header
followed by the image and depth bytes). The server answers with binary ``audio`` blocks and
JSON ``state`` and ``error`` messages. docs/protocol.md is the reference; this module is
its implementation, and both name the same fields.

Poses arrive in the WebXR/OpenXR convention (right-handed, y up, -z forward, metres,
orientation as a unit quaternion x y z w) and are converted to the project's frame (z up,
yaw 0 facing +x) by :func:`pose_from_webxr` alone.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from scene.model import Pose

__all__ = [
    "AUDIO_HEADER",
    "AUDIO_MAGIC",
    "BLOCK_SIZES",
    "CONTROL_ACTIONS",
    "ERROR_CODES",
    "FRAME_MAGIC",
    "PROTOCOL_VERSION",
    "SAMPLE_RATE",
    "AudioBlock",
    "Bye",
    "ClientMessage",
    "Control",
    "DepthInfo",
    "ErrorMessage",
    "FrameHeader",
    "FrameMessage",
    "Hello",
    "ImageInfo",
    "Intrinsics",
    "PoseMessage",
    "ProtocolError",
    "WebXRPose",
    "decode_audio",
    "decode_frame",
    "encode_audio",
    "encode_frame",
    "parse_text",
    "pose_from_webxr",
]

#: The version this server speaks; a ``hello`` with another is refused (``unsupported_version``).
PROTOCOL_VERSION = 1
#: The one sample rate of the stream, Hz (the project's internal rate).
SAMPLE_RATE = 48_000
#: Block sizes a client may ask for, samples per channel.
BLOCK_SIZES = (128, 256, 512, 1024)

#: Every error code the server sends, with what it means (docs/protocol.md repeats it).
ERROR_CODES: dict[str, str] = {
    "bad_message": "not JSON, an unknown type, or a field out of range (the message says which)",
    "hello_required": "the first message must be a hello",
    "hello_timeout": "no hello within the time limit",
    "unsupported_version": "the hello asks for a protocol version this server does not speak",
    "unauthorized": "the token is missing or wrong",
    "server_full": "the server serves its maximum number of sessions",
    "bad_scene": "the scene in the hello is not a valid scene file",
    "message_too_large": "a message is larger than its limit",
    "rate_limited": "messages of one kind arrive faster than their limit; extra ones are dropped",
    "too_many_errors": "too many bad messages: the session is closed",
    "too_slow": "the client does not read its audio: the session is closed",
    "internal": "the server failed; the message says where",
}

#: First bytes of a binary audio block (server to client).
AUDIO_MAGIC = b"LOCA"
#: First bytes of a binary frame message (client to server).
FRAME_MAGIC = b"LOCF"
#: Audio block header, little-endian: magic, version, format (1 int16, 2 float32), channels,
#: reserved, sequence, sample index, server time (Unix s), pose time (client s), frames.
AUDIO_HEADER = struct.Struct("<4sBBBBIQddI")
_FORMAT_CODES = {"int16": 1, "float32": 2}
_FORMAT_NAMES = {code: name for name, code in _FORMAT_CODES.items()}
_FRAME_PREFIX = struct.Struct("<4sI")
_MAX_COORDINATE_M = 10_000.0


class ProtocolError(ValueError):
    """A message that breaks the protocol: its error ``code`` and a message naming the field."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_position(value: tuple[float, float, float]) -> tuple[float, float, float]:
    if not all(math.isfinite(v) and abs(v) <= _MAX_COORDINATE_M for v in value):
        raise ValueError(f"must be finite metres within ±{_MAX_COORDINATE_M:g}")
    return value


def _normalise(value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    norm = math.sqrt(sum(v * v for v in value)) if all(map(math.isfinite, value)) else 0.0
    if not 0.5 <= norm <= 1.5:
        raise ValueError(f"must be a unit quaternion x y z w; its norm is {norm:g}")
    return (value[0] / norm, value[1] / norm, value[2] / norm, value[3] / norm)


#: Metres, finite and within ±10 km.
Position = Annotated[tuple[float, float, float], AfterValidator(_check_position)]
#: A unit quaternion x y z w (normalised on arrival; a norm outside 0.5..1.5 is refused).
Quaternion = Annotated[tuple[float, float, float, float], AfterValidator(_normalise)]


class WebXRPose(_Message):
    """A pose in the WebXR/OpenXR convention: metres, y up, -z forward; quaternion x y z w."""

    position: Position
    orientation: Quaternion = (0.0, 0.0, 0.0, 1.0)


class Hello(_Message):
    """The first message of a session: who speaks, how the audio should come, what to play."""

    type: Literal["hello"]
    protocol: int
    sample_rate: int = SAMPLE_RATE
    block_size: int = 256
    format: Literal["int16", "float32"] = "float32"
    token: str | None = Field(default=None, max_length=256)
    scene: str | None = Field(default=None, max_length=200_000)
    place: str | None = Field(default=None, max_length=200)
    instruction: str | None = Field(default=None, max_length=500)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    reference_space: Literal["local", "local-floor"] = "local"

    @field_validator("sample_rate")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value != SAMPLE_RATE:
            raise ValueError(f"the stream runs at {SAMPLE_RATE} Hz only; resample on the client")
        return value

    @field_validator("block_size")
    @classmethod
    def _block(cls, value: int) -> int:
        if value not in BLOCK_SIZES:
            raise ValueError(f"must be one of {', '.join(map(str, BLOCK_SIZES))} samples")
        return value


class PoseMessage(_Message):
    """The head's pose at client time ``t`` (seconds, the client's own clock)."""

    type: Literal["pose"]
    t: float = Field(allow_inf_nan=False)
    position: Position
    orientation: Quaternion = (0.0, 0.0, 0.0, 1.0)

    def webxr(self) -> WebXRPose:
        """The pose part of the message, validated."""
        return WebXRPose(position=self.position, orientation=self.orientation)


class _Volume(_Message):
    type: Literal["control"]
    action: Literal["volume"]
    value: float = Field(ge=0.0, le=2.0, allow_inf_nan=False)


class _Tempo(_Message):
    type: Literal["control"]
    action: Literal["tempo"]
    change: Literal["up", "down"] | None = None
    bpm: float | None = Field(default=None, ge=40.0, le=200.0, allow_inf_nan=False)

    def model_post_init(self, _context: object) -> None:
        if (self.change is None) == (self.bpm is None):
            raise ValueError("a tempo control needs exactly one of change (up/down) and bpm")


class _Energy(_Message):
    type: Literal["control"]
    action: Literal["energy"]
    value: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)


class _StyleWords(_Message):
    type: Literal["control"]
    action: Literal["style"]
    words: str = Field(min_length=1, max_length=200)


class _Instruction(_Message):
    type: Literal["control"]
    action: Literal["instruction"]
    text: str = Field(min_length=1, max_length=500)


class _Mute(_Message):
    type: Literal["control"]
    action: Literal["mute"]
    stem: str = Field(min_length=1, max_length=64)
    muted: bool = True


class _Solo(_Message):
    type: Literal["control"]
    action: Literal["solo"]
    stem: str | None = Field(default=None, max_length=64)


class _MoveSource(_Message):
    type: Literal["control"]
    action: Literal["move_source"]
    stem: str = Field(min_length=1, max_length=64)
    position: Position


class _Like(_Message):
    type: Literal["control"]
    action: Literal["like", "dislike"]


#: The actions of a ``control`` message.
CONTROL_ACTIONS = (
    "volume",
    "tempo",
    "energy",
    "style",
    "instruction",
    "mute",
    "solo",
    "move_source",
    "like",
    "dislike",
)

Control = Annotated[
    _Volume | _Tempo | _Energy | _StyleWords | _Instruction | _Mute | _Solo | _MoveSource | _Like,
    Field(discriminator="action"),
]


class Bye(_Message):
    """The client is leaving; the server closes the session cleanly."""

    type: Literal["bye"]


ClientMessage = Annotated[Hello | PoseMessage | Control | Bye, Field(discriminator="type")]
_PLAIN_MESSAGES: dict[str, type[_Message]] = {"hello": Hello, "pose": PoseMessage, "bye": Bye}
_CONTROL: TypeAdapter = TypeAdapter(Control)


class ErrorMessage(_Message):
    """What the server says when something is wrong: a code of :data:`ERROR_CODES`."""

    type: Literal["error"] = "error"
    code: str
    message: str
    fatal: bool = False


def parse_text(text: str | bytes) -> BaseModel:
    """Parse one JSON text message from a client.

    Raises
    ------
    ProtocolError
        ``bad_message``, with the field and what is allowed, for anything that is not a
        valid message of this protocol version.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ProtocolError("bad_message", f"not JSON: {error.msg} at {error.pos}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", f"a message is a JSON object; got {type(data).__name__}")
    kind = data.get("type")
    if kind not in ("hello", "pose", "control", "bye"):
        raise ProtocolError(
            "bad_message", f"type: got {kind!r}; must be hello, pose, control or bye"
        )
    if kind == "control" and data.get("action") not in CONTROL_ACTIONS:
        raise ProtocolError(
            "bad_message",
            f"control: action: got {data.get('action')!r}; must be one of "
            + ", ".join(CONTROL_ACTIONS),
        )
    try:
        if kind == "control":
            return _CONTROL.validate_python(data)
        return _PLAIN_MESSAGES[kind].model_validate(data)
    except ValidationError as error:
        where = _first_error(error, tagged=kind == "control")
        raise ProtocolError("bad_message", f"{kind}: {where}") from None


def _first_error(error: ValidationError, *, tagged: bool = False) -> str:
    first = error.errors(include_url=False)[0]
    # In a tagged union the first part of the location is the tag (the action), not a field.
    location = first["loc"][1:] if tagged and len(first["loc"]) > 1 else first["loc"]
    where = ".".join(str(part) for part in location)
    given = first.get("input")
    shown = "the message" if isinstance(given, dict) else repr(given)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    reason = str(first["msg"]).removeprefix("Value error, ")
    return f"{where or 'message'}: got {shown}; {reason}"


def pose_from_webxr(
    pose: WebXRPose,
    *,
    anchor: Pose,
    reference_space: Literal["local", "local-floor"] = "local",
) -> Pose:
    """Convert a WebXR/OpenXR pose into the project's frame: the one place this is done.

    WebXR and OpenXR are right-handed with x to the right, y up and -z forward; the project
    is right-handed with z up and a listener of yaw 0 facing +x (+y on their left). An axis
    (X, Y, Z) of the headset's reference space becomes (-Z, -X, Y) before the anchor's yaw
    is applied. The reference space's origin and its -z direction are placed at the
    ``anchor`` (the scene's listener): the session starts where the scene puts the listener,
    facing where the scene faces them.

    Parameters
    ----------
    pose
        Position (metres) and unit orientation quaternion (x, y, z, w) of the head.
    anchor
        The scene's listener pose; the headset's origin maps to it.
    reference_space
        ``"local"``: the origin is the head's starting point (y = 0 at ear height).
        ``"local-floor"``: y is the height above the floor, which is z = 0 in the scene.

    Returns
    -------
    Pose
        World position (m, z up), yaw (degrees, counter-clockwise from +x) and pitch
        (degrees, up). Head roll is dropped: the project's listener has yaw and pitch only.
    """
    qx, qy, qz, qw = pose.orientation
    # Forward is the body's -z axis turned by the quaternion: minus its rotation matrix's
    # third column.
    fx = -2.0 * (qx * qz + qw * qy)
    fy = -2.0 * (qy * qz - qw * qx)
    fz = -(1.0 - 2.0 * (qx * qx + qy * qy))
    forward_x, forward_y, forward_z = -fz, -fx, fy
    yaw_local = math.degrees(math.atan2(forward_y, forward_x))
    horizontal = math.hypot(forward_x, forward_y)
    pitch = math.degrees(math.atan2(forward_z, horizontal))

    px, py, pz = pose.position
    local_x, local_y, local_z = -pz, -px, py
    heading = math.radians(anchor.yaw_deg)
    cos_h, sin_h = math.cos(heading), math.sin(heading)
    ax, ay, az = anchor.position
    world_x = ax + cos_h * local_x - sin_h * local_y
    world_y = ay + sin_h * local_x + cos_h * local_y
    world_z = local_z if reference_space == "local-floor" else az + local_z
    yaw = (anchor.yaw_deg + yaw_local + 180.0) % 360.0 - 180.0
    return Pose(position=(world_x, world_y, world_z), yaw_deg=yaw, pitch_deg=pitch)


# --- binary audio -------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioBlock:
    """One block of the stream as the client receives it.

    Attributes
    ----------
    sequence
        0, 1, 2, ... per session; a gap means blocks were dropped.
    sample_index
        Stream position of the block's first sample (samples per channel since the start).
    server_time
        Unix time (s) at which the server sent it.
    pose_t
        The ``t`` of the latest pose rendered into this block (NaN before the first pose).
    audio
        float32, shape (2, frames): row 0 the left ear.
    format
        The wire format it came in (``int16`` or ``float32``).
    """

    sequence: int
    sample_index: int
    server_time: float
    pose_t: float
    audio: np.ndarray
    format: str


def encode_audio(
    block: np.ndarray,
    *,
    sequence: int,
    sample_index: int,
    server_time: float,
    pose_t: float,
    audio_format: Literal["int16", "float32"],
) -> bytes:
    """Pack a (2, frames) float32 block as header + interleaved PCM (see :data:`AUDIO_HEADER`)."""
    frames = block.shape[1]
    interleaved = block.T
    if audio_format == "int16":
        payload = np.round(np.clip(interleaved, -1.0, 32767 / 32768) * 32768).astype("<i2")
    else:
        payload = np.ascontiguousarray(interleaved, dtype="<f4")
    header = AUDIO_HEADER.pack(
        AUDIO_MAGIC,
        PROTOCOL_VERSION,
        _FORMAT_CODES[audio_format],
        2,
        0,
        sequence & 0xFFFFFFFF,
        sample_index,
        server_time,
        pose_t,
        frames,
    )
    return header + payload.tobytes()


def decode_audio(data: bytes) -> AudioBlock:
    """Unpack a binary audio block; raises ValueError for anything else."""
    if len(data) < AUDIO_HEADER.size or data[:4] != AUDIO_MAGIC:
        raise ValueError("not an audio block: wrong magic or too short")
    _, version, code, channels, _, sequence, sample_index, server_time, pose_t, frames = (
        AUDIO_HEADER.unpack_from(data)
    )
    if version != PROTOCOL_VERSION or code not in _FORMAT_NAMES or channels != 2:
        raise ValueError(f"audio block of version {version}, format {code}, {channels} channels")
    name = _FORMAT_NAMES[code]
    dtype = "<i2" if name == "int16" else "<f4"
    samples = np.frombuffer(data, dtype=dtype, offset=AUDIO_HEADER.size)
    if samples.size != 2 * frames:
        raise ValueError(f"audio block says {frames} frames but carries {samples.size // 2}")
    audio = samples.reshape(frames, 2).T.astype(np.float32)
    if name == "int16":
        audio /= 32768.0
    return AudioBlock(sequence, sample_index, server_time, pose_t, audio, name)


# --- binary frames ------------------------------------------------------------------------


class Intrinsics(_Message):
    """Pinhole camera intrinsics in pixels."""

    fx: float = Field(gt=0, allow_inf_nan=False)
    fy: float = Field(gt=0, allow_inf_nan=False)
    cx: float = Field(allow_inf_nan=False)
    cy: float = Field(allow_inf_nan=False)


class ImageInfo(_Message):
    """The encoded image that follows the header."""

    format: Literal["jpeg", "png"]
    bytes: int = Field(gt=0)


class DepthInfo(_Message):
    """A 16-bit depth image (raw little-endian uint16, row-major) after the image bytes."""

    width: int = Field(gt=0, le=4096)
    height: int = Field(gt=0, le=4096)
    scale_m: float = Field(default=0.001, gt=0, le=1.0, allow_inf_nan=False)
    bytes: int = Field(gt=0)

    def model_post_init(self, _context: object) -> None:
        if self.bytes != 2 * self.width * self.height:
            raise ValueError(
                f"depth.bytes: got {self.bytes}; a {self.width} x {self.height} uint16 image "
                f"has {2 * self.width * self.height}"
            )


class FrameHeader(_Message):
    """The JSON header of a binary frame message."""

    type: Literal["frame"]
    t: float = Field(allow_inf_nan=False)
    image: ImageInfo
    intrinsics: Intrinsics | None = None
    pose: WebXRPose | None = None
    depth: DepthInfo | None = None


@dataclass(frozen=True)
class FrameMessage:
    """A decoded frame message: header, encoded image bytes, depth (metres) or None."""

    header: FrameHeader
    image: bytes
    depth_m: np.ndarray | None


def encode_frame(
    image: bytes,
    *,
    t: float,
    image_format: Literal["jpeg", "png"],
    intrinsics: dict | None = None,
    pose: dict | None = None,
    depth: np.ndarray | None = None,
    depth_scale_m: float = 0.001,
) -> bytes:
    """Pack a frame: prefix (magic, header length), JSON header, image, depth (uint16)."""
    header: dict = {
        "type": "frame",
        "t": t,
        "image": {"format": image_format, "bytes": len(image)},
    }
    if intrinsics is not None:
        header["intrinsics"] = intrinsics
    if pose is not None:
        header["pose"] = pose
    depth_bytes = b""
    if depth is not None:
        depth = np.ascontiguousarray(depth, dtype="<u2")
        depth_bytes = depth.tobytes()
        header["depth"] = {
            "width": int(depth.shape[1]),
            "height": int(depth.shape[0]),
            "scale_m": depth_scale_m,
            "bytes": len(depth_bytes),
        }
    text = json.dumps(header, separators=(",", ":")).encode()
    return _FRAME_PREFIX.pack(FRAME_MAGIC, len(text)) + text + image + depth_bytes


def decode_frame(data: bytes) -> FrameMessage:
    """Unpack a binary frame message.

    Raises
    ------
    ProtocolError
        ``bad_message`` naming what is wrong (magic, header, byte counts).
    """
    if len(data) < _FRAME_PREFIX.size or data[:4] != FRAME_MAGIC:
        raise ProtocolError("bad_message", "binary message: must start with b'LOCF' (a frame)")
    _, header_length = _FRAME_PREFIX.unpack_from(data)
    end = _FRAME_PREFIX.size + header_length
    if end > len(data):
        raise ProtocolError("bad_message", f"frame: header length {header_length} past the end")
    try:
        header = FrameHeader.model_validate_json(data[_FRAME_PREFIX.size : end])
    except ValidationError as error:
        raise ProtocolError("bad_message", f"frame: {_first_error(error)}") from None
    image_end = end + header.image.bytes
    depth_bytes = header.depth.bytes if header.depth is not None else 0
    if image_end + depth_bytes != len(data):
        raise ProtocolError(
            "bad_message",
            f"frame: header announces {header.image.bytes + depth_bytes} bytes of image and "
            f"depth; {len(data) - end} follow it",
        )
    depth_m = None
    if header.depth is not None:
        raw = np.frombuffer(data, dtype="<u2", offset=image_end)
        depth_m = raw.reshape(header.depth.height, header.depth.width) * np.float32(
            header.depth.scale_m
        )
    return FrameMessage(header=header, image=data[end:image_end], depth_m=depth_m)
