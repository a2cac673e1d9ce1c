"""Maintainer tests: the wire format between worker and grader (grader/protocol.py)."""

import numpy as np
import pytest
import torch

from grader import protocol


def test_protocol_values_roundtrip_plain_types():
    value = {1: b"\x00\xff", b"ab": [1, 2.5, None, True, "é"], "t": (1, (2, 3))}
    enc = protocol.encode_value(value)
    dec = protocol.decode_value(enc)
    assert dec == {1: b"\x00\xff", b"ab": [1, 2.5, None, True, "é"], "t": [1, [2, 3]]}


def test_protocol_dict_encoding_ignores_insertion_order():
    a = protocol.canonical_json(protocol.encode_value({2: b"b", 1: b"a"}))
    b = protocol.canonical_json(protocol.encode_value({1: b"a", 2: b"b"}))
    assert a == b


def test_protocol_bool_and_int_stay_distinct():
    assert protocol.canonical_json(protocol.encode_value(True)) != protocol.canonical_json(protocol.encode_value(1))


def test_protocol_rejects_objects():
    class AlwaysEqual:
        def __eq__(self, other):
            return True
    with pytest.raises(protocol.ProtocolError):
        protocol.encode_value(AlwaysEqual())


def test_protocol_tensor_to_plain_array():
    class Sub(np.ndarray):
        def __eq__(self, other):
            return True
    sub = np.arange(3.0).view(Sub)
    assert type(protocol.to_numpy(sub)) is np.ndarray
    arr = protocol.to_numpy(torch.tensor([1.0, 2.0], dtype=torch.bfloat16))
    assert arr.dtype == np.float32
    back = protocol.npy_to_array(protocol.array_to_npy(arr))
    assert np.array_equal(back, arr)


def test_protocol_object_npy_refused():
    import io
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(protocol.ProtocolError):
        protocol.npy_to_array(buf.getvalue())


def test_protocol_frames_split_anywhere():
    data = protocol.pack_frame({"t": "obs", "x": 1}, b"payload") + protocol.pack_frame({"t": "end"})
    for cut in range(len(data)):
        r = protocol.FrameReader()
        frames = r.feed(data[:cut]) + r.feed(data[cut:])
        assert [h["t"] for h, _ in frames] == ["obs", "end"]
        assert frames[0][1] == b"payload"


def test_protocol_frame_limits():
    r = protocol.FrameReader()
    with pytest.raises(protocol.ProtocolError):
        r.feed(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    r = protocol.FrameReader(max_total=10)
    with pytest.raises(protocol.ProtocolError):
        r.feed(b"x" * 11)
    with pytest.raises(protocol.ProtocolError):
        protocol.FrameReader().feed(protocol.pack_frame({"no_type": 1}))


def test_protocol_good_frames_before_garbage_survive():
    r = protocol.FrameReader()
    frames = r.feed(protocol.pack_frame({"t": "start", "id": "x"}) + b"\xff\xff\xff\xff\x00\x00\x00\x00")
    assert [h["t"] for h, _ in frames] == ["start"]
    with pytest.raises(protocol.ProtocolError):
        r.feed(b"")
