"""No allocation on the frame path.

The daemon is started with tests/helpers/allocount.c preloaded, which
counts every heap allocation into a file this test reads while the daemon
runs. A client moves a few hundred frames first (free lists and copy slots
fill as they are first needed), then a few thousand more, which must not
allocate at all: writes (held in batches, and large ones written at once),
reads (parked and queued), reads after poll() (each poll is a FUSE_POLL
request; with one frame in flight at a time, the poller mostly sleeps and
is woken by the daemon's notification), and an echo (one frame at a time each way), through a clone and
through a unit opened by name.
"""

import json
import os
import select
import socket
import struct
import threading

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker

SRC = b"\x02\x00\x00\x00\x00\x0d"
WARMUP = 300
FRAMES = 2000
# Held in a batch, a full-size frame, larger than a copy slot
SIZES = (64, 1514, 3000)
WINDOW = 16             # host frames in flight towards a reading client


@pytest.fixture
def allocount_so(cusetap_bin):
    build = os.path.dirname(os.path.dirname(cusetap_bin))
    so = os.path.join(build, "tests", "allocount.so")
    if os.path.exists(so):
        return so
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
    except OSError:
        opts = {}
    if opts.get("b_sanitize", "none") != "none":
        pytest.skip("a sanitizer build: the sanitizers bring their own allocator, "
                    "so allocations are counted with the plain build only")
    pytest.fail(f"{so} is missing: build the tests (ninja -C {build})", pytrace=False)


class Counted:
    """A daemon whose allocations are counted, and one client of it."""

    def __init__(self, daemon_factory, tmp_path, so, how):
        self.path = tmp_path / "allocs"
        self.path.write_bytes(bytes(8))
        self.d = daemon_factory(["--units", "1"],
                                env={"LD_PRELOAD": so, "ALLOCOUNT_FILE": str(self.path)})
        assert self.count() > 0, (
            "expected the daemon's start-up allocations to be counted, counted none "
            "(is allocount.so preloaded?)")
        if how == "clone":
            self.fd, self.ifname = self.d.clone()
        else:
            self.fd, self.ifname = self.d.open(self.d.node(0)), self.d.ifname(0)
        taputil.link_up(self.ifname)

    def count(self):
        return struct.unpack("=Q", self.path.read_bytes()[:8])[0]


@pytest.fixture(params=["clone", "name"])
def counted(request, daemon_factory, tmp_path, allocount_so):
    return Counted(daemon_factory, tmp_path, allocount_so, request.param)


def client_writes(c, n):
    frames = [make_frame(BROADCAST, SRC, new_marker("a"), SIZES[i % len(SIZES)])
              for i in range(n)]
    with taputil.Capture(c.ifname, rcvbuf=32 << 20) as cap:
        for f in frames:
            assert os.write(c.fd, f) == len(f), f"write: expected {len(f)} bytes written"
        got = 0
        for _ in cap.frames(taputil.TIMEOUT):
            got += 1
            if got == n:
                break
    assert got == n, f"host: expected {n} frames from the client, got {got}"


def client_reads(c, n, use_poll, window=WINDOW):
    """The host sends @n frames, at most @window ahead of a client that reads
    them (after poll() says there is one, with @use_poll)."""
    room = threading.Semaphore(window)
    errors = []
    frame = make_frame(BROADCAST, SRC, new_marker("r"), 200)

    def reader():
        try:
            p = select.poll()
            p.register(c.fd, select.POLLIN)
            for _ in range(n):
                if use_poll:
                    assert p.poll(int(taputil.TIMEOUT * 1000)), "poll: expected POLLIN"
                got = os.read(c.fd, 2048)
                assert got == frame, f"read: expected the host's {len(frame)}-byte frame"
                room.release()
        except BaseException as e:      # reported to the test's own thread
            errors.append(e)
            for _ in range(window):
                room.release()

    t = threading.Thread(target=reader)
    t.start()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as s:
        s.bind((c.ifname, 0))
        for _ in range(n):
            assert room.acquire(timeout=taputil.TIMEOUT), "client stopped reading"
            if errors:
                break
            s.send(frame)
    t.join(taputil.TIMEOUT)
    assert not t.is_alive(), f"client: expected {n} frames read, still reading"
    if errors:
        raise errors[0]


def client_echoes(c, n):
    """One frame at a time: the host sends, the client reads it and writes it
    back, the host receives it."""
    with taputil.Capture(c.ifname) as cap, \
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as s:
        s.bind((c.ifname, 0))
        frames = cap.frames(taputil.TIMEOUT * n)
        for i in range(n):
            frame = make_frame(BROADCAST, SRC, new_marker("e"), 64)
            s.send(frame)
            got = os.read(c.fd, 2048)
            assert got == frame, f"echo {i}: expected the host's frame read back"
            os.write(c.fd, got)
            back = next(frames, None)
            assert back == frame, f"echo {i}: expected the frame back on the host, got {back!r}"


MODES = {
    "write": lambda c, n: client_writes(c, n),
    "read": lambda c, n: client_reads(c, n, use_poll=False),
    "poll-read": lambda c, n: client_reads(c, n, use_poll=True),
    "poll-wake": lambda c, n: client_reads(c, n, use_poll=True, window=1),
    "echo": client_echoes,
}


@pytest.mark.parametrize("mode", list(MODES))
def test_frames_allocate_nothing(counted, mode):
    run = MODES[mode]
    run(counted, WARMUP)
    before = counted.count()
    run(counted, FRAMES)
    after = counted.count()
    assert after == before, (
        f"{mode}: expected no allocation in the daemon for {FRAMES} frames, "
        f"counted {after - before} ({before} before them)")
