"""The BSD tap ABI beyond the basics: every ioctl of include/net/if_tap.h,
the header itself (compiled), the tapclient example, and the daemon options
that shape units (--units, --up-on-open, --vmnet) and their MAC addresses.

FreeBSD semantics are those of if_tuntap.c; NetBSD's of if_tap.c.
"""

import errno
import fcntl
import os
import re
import select
import subprocess
import time

import pytest

import taputil
from taputil import BROADCAST, make_frame, new_marker

SRC_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = b"\x02\x00\x00\x00\x00\x0a"

# Every constant a client takes from <net/if_tap.h>, with the value the
# Python side uses.
HEADER_CONSTANTS = {
    "TAPGIFNAME": taputil.FREEBSD_TAPGIFNAME,
    "NETBSD_TAPGIFNAME": taputil.NETBSD_TAPGIFNAME,
    "TAPSIFINFO": taputil.TAPSIFINFO,
    "TAPGIFINFO": taputil.TAPGIFINFO,
    "TAPSDEBUG": taputil.TAPSDEBUG,
    "TAPGDEBUG": taputil.TAPGDEBUG,
    "TAPSVNETHDR": taputil.TAPSVNETHDR,
    "TAPGVNETHDR": taputil.TAPGVNETHDR,
    "BSD_SIOCGIFADDR": taputil.BSD_SIOCGIFADDR,
    "BSD_SIOCSIFADDR": taputil.BSD_SIOCSIFADDR,
    "VMIO_SIOCSIFFLAGS": taputil.VMIO_SIOCSIFFLAGS,
    "TAPSTRANSIENT": taputil.TAPSTRANSIENT,
    "TAPGTRANSIENT": taputil.TAPGTRANSIENT,
    "BSD_FIONREAD": taputil.BSD_FIONREAD,
    "BSD_FIONBIO": taputil.BSD_FIONBIO,
    "BSD_FIOASYNC": taputil.BSD_FIOASYNC,
    "BSD_FIOSETOWN": taputil.BSD_FIOSETOWN,
    "BSD_FIOGETOWN": taputil.BSD_FIOGETOWN,
    "BSD_TIOCSPGRP": taputil.BSD_TIOCSPGRP,
    "BSD_TIOCGPGRP": taputil.BSD_TIOCGPGRP,
    "TUNSIFPID": taputil.TUNSIFPID,
    "TUNSIFHEAD": taputil.TUNSIFHEAD,
    "TAPMRU": taputil.TAPMRU,
    "IFT_ETHER": taputil.IFT_ETHER,
    "IF_MINMTU": taputil.IF_MINMTU,
    "BSD_IFF_NOARP": taputil.BSD_IFF_NOARP,
    "sizeof(struct tuninfo)": taputil.TUNINFO.size,
    "sizeof(struct freebsd_ifreq)": taputil.FREEBSD_IFREQ_SIZE,
    "sizeof(struct netbsd_ifreq)": taputil.NETBSD_IFREQ_SIZE,
}


def _tool(cusetap_bin, *parts):
    """A file of the build directory the daemon binary lives in."""
    return os.path.join(os.path.dirname(os.path.dirname(cusetap_bin)), *parts)


# --- the header, compiled --------------------------------------------------


def test_header_values_match(tmp_path):
    """<net/if_tap.h> after <net/if.h> and <sys/ioctl.h>: -Wall -Werror clean,
    and every number equals the one the tests (and the daemon table) use."""
    prints = "\n".join(f'\tprintf("%s=%lu\\n", "{name}", (unsigned long)({name}));'
                       for name in HEADER_CONSTANTS)
    src = tmp_path / "abi_values.c"
    src.write_text("#include <stdio.h>\n#include <net/if.h>\n#include <sys/ioctl.h>\n"
                   "#include <net/if_tap.h>\n\nint main(void)\n{\n" + prints +
                   "\n\treturn 0;\n}\n")
    exe = tmp_path / "abi_values"
    p = subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                        "-I", os.path.join(SRC_ROOT, "include"), "-o", str(exe), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (
        f"compiling a client of <net/if_tap.h> with -Wall -Werror: expected success, "
        f"got status {p.returncode}:\n{p.stderr}")
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    got = dict(line.split("=", 1) for line in out.splitlines())
    wrong = {name: (f"{want:#x}", f"{int(got.get(name, '-1')):#x}")
             for name, want in HEADER_CONSTANTS.items()
             if int(got.get(name, "-1")) != want}
    assert not wrong, f"header constants (expected, got): {wrong}"


