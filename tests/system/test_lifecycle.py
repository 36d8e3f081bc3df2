"""Daemon lifecycle: startup checks, SIGTERM cleanup, survival of bad input."""

import errno
import fcntl
import os
import re
import signal
import subprocess

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker


def _assert_all_gone(daemon, units):
    taputil.wait_for(lambda: not os.path.exists(daemon.clone_node), 10,
                     what=f"{daemon.clone_node} to be removed on exit")
    for u in units:
        taputil.wait_for(lambda: not os.path.exists(daemon.node(u)), 10,
                         what=f"{daemon.node(u)} to be removed on exit")
        taputil.wait_for(lambda: not taputil.iface_exists(daemon.ifname(u)), 10,
                         what=f"interface {daemon.ifname(u)} to be removed on exit")
    assert daemon.created_ifaces() == [], (
        f"after exit: expected no {daemon.devname}<N> interface, got {daemon.created_ifaces()}")
    assert daemon.created_nodes() == [], (
        f"after exit: expected no /dev/{daemon.devname}* node, got {daemon.created_nodes()}")


def test_sigterm_wakes_blocked_reader_and_cleans_up(daemon, children):
    fd, name = daemon.clone()
    taputil.link_up(name)
    child = taputil.BlockedReader(fd)
    children.append(child)
    daemon.close(fd)  # only the child holds the instance now
    child.wait_blocked()

    daemon.signal(signal.SIGTERM)
    rc = daemon.wait(taputil.TIMEOUT)
    assert rc == 0, f"SIGTERM with a blocked reader: expected exit 0, got {rc}; log:\n{daemon.log()}"
    res = child.result(10)
    assert res is not None and res.startswith("errno "), (
        f"blocked reader: expected to wake with an error when the daemon exits, got {res!r}")
    assert child.wait_exit(10) is not None, "blocked reader did not exit after waking"
    _assert_all_gone(daemon, [0])


def test_sigterm_with_open_and_closed_instances(daemon):
    held = [daemon.clone() for _ in range(3)]
    daemon.close(held[1][0])  # freebsd keeps unit 1, netbsd destroys it
    daemon.signal(signal.SIGTERM)
    rc = daemon.wait(taputil.TIMEOUT)
    assert rc == 0, f"SIGTERM: expected exit 0, got {rc}; log:\n{daemon.log()}"
    _assert_all_gone(daemon, [0, 1, 2])
    # The clients' fds are now dead, not hanging.
    err = taputil.read_errno(held[0][0])
    assert err is not None, "read on an fd of a dead daemon: expected an error"


BAD_DEVNAMES = ["../x", "a/b", "x" * 40, ""]


@pytest.mark.parametrize("devname", BAD_DEVNAMES, ids=["dotdot", "slash", "too-long", "empty"])
def test_bad_devname_refused(cusetap_bin, tmp_path, devname):
    had_x = os.path.lexists("/x")
    before_dev = set(os.listdir("/dev"))
    before_net = set(os.listdir("/sys/class/net"))
    pidfile = tmp_path / "bad.pid"
    try:
        p = subprocess.run([cusetap_bin, "-f", "--devname", devname, "--pidfile", str(pidfile)],
                           capture_output=True, text=True, timeout=taputil.TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"--devname {devname!r}: expected a prompt refusal, daemon kept running")
    out = p.stdout + p.stderr
    assert p.returncode != 0, f"--devname {devname!r}: expected non-zero exit, got 0; output:\n{out}"
    assert re.search(r"error", out, re.I), (
        f"--devname {devname!r}: expected an error message, got output:\n{out!r}")
    assert not pidfile.exists(), f"--devname {devname!r}: expected no pidfile, one was written"
    new_dev = set(os.listdir("/dev")) - before_dev
    new_net = set(os.listdir("/sys/class/net")) - before_net
    assert not new_dev and not new_net, (
        f"--devname {devname!r}: expected nothing created, got /dev {sorted(new_dev)}, "
        f"interfaces {sorted(new_net)}")
    assert had_x or not os.path.lexists("/x"), f"--devname {devname!r} created /x"


def test_bad_abi_refused(cusetap_bin, tmp_path):
    pidfile = tmp_path / "bad.pid"
    try:
        p = subprocess.run([cusetap_bin, "-f", "--devname", "ctbadabi", "--abi", "openbsd",
                            "--pidfile", str(pidfile)],
                           capture_output=True, text=True, timeout=taputil.TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("--abi openbsd: expected a prompt refusal, daemon kept running")
    assert p.returncode != 0, f"--abi openbsd: expected non-zero exit, got 0: {p.stderr}"
    assert not os.path.exists("/dev/ctbadabi"), "--abi openbsd: /dev/ctbadabi was created"
    assert not pidfile.exists(), "--abi openbsd: a pidfile was written"


def test_daemon_survives_bad_input(daemon):
    fd, name = daemon.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    for cmd, arg in [(taputil.UNKNOWN_IOCTL, b"\0" * 4), (taputil.TUNSIFPID, 0),
                     (0xC0FFEE00, b"\0" * 256), (0xFFFFFFFF, 0), (0x8004745B, b"\x07\0\0\0"),
                     (taputil.FREEBSD_TAPGIFNAME, b"\0" * 4),
                     (taputil.NETBSD_TAPGIFNAME, b"\0" * 16)]:
        try:
            fcntl.ioctl(fd, cmd, arg)
        except OSError:
            pass
        assert daemon.alive(), f"daemon died on ioctl {cmd:#x}; log:\n{daemon.log()}"
    for data in (b"", b"\0", b"\0" * 13, b"\xff" * 70000, b"\x00" * 14):
        try:
            os.write(fd, data)
        except OSError:
            pass
        assert daemon.alive(), f"daemon died on a {len(data)}-byte write; log:\n{daemon.log()}"
    try:
        with taputil.alarm_guard(2, "zero-length read"):
            os.read(fd, 0)
    except (OSError, taputil.Timeout):
        pass
    assert daemon.alive(), f"daemon died on a zero-length read; log:\n{daemon.log()}"
    # The fd still works both ways.
    marker = new_marker("still")
    taputil.host_send(name, make_frame(BROADCAST, mac, marker))
    taputil.read_frame(fd, marker)
    marker = new_marker("still-w")
    with taputil.Capture(name) as cap:
        os.write(fd, make_frame(BROADCAST, b"\x02\0\0\0\0\x07", marker))
        cap.expect(marker)
    daemon.assert_healthy()


def test_close_with_pending_frames_then_reuse(daemon):
    """Closing an fd with queued frames and a clone after it work (no leak, no crash)."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    for i in range(20):
        taputil.host_send(name, make_frame(BROADCAST, mac, new_marker(f"q{i}")))
    taputil.wait_readable(fd)
    daemon.close(fd)
    if daemon.abi == "netbsd":
        taputil.wait_for(lambda: not taputil.iface_exists(name), 10,
                         what=f"{name} destroyed on close")
    fd, again = daemon.clone(os.O_RDWR | os.O_NONBLOCK)
    assert again == name, f"clone after close: expected {name} again, got {again}"
    if daemon.abi == "netbsd":
        taputil.link_up(name)
    err = taputil.read_errno(fd)
    assert err == errno.EAGAIN, (
        f"new open of {name}: expected an empty queue (EAGAIN), got {taputil.errname(err)}")
