"""Cloning: /dev/NAME hands out the lowest free unit, backed by a kernel TAP."""

import errno
import os
import signal
import stat

import pytest

import taputil


def test_daemon_ready_with_clone_node_only(daemon):
    """Once the pidfile exists, /dev/NAME is a char device and no unit exists yet."""
    st = os.stat(daemon.clone_node)
    assert stat.S_ISCHR(st.st_mode), (
        f"expected {daemon.clone_node} to be a character device, got mode {oct(st.st_mode)}")
    assert daemon.created_ifaces() == [], (
        f"expected no {daemon.devname}<N> interface before the first open, "
        f"got {daemon.created_ifaces()}")


def test_clone_creates_kernel_tap_and_node(daemon):
    fd, name = daemon.clone()
    assert name == daemon.ifname(0), f"first clone: expected {daemon.ifname(0)}, got {name}"
    assert taputil.iface_exists(name), f"expected /sys/class/net/{name} to exist, it does not"
    link = taputil.ip_link(name)
    assert link["ifname"] == name, f"ip -j link show: expected {name}, got {link['ifname']}"
    assert link.get("link_type") == "ether", (
        f"expected an Ethernet interface, got link_type {link.get('link_type')!r}")
    assert os.path.exists(f"/sys/class/net/{name}/tun_flags"), (
        f"expected {name} to be a kernel tun/tap device (tun_flags in sysfs), it is not")
    flags = int(taputil.sysfs(name, "tun_flags"), 16)
    assert flags & taputil.IFF_TAP and not flags & taputil.IFF_TUN, (
        f"expected tun_flags with IFF_TAP and without IFF_TUN, got {flags:#x}")
    st = os.stat(daemon.node(0))
    assert stat.S_ISCHR(st.st_mode), (
        f"expected {daemon.node(0)} to be a character device, got mode {oct(st.st_mode)}")


def test_two_clones_get_units_0_and_1(daemon):
    fd0, name0 = daemon.clone()
    fd1, name1 = daemon.clone()
    assert (name0, name1) == (daemon.ifname(0), daemon.ifname(1)), (
        f"expected clones {daemon.ifname(0)}, {daemon.ifname(1)}, got {name0}, {name1}")
    for unit in (0, 1):
        assert taputil.iface_exists(daemon.ifname(unit)), (
            f"expected interface {daemon.ifname(unit)} to exist, it does not")
        assert os.path.exists(daemon.node(unit)), (
            f"expected node {daemon.node(unit)} to exist, it does not")
    # The fds really are distinct units, not two handles on one.
    assert taputil.tapgifname(fd0) == name0, "fd0 changed its unit after a second clone"


def test_open_busy_unit_is_ebusy(daemon):
    fd, name = daemon.clone()
    with pytest.raises(OSError) as exc:
        daemon.open(daemon.node(0))
    assert exc.value.errno == errno.EBUSY, (
        f"open of busy {daemon.node(0)}: expected EBUSY, got {taputil.errname(exc.value.errno)}")
    # The refused open must not have disturbed the holder.
    assert taputil.tapgifname(fd) == name, f"holder of {name} lost its unit after the EBUSY"
    daemon.assert_healthy()


def test_clone_reuses_lowest_free_unit(daemon):
    held = [daemon.clone() for _ in range(3)]
    assert [n for _, n in held] == [daemon.ifname(u) for u in range(3)], (
        f"expected units 0..2, got {[n for _, n in held]}")
    daemon.close(held[1][0])
    if daemon.abi == "netbsd":  # the interface is destroyed: wait until it is
        taputil.wait_for(lambda: not taputil.iface_exists(daemon.ifname(1)), 10,
                         what=f"{daemon.ifname(1)} to be destroyed on close")
    fd, name = daemon.clone()
    assert name == daemon.ifname(1), (
        f"clone after closing unit 1: expected lowest free unit {daemon.ifname(1)}, got {name}")
    fd, name = daemon.clone()
    assert name == daemon.ifname(3), (
        f"next clone: expected {daemon.ifname(3)}, got {name}")


def test_freebsd_unit_node_reopens_after_close(fbsd):
    """FreeBSD keeps the instance on close: /dev/NAME0 can be opened directly."""
    fd, name = fbsd.clone()
    fbsd.close(fd)
    fd = fbsd.open(fbsd.node(0))
    got = taputil.tapgifname(fd)
    assert got == name, f"TAPGIFNAME on {fbsd.node(0)}: expected {name}, got {got}"
    fd1, name1 = fbsd.clone()
    assert name1 == fbsd.ifname(1), (
        f"clone while unit 0 is open through its node: expected {fbsd.ifname(1)}, got {name1}")


