"""poll/select: POLLOUT always, POLLIN exactly when a frame is queued."""

import errno
import os
import select
import threading
import time

import taputil
from taputil import BROADCAST, make_frame, new_marker

POLLIN, POLLOUT = select.POLLIN, select.POLLOUT


def revents_text(ev):
    names = [n for n in ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL")
             if ev & getattr(select, n)]
    return "|".join(names) or "0"


def test_fresh_clone_polls_writable_only(daemon):
    fd, name = daemon.clone()
    ev = taputil.poll_events(fd, POLLIN | POLLOUT, 200)
    assert ev == POLLOUT, f"fresh clone: expected revents POLLOUT, got {revents_text(ev)}"
    r, w, _ = select.select([fd], [fd], [], 0.2)
    assert (r, w) == ([], [fd]), f"select on a fresh clone: expected ([], [fd]), got {(r, w)}"


def test_poll_reports_queued_frame_until_read(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    marker = new_marker("pq")
    taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), marker))
    ev = taputil.wait_for(lambda: taputil.poll_events(fd) & POLLIN and taputil.poll_events(fd),
                          what="POLLIN after the host sent a frame")
    assert ev == POLLIN | POLLOUT, (
        f"queued frame: expected revents POLLIN|POLLOUT, got {revents_text(ev)}")
    taputil.read_frame(fd, marker)
    ev = taputil.poll_events(fd, POLLIN | POLLOUT, 200)
    assert ev == POLLOUT, f"queue drained: expected revents POLLOUT, got {revents_text(ev)}"


def _waiter(fn):
    """Run fn() in a thread; return (thread, result dict)."""
    out = {}

    def body():
        t0 = time.monotonic()
        try:
            out["value"] = fn()
        except Exception as e:  # reported by the test
            out["error"] = e
        out["end"] = time.monotonic()
        out["elapsed"] = out["end"] - t0

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, out


def _assert_woken_by_event(out, since, what):
    """The waiter woke because of the event at @since, not at its own timeout.

    A poll() or select() that times out still looks at every fd once more,
    and would find the frame then: only the time tells the two apart.
    """
    took = out["end"] - since
    assert took < taputil.TIMEOUT / 2, (
        f"{what}: expected the waiter to wake at once, it woke {took:.1f} s later "
        f"(its timeout is {taputil.TIMEOUT} s): the daemon's notification never came")


def _wake_test(daemon, fn, check):
    fd, name = daemon.clone()
    taputil.link_up(name)
    t, out = _waiter(lambda: fn(fd))
    time.sleep(1.0)  # let the waiter block
    assert "value" not in out, (
        f"waiter returned {out.get('value')!r} before any frame was sent "
        f"(expected it to block)")
    marker = new_marker("wake")
    sent = time.monotonic()
    taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), marker))
    t.join(taputil.TIMEOUT + 5)
    assert not t.is_alive(), "waiter: expected to wake when a frame arrived, still blocked"
    assert "error" not in out, f"waiter raised {out.get('error')!r}"
    _assert_woken_by_event(out, sent, "a frame arrived")
    check(out["value"], fd)
    taputil.read_frame(fd, marker)


def test_poll_wakes_waiter_when_frame_arrives(daemon):
    def wait(fd):
        p = select.poll()
        p.register(fd, POLLIN)
        return p.poll(int(taputil.TIMEOUT * 1000))

    def check(res, fd):
        assert res and res[0][1] & POLLIN, (
            f"poll waiting for POLLIN: expected to wake with POLLIN, got {res!r}")

    _wake_test(daemon, wait, check)


def test_select_wakes_waiter_when_frame_arrives(daemon):
    def wait(fd):
        return select.select([fd], [], [], taputil.TIMEOUT)

    def check(res, fd):
        assert res[0] == [fd], f"select waiting to read: expected [{fd}] readable, got {res!r}"

    _wake_test(daemon, wait, check)


def test_poll_state_is_per_instance(daemon):
    """Poll state is per instance: a frame for unit 1 does not wake unit 0."""
    fd0, name0 = daemon.clone()
    fd1, name1 = daemon.clone()
    taputil.link_up(name0)
    taputil.link_up(name1)
    marker = new_marker("u1")
    taputil.host_send(name1, make_frame(BROADCAST, taputil.iface_mac(name1), marker))
    taputil.wait_for(lambda: taputil.poll_events(fd1) & POLLIN, what=f"POLLIN on {name1}")
    ev0 = taputil.poll_events(fd0, POLLIN | POLLOUT, 200)
    assert ev0 == POLLOUT, (
        f"{name0} got no frame: expected revents POLLOUT, got {revents_text(ev0)}")
    taputil.read_frame(fd1, marker)


