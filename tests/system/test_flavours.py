"""Where FreeBSD (default, `fbsd`) and NetBSD (`--abi netbsd`, `nbsd`) differ."""

import errno
import os
import time

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker

SRC = b"\x02\x00\x00\x00\x00\x09"


# --- FreeBSD ---------------------------------------------------------------


def test_freebsd_write_while_down_returns_zero(fbsd):
    fd, name = fbsd.clone()
    assert not taputil.iface_is_up(name), f"fresh clone {name}: expected admin-down, it is up"
    frame = make_frame(BROADCAST, SRC, new_marker("down"))
    n = os.write(fd, frame)
    assert n == 0, f"freebsd write while {name} is down: expected 0, got {n}"
    fbsd.assert_healthy()


@pytest.mark.parametrize("size", [taputil.TAPMRU + 1, 100000])
def test_freebsd_write_larger_than_tapmru_is_eio(fbsd, size):
    fd, name = fbsd.clone()
    taputil.link_up(name)
    frame = make_frame(BROADCAST, SRC, new_marker("big"), size)
    with pytest.raises(OSError) as exc:
        n = os.write(fd, frame)
        pytest.fail(f"write of {size} bytes: expected EIO, it returned {n}")
    assert exc.value.errno == errno.EIO, (
        f"write of {size} bytes (> TAPMRU {taputil.TAPMRU}): expected EIO, "
        f"got {taputil.errname(exc.value.errno)}")
    # The fd still carries frames afterwards.
    marker = new_marker("after-big")
    with taputil.Capture(name) as cap:
        os.write(fd, make_frame(BROADCAST, SRC, marker))
        cap.expect(marker)
    fbsd.assert_healthy()


@pytest.mark.parametrize("size", [1, 13])
def test_freebsd_short_write_is_swallowed(fbsd, size):
    fd, name = fbsd.clone()
    taputil.link_up(name)
    with taputil.Capture(name, taputil.ETH_P_ALL) as cap:
        n = os.write(fd, b"\xff" * size)
        assert n == size, f"freebsd write of {size} bytes (< 14): expected {size}, got {n}"
        sentinel = new_marker("sentinel")
        os.write(fd, make_frame(BROADCAST, SRC, sentinel))
        for frame in cap.frames(taputil.TIMEOUT):
            assert len(frame) >= taputil.ETH_HLEN, (
                f"host received a {len(frame)}-byte runt, expected it dropped")
            if taputil.has_marker(frame, sentinel):
                break
        else:
            pytest.fail("sentinel frame written after the runt never reached the host")
    fbsd.assert_healthy()


def test_freebsd_unicast_filter_and_promisc(fbsd):
    fd, name = fbsd.clone()
    taputil.link_up(name)
    other = b"\x02\x42\x42\x42\x42\x42"
    assert other != taputil.iface_mac(name)
    bad = new_marker("notforus")
    frame = make_frame(other, SRC, bad)
    with taputil.Capture(name) as cap:
        n = os.write(fd, frame)
        assert n == len(frame), (
            f"write of a unicast frame for another MAC: expected {len(frame)}, got {n}")
        sentinel = new_marker("sentinel")
        os.write(fd, make_frame(BROADCAST, SRC, sentinel))
        cap.expect_dropped(bad, sentinel)

    taputil.run("ip", "link", "set", "dev", name, "promisc", "on")
    # The daemon may learn of IFF_PROMISC asynchronously: retry with fresh markers.
    deadline = time.monotonic() + taputil.TIMEOUT
    with taputil.Capture(name) as cap:
        while True:
            marker = new_marker("promisc")
            frame = make_frame(other, SRC, marker)
            n = os.write(fd, frame)
            assert n == len(frame), f"promisc write: expected {len(frame)}, got {n}"
            if any(taputil.has_marker(f, marker) for f in cap.frames(1.0)):
                break
            assert time.monotonic() < deadline, (
                f"promisc on: expected a unicast frame for another MAC to reach "
                f"{name} within {taputil.TIMEOUT}s, none did")


