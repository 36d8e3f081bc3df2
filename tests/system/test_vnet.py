"""TAPSVNETHDR / TAPGVNETHDR: frames carry a virtio-net header (FreeBSD).

With a header of 10 bytes (struct virtio_net_hdr) or 12 (with num_buffers),
every frame the client writes starts with one and every frame it reads gets
one; the host never sees it. All-zero means "no offload".
"""

import errno
import os

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker

SRC = b"\x02\x00\x00\x00\x00\x0b"


def _expect_plain(fd, name, tag):
    """Frames cross both ways with no header: write one, read one."""
    marker = new_marker(f"{tag}-w")
    frame = make_frame(BROADCAST, SRC, marker)
    with taputil.Capture(name) as cap:
        n = os.write(fd, frame)
        assert n == len(frame), f"{tag}: plain write expected {len(frame)}, got {n}"
        got = cap.expect(marker)
    assert got == frame, f"{tag}: host expected the frame as written, got {got[:32]!r}"
    marker = new_marker(f"{tag}-r")
    frame = make_frame(BROADCAST, taputil.iface_mac(name), marker)
    taputil.host_send(name, frame)
    got = taputil.read_frame(fd, marker)
    assert got == frame, f"{tag}: expected a plain {len(frame)}-byte read, got {got[:32]!r}"


def test_vnethdr_accepted_and_refused_values(daemon):
    fd, name = daemon.clone()
    got = taputil.ioctl_int(fd, taputil.TAPGVNETHDR)
    assert got == 0, f"TAPGVNETHDR after open: expected 0, got {got}"
    for value in (10, 12, 0, 12):
        taputil.ioctl_int(fd, taputil.TAPSVNETHDR, value)
        got = taputil.ioctl_int(fd, taputil.TAPGVNETHDR)
        assert got == value, f"TAPGVNETHDR after TAPSVNETHDR {value}: expected {value}, got {got}"
    for bad in (7, 11, 1, 14, -1):
        err = taputil.ioctl_errno(fd, taputil.TAPSVNETHDR, bad.to_bytes(4, "little", signed=True))
        assert err == errno.EINVAL, f"TAPSVNETHDR {bad}: expected EINVAL, got {taputil.errname(err)}"
        got = taputil.ioctl_int(fd, taputil.TAPGVNETHDR)
        assert got == 12, f"TAPGVNETHDR after a refused TAPSVNETHDR {bad}: expected 12, got {got}"


@pytest.mark.parametrize("hdr", [taputil.VNET_HDR_LEN, taputil.VNET_HDR_MRG_LEN])
def test_vnethdr_frames(daemon, hdr):
    fd, name = daemon.clone()
    taputil.link_up(name)
    taputil.ioctl_int(fd, taputil.TAPSVNETHDR, hdr)

    # Client -> host: the header is consumed, the host sees the bare frame.
    marker = new_marker("vw")
    frame = make_frame(BROADCAST, SRC, marker, 200)
    with taputil.Capture(name) as cap:
        n = os.write(fd, bytes(hdr) + frame)
        assert n == hdr + len(frame), (
            f"write with a {hdr}-byte header: expected {hdr + len(frame)}, got {n}")
        got = cap.expect(marker)
    assert got == frame, (
        f"host, header {hdr}: expected the {len(frame)}-byte frame without header, "
        f"got {len(got)} bytes starting {got[:24]!r}")

    # Host -> client: a header comes first; FIONREAD counts the frame only.
    marker = new_marker("vr")
    frame = make_frame(BROADCAST, taputil.iface_mac(name), marker, 177)
    taputil.host_send(name, frame)
    while True:
        taputil.wait_readable(fd)
        n = taputil.fionread(fd)
        data = os.read(fd, 65536 + 64)
        assert n == len(data) - hdr, (
            f"FIONREAD with a {hdr}-byte header: expected the frame length "
            f"{len(data) - hdr}, got {n}")
        if taputil.has_marker(data[hdr:], marker):
            break
    want = bytes(10) + (b"\x01\x00" if hdr == 12 else b"")
    assert data[:hdr] == want, (
        f"read with a {hdr}-byte header: expected header {want.hex()}, got {data[:hdr].hex()}")
    assert data[hdr:] == frame, (
        f"read with a {hdr}-byte header: expected the frame after it, got {data[hdr:hdr + 24]!r}")

    # Back to no header: plain frames again.
    taputil.ioctl_int(fd, taputil.TAPSVNETHDR, 0)
    _expect_plain(fd, name, f"after header {hdr}")


def test_vnethdr_reset_on_reopen(fbsd):
    fd, name = fbsd.clone()
    taputil.ioctl_int(fd, taputil.TAPSVNETHDR, taputil.VNET_HDR_LEN)
    fbsd.close(fd)
    fd, again = fbsd.clone()
    assert again == name, f"freebsd clone after close: expected {name} again, got {again}"
    got = taputil.ioctl_int(fd, taputil.TAPGVNETHDR)
    assert got == 0, f"TAPGVNETHDR after close and reopen: expected 0, got {got}"
    taputil.link_up(name)
    _expect_plain(fd, name, "reopened")


@pytest.mark.parametrize("hdr", [taputil.VNET_HDR_LEN, taputil.VNET_HDR_MRG_LEN])
def test_vnethdr_write_size_limit(daemon, hdr):
    """TAPMRU counts the frame, not the header before it."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    taputil.ioctl_int(fd, taputil.TAPSVNETHDR, hdr)
    biggest = bytes(hdr) + make_frame(BROADCAST, SRC, new_marker("mru"), taputil.TAPMRU)
    n = os.write(fd, biggest)
    assert n == len(biggest), (
        f"write of header {hdr} + {taputil.TAPMRU} bytes: expected {len(biggest)}, got {n}")
    too_big = bytes(hdr) + make_frame(BROADCAST, SRC, new_marker("mru+1"), taputil.TAPMRU + 1)
    with pytest.raises(OSError) as exc:
        n = os.write(fd, too_big)
        pytest.fail(f"write of header {hdr} + {taputil.TAPMRU + 1} bytes: expected EIO, got {n}")
    assert exc.value.errno == errno.EIO, (
        f"write of header {hdr} + {taputil.TAPMRU + 1} bytes: expected EIO, "
        f"got {taputil.errname(exc.value.errno)}")
    daemon.assert_healthy()