def test_epoll_edge_triggered_wakes_for_each_frame(daemon):
    """epoll, as event loops use it: each wait that sleeps is woken by the
    daemon's notification when the next frame comes, and only then."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    ep = select.epoll()
    try:
        ep.register(fd, select.EPOLLIN | select.EPOLLET)
        for i in range(3):
            got = ep.poll(0.3)
            assert got == [], f"frame {i}: expected no event before it is sent, got {got!r}"
            t, out = _waiter(lambda: ep.poll(taputil.TIMEOUT))
            time.sleep(0.5)  # let the waiter sleep in epoll_wait
            marker = new_marker(f"ep{i}")
            taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), marker))
            t.join(taputil.TIMEOUT + 5)
            assert not t.is_alive(), f"frame {i}: epoll_wait still asleep after it arrived"
            assert "error" not in out, f"frame {i}: epoll_wait raised {out.get('error')!r}"
            assert out["value"] and out["value"][0][1] & select.EPOLLIN, (
                f"frame {i}: expected EPOLLIN, got {out['value']!r}")
            taputil.read_frame(fd, marker)
    finally:
        ep.close()


def test_poller_wakes_when_interface_is_deleted(daemon):
    """A client asleep in poll() when the host deletes its interface wakes
    with POLLHUP (the unit is gone; writes would fail with ENXIO)."""
    fd, name = daemon.clone()
    taputil.link_up(name)

    def wait(fd):
        p = select.poll()
        p.register(fd, POLLIN)
        return p.poll(int(taputil.TIMEOUT * 1000))

    t, out = _waiter(lambda: wait(fd))
    time.sleep(1.0)  # let the waiter block
    assert "value" not in out, f"poll returned {out.get('value')!r} before anything happened"
    deleted = time.monotonic()
    taputil.run("ip", "link", "del", "dev", name)
    t.join(taputil.TIMEOUT + 5)
    assert not t.is_alive(), f"poll: expected to wake when {name} was deleted, still blocked"
    assert "error" not in out, f"poll raised {out.get('error')!r}"
    _assert_woken_by_event(out, deleted, f"{name} deleted")
    ev = out["value"][0][1] if out["value"] else 0
    assert ev & select.POLLHUP, (
        f"{name} deleted under a poller: expected POLLHUP, got {revents_text(ev)}")
    daemon.assert_healthy()


def test_many_pollers_of_one_file_all_get_woken(daemon):
    """Four threads poll one clone while frames come one at a time. Each
    poll replaces the daemon's handle for the file (the old one is dropped,
    the new one notified): every frame is read exactly once, by whichever
    poller gets to it (the others find EAGAIN), and nothing breaks."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    taputil.set_nonblock(fd)
    frames = 60
    got, errors, lock = [], [], threading.Lock()
    done = threading.Event()

    def poller():
        p = select.poll()
        p.register(fd, POLLIN)
        try:
            while not done.is_set():
                if not p.poll(2000):
                    continue
                try:
                    data = os.read(fd, 2048)
                except BlockingIOError:
                    continue        # another poller took it
                with lock:
                    got.append(data)
                    if len(got) == frames:
                        done.set()
        except OSError as e:
            errors.append(e)
            done.set()

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    sent = []
    for i in range(frames):
        f = make_frame(BROADCAST, taputil.iface_mac(name), new_marker(f"mp{i}"))
        sent.append(f)
        taputil.host_send(name, f)
        time.sleep(0.01)
    done.wait(taputil.TIMEOUT)
    done.set()
    for t in threads:
        t.join(5)
    assert not errors, f"a poller failed: {errors[0]!r} ({errno.errorcode.get(getattr(errors[0], 'errno', 0))})"
    assert sorted(got) == sorted(sent), (
        f"expected the {frames} frames sent to be read once each by the pollers, "
        f"got {len(got)} ({len(set(got) & set(sent))} of ours)")
    daemon.assert_healthy()