def test_freebsd_close_keeps_interface_down_and_purged(fbsd):
    fd, name = fbsd.clone()
    taputil.link_up(name)
    taputil.run("ip", "addr", "add", "192.0.2.1/24", "dev", name)
    assert taputil.ip_addrs(name) == ["192.0.2.1"], (
        f"setup: expected 192.0.2.1 on {name}, got {taputil.ip_addrs(name)}")
    fbsd.close(fd)
    taputil.wait_for(lambda: not taputil.iface_is_up(name), 10,
                     what=f"{name} to be brought down on close")
    link = taputil.ip_link(name)
    assert "UP" not in link["flags"], f"after close: expected no UP flag, got {link['flags']}"
    taputil.wait_for(lambda: taputil.ip_addrs(name) == [], 10,
                     what=f"IPv4 addresses of {name} to be purged on close")
    time.sleep(0.5)
    assert taputil.iface_exists(name), f"freebsd close: expected {name} to be kept, it is gone"
    assert os.path.exists(fbsd.node(0)), (
        f"freebsd close: expected node {fbsd.node(0)} to be kept, it is gone")
    fbsd.assert_healthy()


def test_freebsd_carrier_follows_open(fbsd):
    fd, name = fbsd.clone()
    taputil.link_up(name)
    taputil.wait_for(lambda: taputil.carrier(name) == 1, 10, what=f"carrier 1 on open {name}")
    fbsd.close(fd)
    taputil.wait_for(lambda: not taputil.iface_is_up(name), 10,
                     what=f"{name} to be brought down on close")
    taputil.run("ip", "link", "set", "dev", name, "up")  # carrier reads need admin-up
    taputil.wait_for(lambda: taputil.carrier(name) == 0, 10,
                     what=f"carrier 0 on closed {name}")
    # IFF_RUNNING follows the carrier through linkwatch, asynchronously: wait.
    taputil.wait_for(lambda: "NO-CARRIER" in taputil.ip_link(name)["flags"], 10,
                     what=f"NO-CARRIER in the flags of closed {name}")


@pytest.mark.parametrize("how", ["unit-node", "clone"])
def test_freebsd_frames_sent_while_closed_are_dropped(fbsd, how):
    fd, name = fbsd.clone()
    taputil.link_up(name)
    fbsd.close(fd)
    taputil.wait_for(lambda: not taputil.iface_is_up(name), 10,
                     what=f"{name} to be brought down on close")
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    for i in range(3):
        try:  # the kernel may refuse: no carrier, no reader
            taputil.host_send(name, make_frame(BROADCAST, mac, new_marker(f"closed{i}")))
        except OSError:
            pass
    time.sleep(1.0)
    if how == "unit-node":
        fd = fbsd.open(fbsd.node(0), os.O_RDWR | os.O_NONBLOCK)
    else:
        fd, got = fbsd.clone(os.O_RDWR | os.O_NONBLOCK)
        assert got == name, f"clone: expected the lowest not-open unit {name}, got {got}"
    err = taputil.read_errno(fd)
    assert err == errno.EAGAIN, (
        f"reopened {name}: expected EAGAIN (frames sent while closed are dropped), "
        f"got {taputil.errname(err)}")
    # ... while frames sent now are delivered.
    if not taputil.iface_is_up(name):
        taputil.link_up(name)
    marker = new_marker("reopened")
    taputil.host_send(name, make_frame(BROADCAST, mac, marker))
    taputil.read_frame(fd, marker)


def test_freebsd_initial_mac_is_locally_administered(fbsd):
    fd, name = fbsd.clone()
    mac = taputil.iface_mac(name)
    assert mac[0] & 0x02 and not mac[0] & 0x01, (
        f"expected a locally administered unicast MAC, got {taputil.mac_text(mac)}")


# --- NetBSD ----------------------------------------------------------------


@pytest.mark.parametrize("nonblock", [False, True], ids=["blocking", "nonblocking"])
def test_netbsd_read_while_down_is_ehostdown(nbsd, nonblock):
    fd, name = nbsd.clone(os.O_RDWR | (os.O_NONBLOCK if nonblock else 0))
    assert not taputil.iface_is_up(name), f"fresh clone {name}: expected admin-down, it is up"
    err = taputil.read_errno(fd)
    assert err == errno.EHOSTDOWN, (
        f"netbsd read while {name} is down: expected EHOSTDOWN, got {taputil.errname(err)}")
    nbsd.assert_healthy()


