"""ioctls: TAPGIFNAME (both numbers), FIONREAD (both numbers), ENOTTY for the rest."""

import errno
import fcntl
import os

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker


@pytest.mark.parametrize("cmd", [taputil.FREEBSD_TAPGIFNAME, taputil.NETBSD_TAPGIFNAME],
                         ids=["freebsd-TAPGIFNAME", "netbsd-TAPGIFNAME"])
def test_tapgifname(daemon, cmd):
    fd = daemon.open()
    name = taputil.tapgifname(fd, cmd)
    assert name == daemon.ifname(0), f"TAPGIFNAME {cmd:#x}: expected {daemon.ifname(0)}, got {name!r}"
    size = taputil.NETBSD_IFREQ_SIZE if cmd == taputil.NETBSD_TAPGIFNAME else taputil.FREEBSD_IFREQ_SIZE
    buf = fcntl.ioctl(fd, cmd, b"\xaa" * size)
    assert buf[:len(name) + 1] == name.encode() + b"\0", (
        f"TAPGIFNAME {cmd:#x} over a non-zero buffer: expected {name!r} + NUL first, "
        f"got {buf[:16]!r}")


@pytest.mark.parametrize("cmd", [taputil.BSD_FIONREAD, taputil.LINUX_FIONREAD],
                         ids=["bsd-FIONREAD", "linux-FIONREAD"])
def test_fionread(daemon, cmd):
    fd, name = daemon.clone()
    n = taputil.fionread(fd, cmd)
    assert n == 0, f"FIONREAD {cmd:#x} on an empty queue: expected 0, got {n}"
    taputil.link_up(name)
    frame = make_frame(BROADCAST, taputil.iface_mac(name), new_marker("fr"), 177)
    taputil.host_send(name, frame)
    # FIONREAD must equal the length of whatever frame the next read returns.
    while True:
        taputil.wait_readable(fd)
        n = taputil.fionread(fd, cmd)
        got = os.read(fd, 65536)
        assert n == len(got), (
            f"FIONREAD {cmd:#x}: expected the next frame's length {len(got)}, got {n}")
        if got == frame:
            break
    n = taputil.fionread(fd, cmd)
    assert n == 0, f"FIONREAD {cmd:#x} after the queue drained: expected 0, got {n}"


@pytest.mark.parametrize("cmd,arg", [(taputil.UNKNOWN_IOCTL, b"\0" * 4),
                                     (taputil.TUNSIFPID, 0),
                                     (0x54FF, 0)],
                         ids=["0x4004ffff", "TUNSIFPID", "0x54ff"])
def test_unknown_ioctl_is_enotty(daemon, cmd, arg):
    fd, name = daemon.clone()
    with pytest.raises(OSError) as exc:
        fcntl.ioctl(fd, cmd, arg)
    assert exc.value.errno == errno.ENOTTY, (
        f"ioctl {cmd:#x}: expected ENOTTY, got {taputil.errname(exc.value.errno)}")
    assert taputil.tapgifname(fd) == name, "fd unusable after an unknown ioctl"
    daemon.assert_healthy()


def test_bsd_fionbio_off_restores_blocking(daemon):
    """BSD FIONBIO 1 then 0: the fd blocks again (checked with poll + a frame)."""
    fd, name = daemon.clone()
    taputil.link_up(name)
    taputil.ioctl_int(fd, taputil.BSD_FIONBIO, 1)
    err = taputil.read_errno(fd)
    assert err == errno.EAGAIN, f"after FIONBIO 1: expected EAGAIN, got {taputil.errname(err)}"
    taputil.ioctl_int(fd, taputil.BSD_FIONBIO, 0)
    child_marker = new_marker("blk")
    # A blocking read that gets interrupted proves it blocked instead of EAGAIN.
    try:
        with taputil.alarm_guard(1.5, "read"):
            data = os.read(fd, 2048)
        pytest.fail(f"after FIONBIO 0: expected read to block, it returned {len(data)} bytes")
    except taputil.Timeout:
        pass
    except OSError as e:
        pytest.fail(f"after FIONBIO 0: expected read to block, got {taputil.errname(e.errno)}")
    taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), child_marker))
    taputil.read_frame(fd, child_marker)
