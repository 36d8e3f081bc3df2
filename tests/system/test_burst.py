"""Bursts: many frames back to back, in both directions.

The daemon takes a client's back-to-back writes in batches (small frames
are copied and held until a batch is full or the daemon is idle; large ones
are written at once, after the held ones) and drains a TAP's queued frames
several at a time. None of that may lose, reorder or reformat a frame.
"""

import os
import socket

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker

SRC = b"\x02\x00\x00\x00\x00\x0b"
# Small (held in batches), large (written at once: over a 2 KiB slot)
SIZES = (60, 1514, 3000, 200, 61, 9000)


def _collect(cap, markers, what):
    """Frames carrying @markers, in the order the host received them."""
    got = []
    left = set(markers)
    for frame in cap.frames(taputil.TIMEOUT):
        for m in markers:
            if m in left and taputil.has_marker(frame, m):
                got.append((m, frame))
                left.discard(m)
                break
        if not left:
            return got
    raise AssertionError(f"{what}: expected {len(markers)} frames on the host, "
                         f"got {len(markers) - len(left)} within {taputil.TIMEOUT}s")


def test_write_burst_arrives_whole_and_in_order(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    markers = [new_marker(f"b{i}") for i in range(150)]
    frames = [make_frame(BROADCAST, SRC, m, SIZES[i % len(SIZES)])
              for i, m in enumerate(markers)]
    with taputil.Capture(name, rcvbuf=8 << 20) as cap:
        for f in frames:
            n = os.write(fd, f)
            assert n == len(f), f"write: expected {len(f)} bytes written, got {n}"
        got = _collect(cap, markers, "150 writes back to back")
    order = [markers.index(m) for m, _ in got]
    assert order == sorted(order), f"host: expected the frames in write order, got {order}"
    for (m, frame), want in zip(got, frames):
        assert frame == want, (
            f"host: frame {markers.index(m)} changed on the way: expected {len(want)} "
            f"bytes, got {len(frame)}")


def test_single_write_after_burst_is_not_held(daemon):
    """A frame held for a batch goes out as soon as the daemon has nothing
    else to do, not when the next batch fills."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    with taputil.Capture(name, rcvbuf=8 << 20) as cap:
        for i in range(40):
            os.write(fd, make_frame(BROADCAST, SRC, new_marker("pre"), 100))
        marker = new_marker("lone")
        os.write(fd, make_frame(BROADCAST, SRC, marker, 100))
        got = cap.expect(marker, timeout=5)
    assert taputil.has_marker(got, marker), "host: expected the last frame of a burst"


@pytest.mark.parametrize("hdr", [taputil.VNET_HDR_LEN, taputil.VNET_HDR_MRG_LEN])
def test_write_burst_across_header_changes(fbsd, hdr):
    """Frames written before TAPSVNETHDR keep the format they were written
    in, however the daemon held them (with a 12-byte header, a frame still
    held with the 10-byte one would lose two bytes)."""
    fd, name = fbsd.clone()
    taputil.link_up(name)
    frames, markers, hdrs = [], [], []
    with taputil.Capture(name, rcvbuf=8 << 20) as cap:
        for phase, h in enumerate((0, hdr, 0)):
            taputil.ioctl_int(fd, taputil.TAPSVNETHDR, h)
            for i in range(20):
                marker = new_marker(f"h{phase}-{i}")
                f = make_frame(BROADCAST, SRC, marker, 60 + 37 * i)
                n = os.write(fd, bytes(h) + f)
                assert n == h + len(f), f"write with header {h}: expected {h + len(f)}, got {n}"
                frames.append(f)
                markers.append(marker)
                hdrs.append(h)
        got = _collect(cap, markers, f"writes around TAPSVNETHDR {hdr}")
    for m, frame in got:
        k = markers.index(m)
        assert frame == frames[k], (
            f"host: frame {k}, written with header {hdrs[k]}, arrived as {len(frame)} "
            f"bytes {frame[:20].hex()}, expected {len(frames[k])} bytes {frames[k][:20].hex()}")
    order = [markers.index(m) for m, _ in got]
    assert order == sorted(order), f"host: expected the frames in write order, got {order}"


def test_read_burst_arrives_whole_and_in_order(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    # The host cannot send more than the MTU
    frames = [make_frame(BROADCAST, mac, new_marker(f"r{i}"), (60, 1514, 200, 61)[i % 4])
              for i in range(30)]
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as s:
        s.bind((name, 0))
        for f in frames:
            s.send(f)
    got = []
    while len(got) < len(frames):
        taputil.wait_readable(fd)
        data = os.read(fd, 65536)
        if data[12:14] == frames[0][12:14]:
            got.append(data)
    assert got == frames, (
        f"read: expected the {len(frames)} frames the host sent, in order; got "
        f"{[len(g) for g in got]} bytes, expected {[len(f) for f in frames]}")