# --- the example client ----------------------------------------------------


def test_tapclient_example(fbsd, cusetap_bin):
    """examples/tapclient clones, reads the host's 0x88b5 frames, answers each.

    Two frames: the first echo is captured while tapclient still waits for
    the second, so its close (which takes the interface down) cannot race
    the capture.
    """
    exe = _tool(cusetap_bin, "examples", "tapclient")
    assert os.access(exe, os.X_OK), f"expected the example binary at {exe}, none there"
    # Unbuffered: the first line is read alone, the rest by communicate().
    p = subprocess.Popen([exe, "--count", "2", "--timeout", "20000", fbsd.clone_node],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        ready, _, _ = select.select([p.stdout], [], [], taputil.TIMEOUT)
        assert ready, "tapclient printed nothing within the timeout"
        first = p.stdout.readline().decode()
        m = re.match(rf"tapclient: {re.escape(fbsd.clone_node)} is interface (\S+)$",
                     first.strip())
        assert m, f"tapclient first line: expected '... is interface NAME', got {first!r}"
        name = m.group(1)
        assert name == fbsd.ifname(0), f"tapclient: expected {fbsd.ifname(0)}, got {name}"
        taputil.link_up(name)
        mac = taputil.iface_mac(name)
        marker = new_marker("example")
        frame = make_frame(BROADCAST, mac, marker, 100)
        with taputil.Capture(name) as cap:
            taputil.host_send(name, frame)
            echo = cap.expect(marker)
        taputil.host_send(name, make_frame(BROADCAST, mac, new_marker("example2"), 90))
        out, err = (b.decode() for b in p.communicate(timeout=taputil.TIMEOUT))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, f"tapclient: expected exit 0, got {p.returncode}: {err}"
    assert "mtu 1500 type 6 baudrate 0" in out, (
        f"tapclient: expected TAPGIFINFO 'mtu 1500 type 6 baudrate 0', got:\n{out}")
    for i, size in ((1, len(frame)), (2, 90)):
        assert f"frame {i}: {size} bytes, ethertype 0x88b5, FIONREAD {size}" in out, (
            f"tapclient: expected frame {i} of {size} bytes, ethertype 0x88b5, FIONREAD "
            f"{size}, got:\n{out}")
        assert f"wrote {size} bytes" in out, (
            f"tapclient: expected a {size}-byte reply written, got:\n{out}")
    assert echo[:6] == BROADCAST and echo[14:] == frame[14:], (
        f"host: expected a broadcast echo of the payload, got {echo[:32]!r}")


def test_tapclient_reports_errors(cusetap_bin, tmp_path):
    exe = _tool(cusetap_bin, "examples", "tapclient")
    missing = str(tmp_path / "no-such-tap")
    p = subprocess.run([exe, missing], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, "tapclient on a missing device: expected failure, got 0"
    assert missing in p.stderr and "No such file" in p.stderr, (
        f"tapclient on a missing device: expected a message naming it, got {p.stderr!r}")


# --- TAPGIFINFO / TAPSIFINFO -----------------------------------------------


def test_tapgifinfo_initial(daemon):
    fd, name = daemon.clone()
    baudrate, mtu, iftype = taputil.tapgifinfo(fd)
    want = int(taputil.sysfs(name, "mtu"))
    assert (baudrate, mtu, iftype) == (0, want, taputil.IFT_ETHER), (
        f"TAPGIFINFO on a fresh clone: expected baudrate 0, mtu {want}, type 6, got "
        f"baudrate {baudrate}, mtu {mtu}, type {iftype}")
    assert want == 1500, f"fresh {name}: expected MTU 1500, got {want}"
    # The host changes the MTU: TAPGIFINFO follows the interface.
    taputil.run("ip", "link", "set", "dev", name, "mtu", "1400")
    taputil.wait_for(lambda: taputil.tapgifinfo(fd)[1] == 1400, 10,
                     what="TAPGIFINFO mtu to follow the host's 1400")


def test_tapgifname_follows_host_rename(daemon):
    """FreeBSD's TAPGIFNAME copies if_xname: the name the interface has now."""
    fd, name = daemon.clone()
    new = f"{daemon.devname}x"
    taputil.run("ip", "link", "set", "dev", name, "name", new)
    try:
        taputil.wait_for(lambda: taputil.tapgifname(fd) == new, 10,
                         what=f"TAPGIFNAME to say {new} after the host renamed {name}")
        unit = daemon.unit_of(name)
        assert os.path.exists(daemon.node(unit)), (
            f"after renaming {name} to {new}: expected its node {daemon.node(unit)} kept")
    finally:
        taputil.run("ip", "link", "set", "dev", new, "name", name, check=False)
    daemon.assert_healthy()


def test_tapsifinfo(daemon):
    fd, name = daemon.clone()
    err = taputil.ioctl_errno(fd, taputil.TAPSIFINFO,
                              taputil.TUNINFO.pack(0, 1500, 0x17, 0))
    assert err == errno.EPROTOTYPE, (
        f"TAPSIFINFO type IFT_PPP: expected EPROTOTYPE, got {taputil.errname(err)}")
    err = taputil.ioctl_errno(fd, taputil.TAPSIFINFO,
                              taputil.TUNINFO.pack(0, taputil.IF_MINMTU - 1, 6, 0))
    assert err == errno.EINVAL, (
        f"TAPSIFINFO mtu {taputil.IF_MINMTU - 1}: expected EINVAL, got {taputil.errname(err)}")
    assert taputil.sysfs(name, "mtu") == "1500", "a refused TAPSIFINFO changed the MTU"

    taputil.tapsifinfo(fd, 9000, baudrate=10000000)
    assert taputil.sysfs(name, "mtu") == "9000", (
        f"TAPSIFINFO mtu 9000: expected {name} MTU 9000, got {taputil.sysfs(name, 'mtu')}")
    got = taputil.tapgifinfo(fd)
    assert got == (10000000, 9000, 6), (
        f"TAPGIFINFO after TAPSIFINFO: expected (10000000, 9000, 6), got {got}")

    # A value within tuninfo's range that Linux refuses: the kernel's errno.
    refused = taputil.max_mtu(name) + 1
    assert refused <= 0xFFFF, f"{name}: max_mtu {refused - 1} leaves no refusable u_short"
    err = taputil.ioctl_errno(fd, taputil.TAPSIFINFO, taputil.TUNINFO.pack(5, refused, 6, 0))
    assert err == errno.EINVAL, (
        f"TAPSIFINFO mtu {refused} (> kernel max_mtu): expected EINVAL, "
        f"got {taputil.errname(err)}")
    assert taputil.sysfs(name, "mtu") == "9000", "a refused TAPSIFINFO changed the MTU"
    assert taputil.tapgifinfo(fd)[0] == 10000000, "a refused TAPSIFINFO changed the baudrate"

    taputil.tapsifinfo(fd, taputil.IF_MINMTU)
    assert taputil.sysfs(name, "mtu") == str(taputil.IF_MINMTU), (
        f"TAPSIFINFO mtu {taputil.IF_MINMTU}: expected it set, got {taputil.sysfs(name, 'mtu')}")

    # The host sets an MTU below IF_MINMTU; a get-modify-set of the
    # baudrate passes it back unchanged, and FreeBSD checks only a change.
    taputil.run("ip", "link", "set", "dev", name, "mtu", "68")
    taputil.wait_for(lambda: taputil.tapgifinfo(fd)[1] == 68, 10,
                     what="TAPGIFINFO mtu to follow the host's 68")
    taputil.tapsifinfo(fd, 68, baudrate=42)
    assert taputil.tapgifinfo(fd)[0] == 42, "TAPSIFINFO with an unchanged mtu: baudrate not set"
    daemon.assert_healthy()


# --- TAPSDEBUG / TAPGDEBUG -------------------------------------------------


def _debug_lines(daemon, since):
    with open(daemon.logpath, errors="replace") as f:
        f.seek(since)
        return [l for l in f.read().splitlines() if l.startswith("cusetap: debug:")]


def test_tapsdebug_turns_debug_logging_on_and_off(daemon):
    fd, name = daemon.clone()
    assert taputil.ioctl_int(fd, taputil.TAPGDEBUG) == 0, "TAPGDEBUG at start: expected 0"
    start = os.path.getsize(daemon.logpath)
    other, _ = daemon.clone()
    daemon.close(other)
    assert _debug_lines(daemon, start) == [], (
        f"before TAPSDEBUG: expected no debug lines, got {_debug_lines(daemon, start)}")

    taputil.ioctl_int(fd, taputil.TAPSDEBUG, 1)
    got = taputil.ioctl_int(fd, taputil.TAPGDEBUG)
    assert got == 1, f"TAPGDEBUG after TAPSDEBUG 1: expected 1, got {got}"
    other, _ = daemon.clone()
    daemon.close(other)
    lines = taputil.wait_for(lambda: _debug_lines(daemon, start), 10,
                             what="'cusetap: debug:' lines in the daemon log")
    assert any("TAPGDEBUG" in l for l in lines), (
        f"debug log after TAPSDEBUG 1: expected the TAPGDEBUG ioctl logged, got {lines}")

    taputil.ioctl_int(fd, taputil.TAPSDEBUG, 0)
    off = os.path.getsize(daemon.logpath)
    got = taputil.ioctl_int(fd, taputil.TAPGDEBUG)
    assert got == 0, f"TAPGDEBUG after TAPSDEBUG 0: expected 0, got {got}"
    other, _ = daemon.clone()
    daemon.close(other)
    taputil.tapgifinfo(fd)
    assert _debug_lines(daemon, off) == [], (
        f"after TAPSDEBUG 0: expected no more debug lines, got {_debug_lines(daemon, off)}")


# --- SIOCGIFADDR / SIOCSIFADDR: the remote MAC -----------------------------


def test_siocgifaddr_and_siocsifaddr(daemon):
    fd, name = daemon.clone()
    own = taputil.iface_mac(name)
    got = taputil.siocgifaddr(fd)
    assert got == own, (
        f"SIOCGIFADDR after open: expected the interface MAC {taputil.mac_text(own)}, "
        f"got {taputil.mac_text(got)}")
    remote = b"\x02\xaa\xbb\xcc\xdd\xee"
    taputil.siocsifaddr(fd, remote)
    got = taputil.siocgifaddr(fd)
    assert got == remote, (
        f"SIOCGIFADDR after SIOCSIFADDR: expected {taputil.mac_text(remote)}, "
        f"got {taputil.mac_text(got)}")
    assert taputil.iface_mac(name) == own, (
        f"SIOCSIFADDR changed the interface MAC: expected {taputil.mac_text(own)}, "
        f"got {taputil.mac_text(taputil.iface_mac(name))}")


# --- VMIO_SIOCSIFFLAGS -----------------------------------------------------


def test_vmio_siocsifflags(daemon):
    fd, name = daemon.clone()
    taputil.quiet_ipv6(name)
    assert not taputil.iface_is_up(name), f"fresh clone {name}: expected admin-down"
    fcntl.ioctl(fd, taputil.VMIO_SIOCSIFFLAGS, 0)
    assert taputil.iface_is_up(name), (
        f"VMIO_SIOCSIFFLAGS 0: expected {name} UP (IFF_UP forced), flags "
        f"{taputil.link_flags(name)}")
    assert "NOARP" not in taputil.link_flags(name), (
        f"VMIO_SIOCSIFFLAGS 0: expected no NOARP, got {taputil.link_flags(name)}")
    fcntl.ioctl(fd, taputil.VMIO_SIOCSIFFLAGS, taputil.BSD_IFF_NOARP)
    flags = taputil.link_flags(name)
    assert "UP" in flags and "NOARP" in flags, (
        f"VMIO_SIOCSIFFLAGS IFF_NOARP: expected UP and NOARP, got {flags}")
    fcntl.ioctl(fd, taputil.VMIO_SIOCSIFFLAGS, 0)
    flags = taputil.link_flags(name)
    assert "UP" in flags and "NOARP" not in flags, (
        f"VMIO_SIOCSIFFLAGS 0 again: expected UP without NOARP, got {flags}")
    # FreeBSD 4-6's number, _IO('V', 0), which GENERIC kernels still take
    fcntl.ioctl(fd, 0x20005600, taputil.BSD_IFF_NOARP)
    flags = taputil.link_flags(name)
    assert "UP" in flags and "NOARP" in flags, (
        f"old VMIO_SIOCSIFFLAGS 0x20005600 IFF_NOARP: expected UP and NOARP, got {flags}")


# --- TAPSTRANSIENT ---------------------------------------------------------


def test_transient_unit_destroyed_on_close(fbsd):
    """Port of FreeBSD's transient_tuntap test."""
    fd, name = fbsd.clone()
    unit = fbsd.unit_of(name)
    assert taputil.ioctl_int(fd, taputil.TAPGTRANSIENT) == 0, "TAPGTRANSIENT: expected 0 at open"
    taputil.ioctl_int(fd, taputil.TAPSTRANSIENT, 1)
    got = taputil.ioctl_int(fd, taputil.TAPGTRANSIENT)
    assert got == 1, f"TAPGTRANSIENT after TAPSTRANSIENT 1: expected 1, got {got}"
    fbsd.close(fd)
    taputil.wait_gone(name, fbsd.node(unit))
    fbsd.assert_healthy()


def test_transient_off_keeps_unit(fbsd):
    fd, name = fbsd.clone()
    taputil.ioctl_int(fd, taputil.TAPSTRANSIENT, 1)
    taputil.ioctl_int(fd, taputil.TAPSTRANSIENT, 0)
    fbsd.close(fd)
    unit = fbsd.unit_of(name)
    assert taputil.iface_exists(name) and os.path.exists(fbsd.node(unit)), (
        f"TAPSTRANSIENT 1 then 0, close: expected {name} kept (FreeBSD), it is gone")


# --- refused and faulting ioctls -------------------------------------------


@pytest.mark.parametrize("cmd,arg", [(taputil.TUNSIFPID, 0),
                                     (taputil.TUNSIFHEAD, b"\1\0\0\0")],
                         ids=["TUNSIFPID", "TUNSIFHEAD"])
def test_tun_only_ioctls_enotty(daemon, cmd, arg):
    fd, name = daemon.clone()
    err = taputil.ioctl_errno(fd, cmd, arg)
    assert err == errno.ENOTTY, f"ioctl {cmd:#x} on a tap: expected ENOTTY, got {taputil.errname(err)}"


@pytest.mark.parametrize("addr", [None, 1], ids=["NULL", "addr-1"])
@pytest.mark.parametrize("cmd", [taputil.TAPGIFINFO, taputil.FREEBSD_TAPGIFNAME,
                                 taputil.NETBSD_TAPGIFNAME, taputil.TAPSIFINFO,
                                 taputil.BSD_FIONREAD, taputil.BSD_SIOCGIFADDR],
                         ids=["TAPGIFINFO", "TAPGIFNAME", "netbsd-TAPGIFNAME", "TAPSIFINFO",
                              "FIONREAD", "SIOCGIFADDR"])
def test_bad_argument_pointer_is_efault(daemon, cmd, addr):
    fd, name = daemon.clone()
    err = taputil.libc_ioctl(fd, cmd, addr)
    assert err == errno.EFAULT, (
        f"ioctl {cmd:#x} with argument {addr!r}: expected EFAULT, got {taputil.errname(err)}")
    assert daemon.alive(), f"daemon died on ioctl {cmd:#x}({addr!r}); log:\n{daemon.log()}"
    assert taputil.tapgifname(fd) == name, "fd unusable after a faulting ioctl"
    daemon.assert_healthy()


# --- --units ---------------------------------------------------------------


def test_units_created_at_start_freebsd(daemon_factory):
    d = daemon_factory(["--units", "3"])
    # The fixture returned once the pidfile was written: all must be there.
    for u in range(3):
        assert os.path.exists(d.node(u)), f"--units 3: expected {d.node(u)} at readiness"
        assert taputil.iface_exists(d.ifname(u)), (
            f"--units 3: expected interface {d.ifname(u)} at readiness")
    assert d.created_ifaces() == [d.ifname(u) for u in range(3)], (
        f"--units 3: expected exactly units 0..2, got {d.created_ifaces()}")

    fd = d.open(d.node(1))
    got = taputil.tapgifname(fd)
    assert got == d.ifname(1), f"open {d.node(1)}: TAPGIFNAME expected {d.ifname(1)}, got {got}"
    taputil.link_up(got)
    for i in range(3):
        taputil.host_send(got, make_frame(BROADCAST, SRC, new_marker(f"old{i}")))
    taputil.wait_readable(fd)
    d.close(fd)

    fd = d.open(d.node(1), os.O_RDWR | os.O_NONBLOCK)
    taputil.link_up(got)
    err = taputil.read_errno(fd)
    assert err == errno.EAGAIN, (
        f"reopen of {d.node(1)}: expected nothing queued from before (EAGAIN), "
        f"got {taputil.errname(err)}")
    # Units made at start are there to be opened by name: cloning makes new
    # ones, as FreeBSD's does, and hands out again only what it made itself.
    clones = [d.clone() for _ in range(2)]
    names = [name for _, name in clones]
    assert names == [d.ifname(3), d.ifname(4)], (
        f"clones with --units 3 (units 0 and 2 closed): expected new units 3, 4, got {names}")
    d.close(fd)
    d.close(clones[0][0])
    again = d.clone()[1]
    assert again == d.ifname(3), (
        f"clone after closing unit 1 and the clone of unit 3: expected {d.ifname(3)}, got {again}")


def test_units_netbsd_open_by_name_survives_close(daemon_factory):
    d = daemon_factory(["--abi", "netbsd", "--units", "2"])
    fd = d.open(d.node(0))
    got = taputil.tapgifname(fd, taputil.NETBSD_TAPGIFNAME)
    assert got == d.ifname(0), f"open {d.node(0)}: expected {d.ifname(0)}, got {got}"
    d.close(fd)
    assert taputil.iface_exists(d.ifname(0)) and os.path.exists(d.node(0)), (
        f"netbsd close of {d.node(0)} opened by name: expected the unit kept, it is gone")
    fd, name = d.clone(nbsd_name=True)
    assert name == d.ifname(2), f"netbsd clone with units 0, 1: expected {d.ifname(2)}, got {name}"
    d.close(fd)
    taputil.wait_gone(name, d.node(2))
    assert d.created_ifaces() == [d.ifname(0), d.ifname(1)], (
        f"after the clone closed: expected units 0 and 1 left, got {d.created_ifaces()}")


def test_units_above_limit_refused(cusetap_bin, tmp_path):
    name = "ctlimit"
    pidfile = tmp_path / "limit.pid"
    try:
        p = subprocess.run([cusetap_bin, "-f", "--devname", name, "--units", "40000",
                            "--pidfile", str(pidfile)],
                           capture_output=True, text=True, timeout=taputil.TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("--units 40000: expected a prompt refusal, daemon kept running")
    out = p.stdout + p.stderr
    assert p.returncode != 0, f"--units 40000: expected non-zero exit, got 0; output:\n{out}"
    assert re.search(r"error.*units", out), (
        f"--units 40000: expected an error naming --units, got:\n{out!r}")
    assert not pidfile.exists(), "--units 40000: expected no pidfile, one was written"
    made = [n for n in os.listdir("/dev") + os.listdir("/sys/class/net") if n.startswith(name)]
    assert made == [], f"--units 40000: expected nothing created, got {made}"


# --- --up-on-open ----------------------------------------------------------


@pytest.mark.parametrize("flavour", ["freebsd", "netbsd"])
def test_up_on_open(daemon_factory, flavour):
    d = daemon_factory(["--abi", flavour, "--up-on-open"])
    fd, name = d.clone()
    assert taputil.iface_is_up(name), (
        f"--up-on-open ({flavour}): expected {name} UP after open, flags "
        f"{taputil.link_flags(name)}")


# --- initial MAC addresses -------------------------------------------------


def test_initial_mac_netbsd(nbsd):
    macs = [taputil.iface_mac(nbsd.clone()[1]) for _ in range(2)]
    for mac in macs:
        assert mac[:3] == b"\xf2\x0b\xa4", (
            f"netbsd initial MAC: expected f2:0b:a4:xx:xx:xx, got {taputil.mac_text(mac)}")


def test_initial_mac_freebsd_stable(daemon_factory):
    d = daemon_factory([])
    names = [d.clone()[1] for _ in range(3)]
    macs = [taputil.iface_mac(n) for n in names]
    for name, mac in zip(names, macs):
        assert mac[0] & 3 == 2, (
            f"freebsd initial MAC of {name}: expected locally administered unicast "
            f"(first octet & 3 == 2), got {taputil.mac_text(mac)}")
    assert len(set(macs)) == 3, (
        f"freebsd initial MACs: expected distinct per unit, got {[taputil.mac_text(m) for m in macs]}")
    d.close_all()
    rc = d.stop()
    assert rc == 0, f"first daemon: expected exit 0 on SIGTERM, got {rc}"
    taputil.wait_for(lambda: not taputil.iface_exists(names[0]), 10,
                     what=f"{names[0]} removed by the first daemon")
    taputil.wait_for(lambda: not os.path.exists(d.clone_node), 10,
                     what=f"{d.clone_node} removed by the first daemon")
    again = daemon_factory([], devname=d.devname)
    name = again.clone()[1]
    assert name == names[0], f"second daemon: expected {names[0]}, got {name}"
    assert taputil.iface_mac(name) == macs[0], (
        f"freebsd MAC of {name} across two daemon runs: expected the same "
        f"{taputil.mac_text(macs[0])}, got {taputil.mac_text(taputil.iface_mac(name))}")


# --- the interface destroyed from the host ---------------------------------


def test_host_deletes_unit_under_blocked_reader(daemon, children):
    fd, name = daemon.clone()
    unit = daemon.unit_of(name)
    taputil.link_up(name)
    child = taputil.BlockedReader(fd)
    children.append(child)
    daemon.close(fd)
    child.wait_blocked()
    taputil.run("ip", "link", "del", "dev", name)
    res = child.result(taputil.TIMEOUT)
    assert res is not None and res.startswith("errno "), (
        f"reader blocked on {name} when the host deleted it: expected an error, got {res!r}")
    taputil.wait_for(lambda: not os.path.exists(daemon.node(unit)), 10,
                     what=f"{daemon.node(unit)} to disappear after ip link del")
    daemon.assert_healthy()


# --- vmnet -----------------------------------------------------------------


def _vmnet_closed_unit(d, pending=None):
    """Clone a vmnet unit, bring it up with 192.0.2.1/24, close it; return
    (name, unit) once the host had time to apply the close.

    With @pending (a marker), a frame carrying it is sent and left unread
    before the close. FreeBSD marks even a vmnet link down on close, but
    Linux stops transmitting on a link without carrier, which would break
    vmnet's promise to keep output: a closed vmnet unit keeps its carrier
    (operstate stays up), and the wait covers the kernel's linkwatch delay.
    """
    fd, name = d.clone()
    taputil.link_up(name)
    taputil.run("ip", "addr", "add", "192.0.2.1/24", "dev", name)
    taputil.wait_for(lambda: taputil.sysfs(name, "operstate") == "up", 10,
                     what=f"{name} operstate up while open")
    if pending:
        taputil.host_send(name, make_frame(BROADCAST, taputil.iface_mac(name), pending))
        taputil.wait_readable(fd)
    d.close(fd)
    time.sleep(1.5)  # linkwatch applies link changes up to a second later
    state = taputil.sysfs(name, "operstate")
    assert state == "up", f"vmnet close: expected {name} to keep its carrier, operstate {state!r}"
    return name, d.unit_of(name)


def test_vmnet_close_keeps_interface_up(daemon_factory):
    d = daemon_factory(["--vmnet"])
    name, unit = _vmnet_closed_unit(d)
    assert taputil.iface_is_up(name), f"vmnet close: expected {name} to stay UP"
    addrs = taputil.ip_addrs(name)
    assert "192.0.2.1" in addrs, f"vmnet close: expected 192.0.2.1 kept on {name}, got {addrs}"
    assert os.path.exists(d.node(unit)), f"vmnet close: expected {d.node(unit)} kept"


def test_vmnet_frames_sent_while_closed_are_kept(daemon_factory):
    """FreeBSD vmnet keeps output queued while nobody has the unit open."""
    d = daemon_factory(["--vmnet"])
    before = new_marker("before-close")
    name, unit = _vmnet_closed_unit(d, pending=before)
    mac = taputil.iface_mac(name)
    markers = [new_marker(f"closed{i}") for i in range(3)]
    for m in markers:
        taputil.host_send(name, make_frame(BROADCAST, mac, m))
    time.sleep(0.5)
    fd = d.open(d.node(unit))
    others = []
    for m in markers:
        try:
            taputil.read_frame(fd, m, timeout=5, others=others)
        except AssertionError as e:
            stats = taputil.run("ip", "-s", "-j", "link", "show", "dev", name).stdout
            raise AssertionError(
                f"vmnet: expected the frame {m!r} sent while {name} was closed to be "
                f"kept for the next opener, it was not ({e}); ip -s link: {stats}") from None
    stale = [f[:40] for f in others if taputil.has_marker(f, before)]
    assert not stale, f"vmnet reopen: expected frames queued before close drained, got {stale}"
