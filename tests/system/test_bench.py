"""The benchmark's own parts: its references work, and scripts/bench's
measurements can all be taken.

scripts/bench is a benchmark, not a test: nothing here checks a speed. What
is checked is that a fresh clone can run it: every measurement is taken, and
the floor device it compares the echo with (nullcuse --tap) behaves as the
simplest correct CUSE TAP: frames both ways, and a blocked read that a signal
ends, as on any tap(4).
"""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest

import taputil
from conftest import SRC_ROOT, START_TIMEOUT, unique_devname
from taputil import BROADCAST, make_frame, new_marker

SRC = b"\x02\x00\x00\x00\x00\x0c"


@pytest.fixture
def bench_dir(cusetap_bin):
    """The build directory holding the daemon, and the bench's programs."""
    build = os.path.dirname(os.path.dirname(cusetap_bin))
    for exe in ("nullcuse", "benchclient"):
        path = os.path.join(build, "bench", exe)
        assert os.access(path, os.X_OK), f"expected {path} to be built"
    return build


@pytest.fixture
def floor(bench_dir, tmp_path):
    """A nullcuse --tap device: (node path, interface name)."""
    name = unique_devname()
    ifname = "bf" + name
    assert not taputil.iface_exists(ifname), f"expected no interface {ifname} yet"
    pidfile = tmp_path / "floor.pid"
    proc = subprocess.Popen([os.path.join(bench_dir, "bench", "nullcuse"),
                             "--name", name, "--tap", ifname, "--pidfile", str(pidfile)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        taputil.wait_for(lambda: pidfile.exists() or proc.poll() is not None,
                         START_TIMEOUT, what="nullcuse --tap to be ready")
        assert proc.poll() is None, (f"nullcuse --tap: expected it to start, it exited "
                                     f"{proc.returncode}: {proc.stdout.read()!r}")
        yield f"/dev/{name}", ifname
    finally:
        proc.terminate()
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            pytest.fail("nullcuse --tap: expected it to end on SIGTERM, it did not")
    assert rc == 0, f"nullcuse --tap: expected exit 0 on SIGTERM, got {rc}"
    assert not taputil.iface_exists(ifname), f"expected {ifname} gone with nullcuse"


def _floor_read(fd, marker):
    """Read from the floor until a frame carries @marker.

    Its poll always says "ready", so a timeout must interrupt the read
    itself: the alarm's signal does, as on any tap(4).
    """
    try:
        with taputil.alarm_guard(taputil.TIMEOUT, "read of nullcuse --tap"):
            while not taputil.has_marker(os.read(fd, 65536), marker):
                pass
    except taputil.Timeout:
        raise AssertionError(f"nullcuse --tap: expected a frame with marker {marker!r} "
                             f"within {taputil.TIMEOUT}s, read none")


def test_floor_device_passes_frames_both_ways(floor):
    path, ifname = floor
    fd = os.open(path, os.O_RDWR)
    try:
        taputil.link_up(ifname)
        marker = new_marker("floor-in")
        taputil.host_send(ifname, make_frame(BROADCAST, SRC, marker))
        _floor_read(fd, marker)
        marker = new_marker("floor-out")
        with taputil.Capture(ifname) as cap:
            n = os.write(fd, make_frame(BROADCAST, SRC, marker))
            assert n == 128, f"write: expected 128 bytes written, got {n}"
            cap.expect(marker)
    finally:
        os.close(fd)


def test_floor_device_has_one_opener(floor):
    path, _ = floor
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(OSError) as e:
            os.close(os.open(path, os.O_RDWR))
        assert e.value.errno == errno.EBUSY, (
            f"second open of nullcuse --tap: expected EBUSY, got "
            f"{taputil.errname(e.value.errno)}")
    finally:
        os.close(fd)
    os.close(os.open(path, os.O_RDWR))


def test_floor_device_read_ends_on_a_signal(floor):
    # Without it a killed echo client would hang the benchmark: a read the
    # device has taken is only finished by its answer
    path, ifname = floor
    fd = os.open(path, os.O_RDWR)
    reader = taputil.BlockedReader(fd)
    try:
        reader.wait_blocked()
        os.kill(reader.pid, signal.SIGKILL)
        assert reader.wait_exit(10) is not None, (
            "expected the reader killed in a read of nullcuse --tap to exit, "
            "it is still blocked after 10 s")
        # The device goes on serving
        taputil.link_up(ifname)
        marker = new_marker("floor-after")
        taputil.host_send(ifname, make_frame(BROADCAST, SRC, marker))
        _floor_read(fd, marker)
    finally:
        reader.cleanup()
        os.close(fd)


def test_bench_takes_every_measurement(bench_dir, tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, os.path.join(SRC_ROOT, "bench", "run.py"),
                        "--build-dir", bench_dir, "--json", str(out),
                        "--repeat", "1", "--duration", "0.2", "--warmup", "0.05",
                        "--iters", "50", "--clones", "20"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=600)
    assert p.returncode == 0, (f"bench/run.py: expected exit 0, got {p.returncode}:\n"
                               f"{p.stdout[-4000:]}")
    doc = json.loads(out.read_text())
    assert doc["failures"] == [], f"bench: expected every measurement taken, got {doc['failures']}"
    assert doc["warnings"] == [], f"bench: expected no warning, got {doc['warnings']}"
    missing = [r["name"] for r in doc["ratios"] if r["value"] is None]
    assert not missing, f"bench: expected every ratio computed, these are not: {missing}"
    floor = doc["results"].get("floor echo 64", {})
    assert floor.get("p50_us", 0) > 0, f"bench: expected the floor's echo measured, got {floor}"
