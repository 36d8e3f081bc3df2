"""FIOASYNC, FIOSETOWN/FIOGETOWN, TIOCSPGRP/TIOCGPGRP: SIGIO when a frame arrives.

The daemon sends the signal itself, so it only ever signals the opener or
the opener's own process group; anyone else is refused with EPERM.
"""

import contextlib
import errno
import os
import signal
import subprocess
import time

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker


@pytest.fixture
def other_pgrp():
    """A live process group that is not ours (a `sleep` in its own session)."""
    p = subprocess.Popen(["sleep", "60"], start_new_session=True)
    assert os.getpgid(p.pid) != os.getpgrp(), "expected the sleeper in another group"
    yield p.pid
    p.kill()
    p.wait()


def test_fioasync_sigio_to_own_pid(daemon):
    with taputil.SigioCounter() as sig:
        fd, name = daemon.clone()
        taputil.link_up(name)
        pid = os.getpid()
        taputil.ioctl_int(fd, taputil.BSD_FIOSETOWN, pid)
        got = taputil.ioctl_int(fd, taputil.BSD_FIOGETOWN)
        assert got == pid, f"FIOGETOWN after FIOSETOWN {pid}: expected {pid}, got {got}"
        taputil.ioctl_int(fd, taputil.BSD_FIOASYNC, 1)
        assert sig.count == 0, f"SIGIO before any frame: expected none, got {sig.count}"
        marker = new_marker("sigio")
        taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), marker))
        sig.wait()
        taputil.read_frame(fd, marker)


def test_no_sigio_without_fioasync(daemon):
    with taputil.SigioCounter() as sig:
        fd, name = daemon.clone()
        taputil.link_up(name)
        mac = taputil.iface_mac(name)
        taputil.ioctl_int(fd, taputil.BSD_FIOSETOWN, os.getpid())
        marker = new_marker("nosig")
        taputil.host_send(name, make_frame(BROADCAST, mac, marker))
        taputil.read_frame(fd, marker)
        time.sleep(0.5)
        assert sig.count == 0, f"owner set, FIOASYNC never on: expected no SIGIO, got {sig.count}"
        # On, then off again: still none.
        taputil.ioctl_int(fd, taputil.BSD_FIOASYNC, 1)
        taputil.ioctl_int(fd, taputil.BSD_FIOASYNC, 0)
        marker = new_marker("nosig-off")
        taputil.host_send(name, make_frame(BROADCAST, mac, marker))
        taputil.read_frame(fd, marker)
        time.sleep(0.5)
        assert sig.count == 0, f"FIOASYNC 1 then 0: expected no SIGIO, got {sig.count}"


def test_tiocspgrp_own_group(daemon):
    # The daemon never signals group 1 (-1 would be every process): under
    # the VM's init the test may be in it, so lead a group of its own.
    if os.getpgrp() <= 1:
        os.setpgid(0, 0)
    fd, name = daemon.clone()
    pgrp = os.getpgrp()
    taputil.ioctl_int(fd, taputil.BSD_TIOCSPGRP, pgrp)
    got = taputil.ioctl_int(fd, taputil.BSD_TIOCGPGRP)
    assert got == pgrp, f"TIOCGPGRP after TIOCSPGRP {pgrp}: expected {pgrp}, got {got}"
    got = taputil.ioctl_int(fd, taputil.BSD_FIOGETOWN)
    assert got == -pgrp, f"FIOGETOWN after TIOCSPGRP {pgrp}: expected {-pgrp}, got {got}"
    # FIOASYNC stays off: a SIGIO to our group would reach the daemon too.


def test_tiocspgrp_of_group_one_refused(daemon):
    """TIOCSPGRP 1 / FIOSETOWN -1 would make the daemon signal every process
    it can (kill(-1)): refused, whatever the opener's group."""
    fd, name = daemon.clone()
    for cmd, value, what in [(taputil.BSD_TIOCSPGRP, 1, "TIOCSPGRP 1"),
                             (taputil.BSD_FIOSETOWN, -1, "FIOSETOWN -1"),
                             (taputil.BSD_TIOCSPGRP, -2147483648, "TIOCSPGRP INT_MIN"),
                             (taputil.BSD_FIOSETOWN, -2147483648, "FIOSETOWN INT_MIN")]:
        err = taputil.ioctl_errno(fd, cmd, value.to_bytes(4, "little", signed=True))
        assert err == errno.EPERM, f"{what}: expected EPERM, got {taputil.errname(err)}"