def test_200_simultaneous_clones(daemon, nofile_limit):
    n = 200
    names = []
    for i in range(n):
        try:
            names.append(daemon.clone()[1])
        except OSError as e:
            pytest.fail(f"clone {i + 1} of {n}: expected {daemon.ifname(i)}, got "
                        f"{taputil.errname(e.errno)} ({e}); daemon log:\n{daemon.log(10)}")
    expected = [daemon.ifname(u) for u in range(n)]
    assert sorted(names) == sorted(expected) and len(set(names)) == n, (
        f"expected {n} distinct names {expected[0]}..{expected[-1]}, got "
        f"{len(set(names))} distinct, missing {sorted(set(expected) - set(names))[:10]}")
    missing_if = [x for x in expected if not taputil.iface_exists(x)]
    assert not missing_if, f"expected all {n} interfaces to exist, missing {missing_if[:10]}"
    missing_nodes = [daemon.node(u) for u in range(n) if not os.path.exists(daemon.node(u))]
    assert not missing_nodes, f"expected all {n} nodes to exist, missing {missing_nodes[:10]}"

    daemon.close_all()
    assert daemon.alive(), f"daemon died after closing {n} clones; log:\n{daemon.log()}"
    if daemon.abi == "netbsd":
        taputil.wait_for(lambda: not daemon.created_ifaces(), 90,
                         what=f"all {n} interfaces to be destroyed (netbsd)")
        taputil.wait_for(lambda: daemon.created_nodes() == [daemon.clone_node], 90,
                         what=f"all {n} unit nodes to be removed (netbsd)")
    else:
        daemon.assert_healthy()  # also proves the closes were processed
        left = daemon.created_ifaces()
        assert len(left) == n, (
            f"freebsd keeps interfaces on close: expected {n}, got {len(left)}")
    daemon.assert_healthy()


def test_node_limit_refuses_with_enxio(daemon_factory):
    """A daemon serves at most 1016 device nodes (libfuse takes a thread
    key per CUSE session; glibc has 1024): the cloner and 1015 clones. The
    next clone fails with ENXIO, as when unit numbers run out, not with a
    misleading ENOMEM, and the daemon goes on serving; a unit that goes
    (NetBSD destroys a clone on close) makes room again."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    d = daemon_factory(["--abi", "netbsd"])
    fds = []
    err = None
    try:
        while len(fds) < 1100:
            try:
                fds.append(os.open(d.clone_node, os.O_RDWR))
            except OSError as e:
                err = e.errno
                break
        assert (len(fds), err) == (1015, errno.ENXIO), (
            f"clones until refused: expected 1015, then ENXIO; got {len(fds)}, "
            f"then {taputil.errname(err) if err else 'no refusal'}")
        assert d.alive(), f"daemon died at the node limit; log:\n{d.log()}"
        assert len(d.created_ifaces()) == 1015, (
            f"after the refused clone: expected the 1015 clones' interfaces, no more, "
            f"got {len(d.created_ifaces())}")
        gone = taputil.tapgifname(fds[-1], taputil.NETBSD_TAPGIFNAME)
        os.close(fds.pop())
        taputil.wait_gone(gone, f"/dev/{gone}", 30)

        def clone_again():
            try:
                fds.append(os.open(d.clone_node, os.O_RDWR))
            except OSError as e:
                assert e.errno == errno.ENXIO, (
                    f"clone after {gone} went: expected success (or ENXIO while its "
                    f"node is still being freed), got {taputil.errname(e.errno)}")
                return False
            return True
        taputil.wait_for(clone_again, 10, what=f"a clone to succeed once {gone} went")
        name = taputil.tapgifname(fds[-1], taputil.NETBSD_TAPGIFNAME)
        assert name.startswith(d.devname), f"clone after one went: expected a unit, got {name!r}"
    finally:
        for fd in fds:
            os.close(fd)
    d.signal(signal.SIGTERM)
    rc = d.wait(120)
    assert rc == 0, f"SIGTERM with 1015 units: expected exit 0 within 120 s, got {rc}"
    assert "at most 1016 device nodes" in d.log(), (
        f"expected the daemon to log why it refused, log tail:\n{d.log()[-2000:]}")
