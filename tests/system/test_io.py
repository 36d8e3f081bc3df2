"""Data path: one write = one frame into the host, one read = one frame out of it."""

import errno
import fcntl
import os
import signal
import time

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker


def test_write_broadcast_reaches_host(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    marker = new_marker("bcast")
    frame = make_frame(BROADCAST, b"\x02\x00\x00\x00\x00\x01", marker, 200)
    with taputil.Capture(name) as cap:
        n = os.write(fd, frame)
        assert n == len(frame), f"write: expected {len(frame)} bytes written, got {n}"
        got = cap.expect(marker)
    assert got == frame, (
        f"host received a different frame: expected {len(frame)} bytes {frame[:40]!r}..., "
        f"got {len(got)} bytes {got[:40]!r}...")
    assert mac == taputil.iface_mac(name), "writing a frame changed the interface MAC"


def test_write_to_own_mac_reaches_host(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    marker = new_marker("ucast")
    frame = make_frame(mac, b"\x02\x00\x00\x00\x00\x02", marker, 90)
    with taputil.Capture(name) as cap:
        n = os.write(fd, frame)
        assert n == len(frame), f"write: expected {len(frame)} bytes written, got {n}"
        got = cap.expect(marker)
    assert got == frame, f"host received {got[:40]!r}..., expected {frame[:40]!r}..."


def test_each_write_is_one_frame(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    src = b"\x02\x00\x00\x00\x00\x03"
    frames = [make_frame(BROADCAST, src, new_marker(f"w{i}"), size)
              for i, size in enumerate((60, 1514, 333))]
    with taputil.Capture(name) as cap:
        for f in frames:
            n = os.write(fd, f)
            assert n == len(f), f"write: expected {len(f)} bytes written, got {n}"
        for f in frames:
            got = cap.expect(f[14:14 + 25])
            assert got == f, (
                f"expected one host frame per write ({len(f)} bytes), got {len(got)} bytes")


def test_read_gets_frame_sent_by_host(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    marker = new_marker("rx")
    frame = make_frame(BROADCAST, taputil.iface_mac(name), marker, 300)
    taputil.host_send(name, frame)
    got = taputil.read_frame(fd, marker)
    assert got == frame, (
        f"read: expected the {len(frame)}-byte frame the host sent, got {len(got)} bytes "
        f"{got[:40]!r}...")


def test_read_truncates_and_drops_rest_of_frame(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    first = make_frame(BROADCAST, mac, new_marker("A"), 400, fill=b"TAIL")
    second = make_frame(BROADCAST, mac, new_marker("B"), 120)
    taputil.host_send(name, first)
    taputil.host_send(name, second)

    # Skip anything that is not ours until the first frame shows up.
    short = 24
    deadline = time.monotonic() + taputil.TIMEOUT
    while True:
        assert time.monotonic() < deadline, "first frame never read"
        taputil.wait_readable(fd)
        got = os.read(fd, short)
        if got[12:14] == first[12:14] and got[:short] == first[:short]:
            break
        assert len(got) <= short, f"read({short}) returned {len(got)} bytes"
    assert got == first[:short], (
        f"read({short}) of a {len(first)}-byte frame: expected its first {short} bytes, "
        f"got {got!r}")

    others = []
    got2 = taputil.read_frame(fd, second[14:14 + 20], others=others)
    tails = [o for o in others if b"TAIL" in o]
    assert not tails, (
        f"expected the rest of the truncated frame to be dropped, but a read "
        f"returned {tails[0][:40]!r}...")
    assert got2 == second, (
        f"read after truncation: expected the next frame ({len(second)} bytes), "
        f"got {len(got2)} bytes {got2[:40]!r}...")


NONBLOCK_WAYS = ["open-O_NONBLOCK", "fcntl-F_SETFL", "linux-FIONBIO", "bsd-FIONBIO"]


@pytest.mark.parametrize("how", NONBLOCK_WAYS)
def test_nonblocking_read_on_empty_queue_is_eagain(daemon, how):
    flags = os.O_RDWR | (os.O_NONBLOCK if how == "open-O_NONBLOCK" else 0)
    fd, name = daemon.clone(flags)
    if daemon.abi == "netbsd":  # netbsd answers EHOSTDOWN while down
        taputil.link_up(name)
    if how == "fcntl-F_SETFL":
        taputil.set_nonblock(fd)
    elif how == "linux-FIONBIO":
        fcntl.ioctl(fd, taputil.LINUX_FIONBIO, b"\x01\x00\x00\x00")
    elif how == "bsd-FIONBIO":
        taputil.ioctl_int(fd, taputil.BSD_FIONBIO, 1)
    err = taputil.read_errno(fd)
    assert err == errno.EAGAIN, (
        f"non-blocking read ({how}) on an empty queue: expected EAGAIN, "
        f"got {taputil.errname(err)}")
    daemon.assert_healthy()


class Interrupted(Exception):
    pass


def test_blocking_read_interrupted_by_signal(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)

    def on_alarm(signum, frame):
        raise Interrupted()

    old = signal.signal(signal.SIGALRM, on_alarm)
    t0 = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0, 5.0)  # re-fire if the first one is lost
        with pytest.raises(Interrupted):
            data = os.read(fd, 2048)
            pytest.fail(f"blocking read on an empty queue returned {len(data)} bytes "
                        f"instead of blocking")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    elapsed = time.monotonic() - t0
    assert elapsed < 15, f"signal handler ran {elapsed:.1f}s after the read started, expected < 15s"
    assert elapsed >= 0.9, f"read returned after {elapsed:.2f}s, before the signal (1s)"

    # The interrupted request must not swallow the next frame.
    marker = new_marker("after-intr")
    taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), marker))
    taputil.read_frame(fd, marker)
    daemon.assert_healthy()


def test_blocked_reader_dies_on_sigkill(daemon, children):
    fd, name = daemon.clone()
    taputil.link_up(name)
    child = taputil.BlockedReader(fd)
    children.append(child)
    child.wait_blocked()
    os.kill(child.pid, signal.SIGKILL)
    status = child.wait_exit(10)
    assert status is not None, "child blocked in read: expected to die within 10s of SIGKILL, it did not"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
        f"child: expected death by SIGKILL, got wait status {status:#x}")

    # The parked read of the dead child must not eat frames meant for the fd.
    marker = new_marker("after-kill")
    taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), marker))
    taputil.read_frame(fd, marker)
    daemon.assert_healthy()


def test_blocked_reader_in_child_gets_frame(daemon, children):
    """A read parked in the daemon completes when a frame arrives."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    child = taputil.BlockedReader(fd)
    children.append(child)
    child.wait_blocked()
    frame = make_frame(BROADCAST, taputil.iface_mac(name), new_marker("wake"), 222)
    taputil.host_send(name, frame)
    res = child.result(taputil.TIMEOUT)
    assert res == f"data {len(frame)}", (
        f"blocked child read: expected 'data {len(frame)}', got {res!r}")