def test_owner_zero_clears_and_missing_owner_is_esrch(daemon):
    """As fsetown(): 0 means nobody (TIOCSPGRP 0 too, which negates it), and
    a process or group that does not exist is ESRCH."""
    fd, name = daemon.clone()
    pid = os.getpid()
    taputil.ioctl_int(fd, taputil.BSD_FIOSETOWN, pid)
    taputil.ioctl_int(fd, taputil.BSD_TIOCSPGRP, 0)
    got = taputil.ioctl_int(fd, taputil.BSD_FIOGETOWN)
    assert got == 0, f"FIOGETOWN after TIOCSPGRP 0: expected 0 (nobody), got {got}"
    missing = 0x3ffffffe  # above pid_max: never a process or a group
    for cmd, value, what in [(taputil.BSD_FIOSETOWN, missing, "FIOSETOWN of no process"),
                             (taputil.BSD_FIOSETOWN, -missing, "FIOSETOWN of no group"),
                             (taputil.BSD_TIOCSPGRP, missing, "TIOCSPGRP of no group")]:
        err = taputil.ioctl_errno(fd, cmd, value.to_bytes(4, "little", signed=True))
        assert err == errno.ESRCH, f"{what}: expected ESRCH, got {taputil.errname(err)}"
    daemon.assert_healthy()


def test_setown_of_others_refused(daemon, other_pgrp):
    fd, name = daemon.clone()
    pid = os.getpid()
    taputil.ioctl_int(fd, taputil.BSD_FIOSETOWN, pid)
    for cmd, value, what in [(taputil.BSD_FIOSETOWN, 1, "FIOSETOWN 1 (init)"),
                             (taputil.BSD_FIOSETOWN, other_pgrp, "FIOSETOWN of another process"),
                             (taputil.BSD_FIOSETOWN, -other_pgrp, "FIOSETOWN of another group"),
                             (taputil.BSD_TIOCSPGRP, other_pgrp, "TIOCSPGRP of another group")]:
        err = taputil.ioctl_errno(fd, cmd, value.to_bytes(4, "little", signed=True))
        assert err == errno.EPERM, f"{what}: expected EPERM, got {taputil.errname(err)}"
        got = taputil.ioctl_int(fd, taputil.BSD_FIOGETOWN)
        assert got == pid, f"FIOGETOWN after a refused {what}: expected {pid} kept, got {got}"


def _group_client(clone_node, report):
    """Child: own process group, open the cloner, TIOCSPGRP + FIOASYNC, wait
    for SIGIO. Reports 'name IFNAME', then 'sigio' or 'timeout'."""
    os.setpgid(0, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGIO])
    fd = os.open(clone_node, os.O_RDWR)
    name = taputil.tapgifname(fd)
    taputil.ioctl_int(fd, taputil.BSD_TIOCSPGRP, os.getpgrp())
    taputil.ioctl_int(fd, taputil.BSD_FIOASYNC, 1)
    os.write(report, f"name {name}\n".encode())
    got = signal.sigtimedwait([signal.SIGIO], taputil.TIMEOUT)
    os.write(report, b"sigio\n" if got else b"timeout\n")


def test_sigio_to_own_process_group(daemon):
    rfd, wfd = os.pipe()

    def child():
        os.close(rfd)
        _group_client(daemon.clone_node, wfd)

    pid = taputil.fork_child(child)
    os.close(wfd)
    try:
        with os.fdopen(rfd, "r") as report:
            with taputil.alarm_guard(taputil.TIMEOUT, "child's interface name"):
                first = report.readline().split()
            assert len(first) == 2 and first[0] == "name", (
                f"group client: expected 'name IFNAME', got {first!r}")
            name = first[1]
            taputil.wait_for(lambda: os.path.exists(f"/dev/{name}"), 10,
                             what=f"/dev/{name} to appear")
            taputil.link_up(name)
            taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name),
                                               new_marker("pgrp")))
            with taputil.alarm_guard(taputil.TIMEOUT + 5, "child's SIGIO report"):
                outcome = report.readline().strip()
        assert outcome == "sigio", (
            f"client with TIOCSPGRP(own group) + FIOASYNC: expected SIGIO, got {outcome!r}")
    finally:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