def test_netbsd_blocked_read_fails_when_host_takes_link_down(nbsd, children):
    """NetBSD's tap_stop() wakes its readers, which then see EHOSTDOWN."""
    fd, name = nbsd.clone(nbsd_name=True)
    taputil.link_up(name)
    child = taputil.BlockedReader(fd)
    children.append(child)
    child.wait_blocked()
    taputil.link_down(name)
    res = child.result(10)
    assert res == f"errno {errno.EHOSTDOWN}", (
        f"netbsd reader blocked on {name} when the host took it down: expected "
        f"errno {errno.EHOSTDOWN} (EHOSTDOWN), got {res!r}")
    nbsd.assert_healthy()


@pytest.mark.parametrize("flavour", ["freebsd", "netbsd"])
def test_link_down_junks_queued_frames(daemon_factory, flavour):
    """Both BSDs flush the send queue when the interface goes down."""
    d = daemon_factory(["--abi", flavour])
    fd, name = d.clone(os.O_RDWR | os.O_NONBLOCK, nbsd_name=flavour == "netbsd")
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    taputil.host_send(name, make_frame(BROADCAST, mac, new_marker("queued")))
    taputil.wait_readable(fd)
    taputil.link_down(name)
    taputil.wait_for(lambda: taputil.fionread(fd) == 0, 10,
                     what=f"{flavour}: the frame queued on {name} to be junked when it went down")
    taputil.link_up(name)
    err = taputil.read_errno(fd)
    assert err == errno.EAGAIN, (
        f"{flavour}: read after down and up again: expected nothing queued (EAGAIN), "
        f"got {taputil.errname(err)}")
    d.assert_healthy()


def test_netbsd_write_while_down_is_accepted(nbsd):
    fd, name = nbsd.clone()
    assert not taputil.iface_is_up(name), f"fresh clone {name}: expected admin-down, it is up"
    frame = make_frame(BROADCAST, SRC, new_marker("down"))
    n = os.write(fd, frame)
    assert n == len(frame), f"netbsd write while down: expected {len(frame)}, got {n}"
    nbsd.assert_healthy()


def test_netbsd_close_destroys_interface_and_node(nbsd):
    fd, name = nbsd.clone()
    taputil.link_up(name)
    nbsd.close(fd)
    taputil.wait_for(lambda: not taputil.iface_exists(name), 10,
                     what=f"netbsd close: interface {name} to be destroyed")
    taputil.wait_for(lambda: not os.path.exists(nbsd.node(0)), 10,
                     what=f"netbsd close: node {nbsd.node(0)} to be removed")
    assert os.path.exists(nbsd.clone_node), (
        f"expected the cloning node {nbsd.clone_node} to stay, it is gone")
    nbsd.assert_healthy()


def test_netbsd_initial_mac_prefix(nbsd):
    fd, name = nbsd.clone()
    mac = taputil.iface_mac(name)
    assert mac[:3] == b"\xf2\x0b\xa4", (
        f"netbsd: expected a MAC f2:0b:a4:xx:xx:xx, got {taputil.mac_text(mac)}")


def test_freebsd_close_with_a_full_queue_then_reopen_receives(fbsd):
    """A reader that never reads fills the unit's queue (32 frames); closing
    junks it, and the next opener must receive again, not find a deaf unit."""
    fd, name = fbsd.clone()
    taputil.link_up(name)
    mac = taputil.iface_mac(name)
    for i in range(48):
        taputil.host_send(name, make_frame(BROADCAST, mac, new_marker(f"flood{i}")))
    taputil.wait_for(lambda: taputil.fionread(fd) > 0, 10, what=f"{name} to queue frames")
    time.sleep(0.5)
    fbsd.close(fd)
    fd = fbsd.open(fbsd.node(0))
    taputil.link_up(name)
    marker = new_marker("after-full")
    taputil.host_send(name, make_frame(BROADCAST, mac, marker))
    taputil.read_frame(fd, marker, timeout=10)
