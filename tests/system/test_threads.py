"""Threads: sessions spread over the daemon's event loops.

Each unit node has its own CUSE connection, read by the loop its unit
number picks (unit % threads). Clones all go through the cloner's one
connection: the main thread reads it while at most one clone is open, and
every loop does once two or more are. Each unit's TAP is read on the loop
that served its open. These tests run clients served by
different threads at once, and remove a unit from the main thread while
another thread is serving it.
"""

import errno
import os
import signal
import subprocess
import threading
import time

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker

SRC = b"\x02\x00\x00\x00\x00\x0c"
UNITS = 4
FRAMES = 60


def tasks(pid):
    return sorted(os.listdir(f"/proc/{pid}/task"))


def run_all(fn, args):
    """Run fn(arg) for every arg in its own thread; re-raise the first failure."""
    errors = []

    def body(a):
        try:
            fn(a)
        except BaseException as e:      # reported to the test's own thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a client thread is still running after 60 s"
    if errors:
        raise errors[0]


def test_threads_option_starts_that_many_threads(daemon_factory):
    d = daemon_factory(["--threads", "3"])
    got = tasks(d.proc.pid)
    assert len(got) == 3, f"--threads 3: expected 3 threads in the daemon, got {len(got)}"


@pytest.mark.parametrize("bad", ["0", "17", "two"])
def test_threads_option_refuses_bad_counts(cusetap_bin, bad):
    p = subprocess.run([cusetap_bin, "-f", "--threads", bad], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 2, f"--threads {bad}: expected exit status 2, got {p.returncode}"
    assert "--threads" in p.stderr, (
        f"--threads {bad}: expected an error naming the option, got {p.stderr!r}")


@pytest.fixture(params=[(1, False), (2, False), (2, True)],
                ids=["1thread", "2threads", "2threads-clones"])
def spread(request, abi, daemon_factory):
    """Units 0-3, each interface up. Opened by name with two threads, units
    0 and 2 are on the main thread's loop, 1 and 3 on the other's; with one,
    the same clients share the one loop (what a 1-CPU machine runs). Cloned
    (units 0-3 in order), every request of the four goes through the
    cloner's connection, which both threads then read."""
    nthreads, cloned = request.param
    d = daemon_factory(["--abi", abi, "--threads", str(nthreads)] +
                       ([] if cloned else ["--units", str(UNITS)]))
    if cloned:
        fds = []
        for u in range(UNITS):
            fd, name = d.clone()
            assert name == d.ifname(u), f"clone {u}: expected {d.ifname(u)}, got {name}"
            fds.append(fd)
    else:
        fds = [d.open(d.node(u)) for u in range(UNITS)]
    for u in range(UNITS):
        taputil.link_up(d.ifname(u))
    return d, fds


def test_writes_on_every_thread_at_once(spread):
    d, fds = spread
    markers = [[new_marker(f"w{u}-{i}") for i in range(FRAMES)] for u in range(UNITS)]
    frames = [[make_frame(BROADCAST, SRC, m, (60, 1514, 200, 3000)[i % 4])
               for i, m in enumerate(ms)] for ms in markers]
    caps = [taputil.Capture(d.ifname(u), rcvbuf=8 << 20) for u in range(UNITS)]
    try:
        def client(u):
            for f in frames[u]:
                n = os.write(fds[u], f)
                assert n == len(f), f"unit {u}: write: expected {len(f)} bytes, got {n}"

        run_all(client, range(UNITS))
        for u in range(UNITS):
            left, got = list(markers[u]), []
            for frame in caps[u].frames(taputil.TIMEOUT):
                if left and taputil.has_marker(frame, left[0]):
                    got.append(frame)
                    left.pop(0)
                    if not left:
                        break
            assert not left, (
                f"{d.ifname(u)}: expected its {FRAMES} frames in write order, got "
                f"{len(got)} before frame {FRAMES - len(left)} went missing or came late")
            assert got == frames[u], f"{d.ifname(u)}: a frame changed on the way"
    finally:
        for c in caps:
            c.close()
    d.assert_healthy()


def test_reads_on_every_thread_at_once(spread):
    """Readers park first; the host then sends to every unit, interleaved."""
    d, fds = spread
    macs = [taputil.iface_mac(d.ifname(u)) for u in range(UNITS)]
    frames = [[make_frame(BROADCAST, macs[u], new_marker(f"r{u}-{i}"), (60, 1514, 200)[i % 3])
               for i in range(FRAMES // 2)] for u in range(UNITS)]
    got = [[] for _ in range(UNITS)]
    started = threading.Barrier(UNITS + 1)

    def client(u):
        # Blocking reads: a reader still stuck when the test fails is woken
        # by the daemon's exit at teardown
        started.wait(10)
        while len(got[u]) < len(frames[u]):
            data = os.read(fds[u], 65536)
            if data[12:14] == frames[u][0][12:14]:
                got[u].append(data)

    readers = threading.Thread(target=run_all, args=(client, range(UNITS)))
    readers.start()
    started.wait(10)
    for i in range(FRAMES // 2):
        for u in range(UNITS):
            taputil.host_send(d.ifname(u), frames[u][i])
    readers.join(60)
    assert not readers.is_alive(), "readers still blocked 60 s after the host sent"
    for u in range(UNITS):
        assert got[u] == frames[u], (
            f"unit {u}: expected the {len(frames[u])} frames the host sent, in order; "
            f"got {[len(g) for g in got[u]]} bytes, expected {[len(f) for f in frames[u]]}")
    d.assert_healthy()


def test_unit_deleted_while_another_thread_serves_it(spread, children):
    """Unit 1 is served by the second thread (with two); the host deletes
    its interface (handled by the main thread) while its client writes in a
    loop and a reader is blocked. Both wake with an error; the daemon goes
    on serving the other units."""
    d, fds = spread
    name = d.ifname(1)
    reader = taputil.BlockedReader(fds[1])
    children.append(reader)
    reader.wait_blocked()
    stop = threading.Event()
    outcome = {}

    def writer():
        f = make_frame(BROADCAST, SRC, new_marker("del"), 200)
        try:
            while not stop.is_set():
                os.write(fds[1], f)
        except OSError as e:
            outcome["errno"] = e.errno

    t = threading.Thread(target=writer)
    t.start()
    try:
        taputil.run("ip", "link", "del", "dev", name)
        taputil.wait_for(lambda: not os.path.exists(d.node(1)), 10,
                         what=f"{d.node(1)} to go after 'ip link del {name}'")
    finally:
        stop.set()
        t.join(20)
    assert not t.is_alive(), f"writer on {d.node(1)} still blocked after the unit went"
    # Once the node's CUSE session is gone the kernel answers for it:
    # ECONNABORTED for a write in flight when it went, ENOTCONN for one
    # that starts after (which of the two the writer meets is timing)
    gone = (errno.ENXIO, errno.ENODEV, errno.EIO, errno.ECONNABORTED,
            errno.ENOTCONN, None)
    assert outcome.get("errno") in gone, (
        f"writer on a deleted unit: expected ENXIO, ENODEV, EIO, ECONNABORTED or "
        f"ENOTCONN (or no error before it stopped), got {outcome}")
    res = reader.result(10)
    assert res is not None and res.startswith("errno "), (
        f"reader blocked on {d.node(1)} when {name} was deleted: expected to wake with "
        f"an error, got {res!r}")
    # The others, on both threads, still carry frames
    for u in (0, 2, 3):
        marker = new_marker(f"after{u}")
        with taputil.Capture(d.ifname(u)) as cap:
            os.write(fds[u], make_frame(BROADCAST, SRC, marker, 100))
            got = cap.expect(marker, timeout=5)
        assert taputil.has_marker(got, marker), f"unit {u}: expected a frame after unit 1 went"
    d.assert_healthy()


def thread_ticks(pid):
    """CPU time of each of the daemon's threads but the main one, in clock ticks."""
    ticks = {}
    for tid in tasks(pid):
        if int(tid) == pid:
            continue
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks[tid] = int(fields[11]) + int(fields[12])     # utime + stime
    return ticks


def test_cloner_read_by_every_thread_only_with_two_clones(daemon_factory):
    """One clone's requests are all read by the main thread (successive
    requests waking alternate threads cost a lone client a third of its
    frames, under emulation); two clones' are read by both threads. Seen
    through the second thread's CPU time while the clients write."""
    d = daemon_factory(["--threads", "2"])
    pid = d.proc.pid
    frame = make_frame(BROADCAST, SRC, new_marker("spread"), 64)
    seconds = 1.5       # by the clock, not a count: ticks on any machine

    def write(fd):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for _ in range(50):
                os.write(fd, frame)

    def other_thread_ticks(fds):
        before = thread_ticks(pid)
        run_all(write, fds)
        after = thread_ticks(pid)
        return sum(after[t] - before[t] for t in before)

    fd0, name0 = d.clone()
    taputil.link_up(name0)
    got = other_thread_ticks([fd0])
    assert got <= 1, (
        f"one clone writing for {seconds} s: expected the second thread idle (at most 1 "
        f"tick), got {got} ticks")
    fd1, name1 = d.clone()
    taputil.link_up(name1)
    got = other_thread_ticks([fd0, fd1])
    assert got >= 3, (
        f"two clones writing for {seconds} s: expected the second thread to serve "
        f"some (3 ticks or more), got {got} ticks")
    d.close(fd1)
    write(fd0)          # the second thread's last wait ends with a request
    got = other_thread_ticks([fd0])
    assert got <= 1, (
        f"back to one clone, {seconds} s of writes: expected the second thread idle again "
        f"(at most 1 tick), got {got} ticks")
    d.assert_healthy()


def test_exit_with_clones_on_both_threads(abi, daemon_factory, children):
    """SIGTERM while four clones are open on a two-thread daemon, each with
    a reader blocked and the cloner's session read by both threads: every
    reader wakes with an error, and the daemon leaves no interface and no
    node behind once it has exited (not a moment later)."""
    d = daemon_factory(["--abi", abi, "--threads", "2"])
    readers = []
    for _ in range(UNITS):
        fd, name = d.clone()
        taputil.link_up(name)
        os.write(fd, make_frame(BROADCAST, SRC, new_marker("exit"), 64))
        r = taputil.BlockedReader(fd)
        children.append(r)
        readers.append(r)
    for r in readers:
        r.wait_blocked()
    d.signal(signal.SIGTERM)
    rc = d.wait()
    assert rc == 0, f"SIGTERM: expected exit 0, got {rc}; log:\n{d.log()}"
    assert d.created_ifaces() == [], (
        f"right after exit: expected no interfaces left, got {d.created_ifaces()}; "
        f"log:\n{d.log()}")
    assert d.created_nodes() == [], (
        f"right after exit: expected no nodes left, got {d.created_nodes()}; "
        f"log:\n{d.log()}")
    for r in readers:
        res = r.result(10)
        assert res is not None and res.startswith("errno "), (
            f"reader blocked at exit: expected to wake with an error, got {res!r}")
    assert "did not complete" not in d.log(), (
        f"exit: expected every submission drained, got:\n{d.log()}")
