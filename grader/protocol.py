"""The wire between a worker and the grader: observation values and length-prefixed frames.

This is the only grader module that also runs inside the sandbox (a copy of it sits beside
`plugin.py` there), so it imports nothing but the standard library and numpy. It leaves out any
notion of right or wrong: the worker only encodes what a test observed, the grader decodes and
judges (DESIGN.md §3, grading.md §3.1 "Deserialising untrusted results").

Values. An observation is either an array (numpy or torch, sent as `.npy` bytes and read back
with `allow_pickle=False`) or a plain value made of None, bool, int, float, str, bytes, lists,
tuples and dicts, sent as canonical JSON. Bytes become {"$b": hex}; a dict becomes
{"$d": [[key, value], ...]} sorted by key, so dicts with int or bytes keys (a BPE vocabulary)
survive JSON and compare independent of insertion order. Tuples become lists.

Frames. 8-byte header (two big-endian uint32: JSON header length, payload length), the UTF-8
JSON header, then the payload. Sizes are capped on both ends; the reader rejects anything that
breaks the format instead of guessing.
"""

import io
import json
import math
import os
import struct

import numpy as np

MAX_HEADER = 1 << 20          # 1 MiB of JSON per frame
MAX_PAYLOAD = 256 << 20       # 256 MiB per array
ARRAY_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64", "complex64", "complex128"}


class ProtocolError(Exception):
    """A frame or value that breaks the protocol; the grader scores it `malformed`."""


# --------------------------------------------------------------------------- values

def is_array(value) -> bool:
    """numpy arrays and torch tensors travel as arrays; everything else as a plain value."""
    if isinstance(value, np.ndarray):
        return True
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def to_numpy(value) -> np.ndarray:
    """A plain C-ordered numpy copy of an array-like; subclasses and object dtypes are refused."""
    if not isinstance(value, np.ndarray):
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":   # numpy has no bf16: widen exactly to fp32
            t = t.float()
        value = t.numpy()
    arr = np.array(value, copy=True, order="C", subok=False)
    if type(arr) is not np.ndarray or arr.dtype.name not in ARRAY_DTYPES:
        raise ProtocolError(f"arrays must have a numeric dtype, got {arr.dtype}")
    return arr


def encode_value(value):
    """Canonical JSON-able form of a plain value (see the module docstring)."""
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        if not math.isfinite(value):
            return {"$f": repr(value)}
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return encode_value(float(value))
    if isinstance(value, (bytes, bytearray)):
        return {"$b": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        items = [[encode_value(k), encode_value(v)] for k, v in value.items()]
        items.sort(key=lambda kv: json.dumps(kv[0], sort_keys=True))
        return {"$d": items}
    raise ProtocolError(f"cannot record a value of type {type(value).__name__}; "
                        "record plain Python values, bytes or tensors")


def decode_value(obj):
    """Inverse of `encode_value`, building only plain Python values."""
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is list:
        return [decode_value(v) for v in obj]
    if type(obj) is dict and len(obj) == 1:
        (tag, inner), = obj.items()
        if tag == "$b" and type(inner) is str:
            return bytes.fromhex(inner)
        if tag == "$f" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if tag == "$d" and type(inner) is list:
            out = {}
            for kv in inner:
                if type(kv) is not list or len(kv) != 2:
                    raise ProtocolError("malformed dict entry")
                key = decode_value(kv[0])
                out[tuple(key) if type(key) is list else key] = decode_value(kv[1])
            return out
    raise ProtocolError("malformed value")


def canonical_json(obj) -> str:
    """One string per encoded value: equal values give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def array_to_npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_to_array(data: bytes) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # anything numpy refuses is a protocol violation
        raise ProtocolError(f"bad .npy payload: {exc}") from None
    if type(arr) is not np.ndarray or arr.dtype.name not in ARRAY_DTYPES:
        raise ProtocolError("bad .npy payload: dtype not allowed")
    return arr


# --------------------------------------------------------------------------- frames

def pack_frame(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    if len(head) > MAX_HEADER or len(payload) > MAX_PAYLOAD:
        raise ProtocolError("frame too large")
    return struct.pack(">II", len(head), len(payload)) + head + payload


def write_frame(fd: int, header: dict, payload: bytes = b"") -> None:
    data = memoryview(pack_frame(header, payload))
    while data:
        n = os.write(fd, data)
        data = data[n:]


class FrameReader:
    """Incremental parser: feed bytes as they arrive, take whole frames out."""

    def __init__(self, max_total: int = 1 << 30):
        self._buf = bytearray()
        self._total = 0
        self._max_total = max_total
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> list[tuple[dict, bytes]]:
        """Whole frames completed by `data`. A protocol error is raised on the call *after* the one
        that returned the good frames before it, so results never depend on how reads split."""
        if self._error is not None:
            raise self._error
        frames: list[tuple[dict, bytes]] = []
        try:
            self._parse(data, frames)
        except ProtocolError as exc:
            if not frames:
                raise
            self._error = exc
        return frames

    def _parse(self, data: bytes, frames: list) -> None:
        self._total += len(data)
        if self._total > self._max_total:
            raise ProtocolError(f"the worker sent more than {self._max_total} bytes of frames")
        self._buf += data
        while len(self._buf) >= 8:
            hlen, plen = struct.unpack(">II", self._buf[:8])
            if hlen > MAX_HEADER or plen > MAX_PAYLOAD or hlen == 0:
                raise ProtocolError("frame size out of bounds")
            if len(self._buf) < 8 + hlen + plen:
                break
            raw = bytes(self._buf[8:8 + hlen])
            payload = bytes(self._buf[8 + hlen:8 + hlen + plen])
            del self._buf[:8 + hlen + plen]
            try:
                header = json.loads(raw.decode())
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ProtocolError("frame header is not JSON") from None
            if type(header) is not dict or type(header.get("t")) is not str:
                raise ProtocolError("frame header must be an object with a type 't'")
            frames.append((header, payload))

    @property
    def pending(self) -> int:
        return len(self._buf)
