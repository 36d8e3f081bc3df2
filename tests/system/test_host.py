"""Host integration: per-user devices, several devices in one daemon, adoption
of the administrator's TAPs, cusetapctl, installation, systemd readiness,
least privilege and background mode.

Users and groups are numeric ids without passwd entries (the VM's root
filesystem is read-only): OWNER and OTHER are plain uids, GROUP a plain gid,
MEMBER a uid that is in GROUP only when a test says so.
"""

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

import taputil
from conftest import Daemon, unique_devname
from taputil import BROADCAST, make_frame, new_marker

OWNER = 4242
OTHER = 4343
GROUP = 4343
MEMBER = 5000
NOBODY = 65534
SRC = b"\x02\x00\x00\x00\x00\x0b"
CTL_DIR = "/run/cusetap"

# CAP_CHOWN | CAP_DAC_OVERRIDE | CAP_FOWNER | CAP_KILL | CAP_NET_ADMIN
KEPT_CAPS = "000000000000102b"
SECCOMP_MODE_FILTER = "2"

# "ip tuntap add" makes a node appear "within a second" (cusetap(8)); the
# bound leaves room for the emulated VM.
ADOPT_TIMEOUT = 2.0

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_NO_PI = 0x1000
IFF_PERSIST = 0x0800
PR_SET_CHILD_SUBREAPER = 36


# --- a child running as another user ---------------------------------------


class AsUser:
    """A forked child that drops to @uid/@gid/@groups and runs @body(self).

    Parent and child talk in JSON lines over two pipes (send/recv on both
    sides). An OSError in the child is reported as {"errno": n}, an
    AssertionError as {"error": text}; the child then exits.
    """

    def __init__(self, uid, gid, groups, body):
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()

        def child():
            os.close(p2c_w)
            os.close(c2p_r)
            self.rfd, self.wfd, self.buf = p2c_r, c2p_w, b""
            try:
                os.setgroups(groups)
                os.setgid(gid)
                os.setuid(uid)
                body(self)
            except OSError as e:
                self.send({"errno": e.errno, "error": str(e)})
            except AssertionError as e:
                self.send({"error": str(e)})

        pid = taputil.fork_child(child)
        os.close(p2c_r)
        os.close(c2p_w)
        self.pid, self.rfd, self.wfd, self.buf = pid, c2p_r, p2c_w, b""
        self.who = f"child uid {uid} gid {gid} groups {groups}"
        self.status = None

    def send(self, obj):
        os.write(self.wfd, json.dumps(obj).encode() + b"\n")

    def recv(self, timeout=taputil.TIMEOUT, what="a report"):
        """Return the next message; AssertionError if none within @timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not taputil.poll_events(self.rfd, select.POLLIN,
                                                    int(left * 1000)):
                raise AssertionError(f"{getattr(self, 'who', 'child')}: expected "
                                     f"{what} within {timeout}s, got none")
            chunk = os.read(self.rfd, 4096)
            if not chunk:
                raise AssertionError(f"{getattr(self, 'who', 'child')}: expected "
                                     f"{what}, it exited without one")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cleanup(self):
        if self.status is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                self.status = os.waitpid(self.pid, 0)[1]
        for fd in (self.rfd, self.wfd):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def users():
    """Return run(uid, gid, groups, body) -> AsUser; children are reaped at teardown."""
    kids = []

    def run(uid, gid, groups, body):
        kid = AsUser(uid, gid, groups, body)
        kids.append(kid)
        return kid

    yield run
    for k in kids:
        k.cleanup()


def _open_and_name(path):
    """Body for AsUser: open @path, report {"ifname": TAPGIFNAME}."""
    def body(me):
        fd = os.open(path, os.O_RDWR)
        me.send({"ifname": taputil.tapgifname(fd)})
        os.close(fd)
    return body


def open_as(users, uid, gid, groups, path):
    """Open @path as another user; return {"ifname": ...} or {"errno": ...}."""
    return users(uid, gid, groups, _open_and_name(path)).recv(what=f"the open of {path}")


def assert_opens(users, uid, gid, groups, path, why):
    res = open_as(users, uid, gid, groups, path)
    assert "ifname" in res, (
        f"{why}: expected uid {uid} gid {gid} groups {groups} to open {path}, got {res}")
    return res["ifname"]


def assert_refused(users, uid, gid, groups, path, why):
    res = open_as(users, uid, gid, groups, path)
    assert res.get("errno") == errno.EACCES, (
        f"{why}: expected uid {uid} gid {gid} groups {groups} refused on {path} "
        f"with EACCES, got {res}")


# --- nodes, interfaces, control ---------------------------------------------


def assert_node(path, uid, gid, mode, why):
    st = os.stat(path)
    got = (st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode)))
    want = (uid, gid, oct(mode))
    assert got == want, f"{why}: {path} expected (uid, gid, mode) {want}, got {got}"
    assert stat.S_ISCHR(st.st_mode), f"{why}: {path} expected a character device"


def tun_flags(ifname):
    return int(taputil.sysfs(ifname, "tun_flags"), 16)


@pytest.fixture
def ctl_bin(cusetap_bin):
    path = os.path.join(os.path.dirname(cusetap_bin), "cusetapctl")
    assert os.access(path, os.X_OK), f"expected cusetapctl next to the daemon at {path}"
    return path


def ctl(ctl_bin, devname, *args, user=None):
    """Run cusetapctl --devname @devname @args, as root or @user=(uid, gid, groups)."""
    kw = {}
    if user is not None:
        kw = dict(user=user[0], group=user[1], extra_groups=list(user[2]))
    return subprocess.run([ctl_bin, "--devname", devname, *args], capture_output=True,
                          text=True, timeout=taputil.TIMEOUT, **kw)


def ctl_json(ctl_bin, devname, *args, user=None):
    p = ctl(ctl_bin, devname, *args, "--json", user=user)
    assert p.returncode == 0, (
        f"cusetapctl {' '.join(args)} --json: expected exit 0, got {p.returncode}: "
        f"{p.stderr.strip()}")
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise AssertionError(f"cusetapctl {' '.join(args)} --json: expected JSON, "
                             f"got {p.stdout!r} ({e})")


def ctl_unit(ctl_bin, devname, unit):
    units = [u for u in ctl_json(ctl_bin, devname, "list")["units"] if u["unit"] == unit]
    assert len(units) == 1, f"cusetapctl list: expected one entry for unit {unit}, got {units}"
    return units[0]


def frames_cross(fd, ifname, tag):
    """One frame client -> host and one host -> client on @fd (interface up)."""
    marker = new_marker(f"{tag}-out")
    with taputil.Capture(ifname) as cap:
        n = os.write(fd, make_frame(BROADCAST, SRC, marker))
        assert n == 128, f"{tag}: client write expected 128 bytes, got {n}"
        cap.expect(marker)
    marker = new_marker(f"{tag}-in")
    taputil.host_send(ifname, make_frame(BROADCAST, SRC, marker))
    taputil.read_frame(fd, marker)


def assert_nothing_created(names, pidfile, why):
    for name in names:
        leftovers = [p for p in (f"/dev/{name}", f"{CTL_DIR}/{name}.sock")
                     if os.path.exists(p)]
        leftovers += [f"interface {name}{u}" for u in range(4)
                      if taputil.iface_exists(f"{name}{u}")]
        assert not leftovers, f"{why}: expected nothing created, got {leftovers}"
    assert not os.path.exists(pidfile), f"{why}: expected no pidfile, {pidfile} was written"


def refused_run(cmd, why):
    """Run a daemon command line that must be refused at once; return its output."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=taputil.TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{why}: expected a prompt refusal, the daemon kept running")
    out = p.stdout + p.stderr
    assert p.returncode != 0, f"{why}: expected a non-zero exit, got 0; output:\n{out}"
    return out


def two_devnames():
    a = unique_devname()
    b = unique_devname()
    while b == a:
        b = unique_devname()
    return a, b


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


# --- 1. per-user devices ----------------------------------------------------


@pytest.mark.parametrize("args, uid, gid, mode", [
    (["--owner", str(OWNER), "--mode", "0600"], OWNER, 0, 0o600),
    (["--owner", f"{OWNER}:{GROUP}"], OWNER, GROUP, 0o600),
    (["--group", str(GROUP), "--mode", "0660"], 0, GROUP, 0o660),
], ids=["owner", "owner-group", "group"])
def test_nodes_and_taps_belong_to_owner(daemon_factory, args, uid, gid, mode):
    d = daemon_factory(args + ["--units", "1"])
    why = " ".join(args)
    # The pidfile says every node is ready: their permissions are final.
    assert_node(d.clone_node, uid, gid, mode, f"{why}, cloning node at readiness")
    assert_node(d.node(0), uid, gid, mode, f"{why}, --units node at readiness")
    fd = d.open(d.node(0))
    # A clone's open returns once its node is ready: no waiting allowed.
    fd2 = d.open()
    name = taputil.tapgifname(fd2)
    assert_node(f"/dev/{name}", uid, gid, mode, f"{why}, cloned node as soon as open returned")
    for ifname in (d.ifname(0), name):
        want_owner = str(uid) if "--owner" in args else "-1"
        want_group = str(gid) if gid else "-1"
        got = (taputil.sysfs(ifname, "owner"), taputil.sysfs(ifname, "group"))
        assert got == (want_owner, want_group), (
            f"{why}: kernel TAP {ifname} expected owner/group {(want_owner, want_group)}, "
            f"got {got}")
    d.close(fd)
    d.close(fd2)


def test_owner_clones_and_moves_frames(daemon_factory, users, ctl_bin):
    d = daemon_factory(["--owner", str(OWNER), "--mode", "0600"])
    out_marker, in_marker = new_marker("own-out"), new_marker("own-in")

    def client(me):
        fd = os.open(d.clone_node, os.O_RDWR)
        me.send({"ifname": taputil.tapgifname(fd), "pid": os.getpid()})
        me.recv(what="the go")
        os.write(fd, make_frame(BROADCAST, SRC, out_marker))
        frame = taputil.read_frame(fd, in_marker)
        me.send({"read": len(frame)})
        me.recv(what="the end")

    kid = users(OWNER, OWNER, [], client)
    res = kid.recv(what="the clone's name")
    assert "ifname" in res, f"owner {OWNER}: expected to clone {d.clone_node}, got {res}"
    name = res["ifname"]
    d.unit_of(name)
    assert_node(f"/dev/{name}", OWNER, 0, 0o600, "node cloned by the owner")
    taputil.link_up(name)
    with taputil.Capture(name) as cap:
        kid.send("go")
        cap.expect(out_marker)
    taputil.host_send(name, make_frame(BROADCAST, SRC, in_marker))
    res = kid.recv(what="the frame the host sent")
    assert res == {"read": 128}, f"owner's read: expected {{'read': 128}}, got {res}"
    unit = ctl_unit(ctl_bin, d.devname, d.unit_of(name))
    got = (unit["open"], unit["pid"], unit["uid"])
    assert got == (True, kid.pid, OWNER), (
        f"cusetapctl while the owner holds {name}: expected (open, pid, uid) "
        f"{(True, kid.pid, OWNER)}, got {got}")
    kid.send("end")

    assert_refused(users, OTHER, OTHER, [], d.clone_node, "--owner 4242 --mode 0600")
    assert_refused(users, OTHER, OTHER, [], f"/dev/{name}", "--owner 4242 --mode 0600")


def test_daemon_refuses_when_node_mode_loosened(daemon_factory, users):
    d = daemon_factory(["--owner", str(OWNER), "--mode", "0600", "--units", "1"])
    for path in (d.clone_node, d.node(0)):
        os.chmod(path, 0o666)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o666, f"chmod 0666 {path}: expected mode 0o666, got {oct(mode)}"
        assert_refused(users, OTHER, OTHER, [], path,
                       "the daemon's own check after the node was chmod 0666")
    got = assert_opens(users, OWNER, OWNER, [], d.node(0), "owner after chmod 0666")
    assert got == d.ifname(0), f"owner opening {d.node(0)}: expected {d.ifname(0)}, got {got}"


def test_group_members_may_open(daemon_factory, users):
    d = daemon_factory(["--owner", f"{OWNER}:{GROUP}", "--mode", "0660"])
    assert_node(d.clone_node, OWNER, GROUP, 0o660, "--owner 4242:4343 --mode 0660")
    name = assert_opens(users, MEMBER, GROUP, [], d.clone_node, "primary group 4343")
    d.unit_of(name)
    name = assert_opens(users, MEMBER, MEMBER, [GROUP], d.clone_node,
                        "supplementary group 4343")
    assert_node(f"/dev/{name}", OWNER, GROUP, 0o660, "node cloned by a group member")
    assert_refused(users, MEMBER, MEMBER, [], d.clone_node, "not in group 4343")
    os.chmod(d.clone_node, 0o666)
    assert_refused(users, MEMBER + 1, MEMBER + 1, [], d.clone_node,
                   "not in group 4343, node chmod 0666 (the daemon's own check)")


# --- 2. several devices in one daemon ---------------------------------------


def test_several_devices_in_one_daemon(daemon_factory, ctl_bin):
    a, b = two_devnames()
    d = daemon_factory(["--device", f"{a}:abi=netbsd",
                        "--device", f"{b}:abi=freebsd,units=2"], devname=a)
    try:
        for path in (f"/dev/{a}", f"/dev/{b}", f"/dev/{b}0", f"/dev/{b}1"):
            assert os.path.exists(path), f"expected {path} at readiness, it is missing"
        got = sorted(n for n in os.listdir("/sys/class/net") if re.match(f"({a}|{b})\\d+$", n))
        assert got == [f"{b}0", f"{b}1"], (
            f"units=2 on {b} only: expected interfaces {[f'{b}0', f'{b}1']}, got {got}")

        # NetBSD rules on a: read while down is EHOSTDOWN, a write is accepted.
        fd, name = d.clone(nbsd_name=True)
        assert name == f"{a}0", f"first clone of /dev/{a}: expected {a}0, got {name}"
        err = taputil.read_errno(fd)
        assert err == errno.EHOSTDOWN, (
            f"{a} (netbsd) read while down: expected EHOSTDOWN, got {taputil.errname(err)}")
        n = os.write(fd, make_frame(BROADCAST, SRC, new_marker("nb")))
        assert n == 128, f"{a} (netbsd) write while down: expected 128, got {n}"

        # FreeBSD rules on b: the clone is a new unit (0 and 1 are left for
        # whoever opens them by name), reads block.
        fd = d.open(f"/dev/{b}", os.O_RDWR | os.O_NONBLOCK)
        name = taputil.tapgifname(fd)
        assert name == f"{b}2", f"clone of /dev/{b} with units=2: expected a new {b}2, got {name}"
        err = taputil.read_errno(fd)
        assert err == errno.EAGAIN, (
            f"{b} (freebsd) non-blocking read while down: expected EAGAIN, "
            f"got {taputil.errname(err)}")
        n = os.write(fd, make_frame(BROADCAST, SRC, new_marker("fb")))
        assert n == 0, f"{b} (freebsd) write while down: expected 0, got {n}"

        abis = (ctl_json(ctl_bin, a, "list")["abi"], ctl_json(ctl_bin, b, "list")["abi"])
        assert abis == ("netbsd", "freebsd"), (
            f"cusetapctl abi of {a}, {b}: expected ('netbsd', 'freebsd'), got {abis}")

        d.close_all()
        rc = d.stop()
        assert rc == 0, f"SIGTERM: expected exit 0, got {rc}; log:\n{d.log()}"
        for name in (a, b):
            left = [p for p in os.listdir("/dev") if re.match(f"{name}\\d*$", p)]
            left += [n for n in os.listdir("/sys/class/net") if re.match(f"{name}\\d+$", n)]
            assert not left, f"after exit: expected nothing of {name} left, got {left}"
    finally:
        for n in os.listdir("/sys/class/net"):
            if re.match(f"{b}\\d+$", n):
                taputil.run("ip", "link", "del", "dev", n, check=False)


@pytest.mark.parametrize("specs, message", [
    (["{a}:foo=1"], "foo"),
    (["{a}:abi=netbsd", "{a}"], "twice"),
    (["{a}:units=many"], "units"),
    (["{a}", "../{b}"], "not usable"),
    (["{a}:abi=netbsd,vmnet"], "vmnet"),
], ids=["unknown-key", "duplicate", "bad-units", "bad-name", "netbsd-vmnet"])
def test_bad_device_spec_refused(cusetap_bin, tmp_path, specs, message):
    a, b = two_devnames()
    pidfile = str(tmp_path / "bad.pid")
    cmd = [cusetap_bin, "-f", "--pidfile", pidfile]
    for spec in specs:
        cmd += ["--device", spec.format(a=a, b=b)]
    why = " ".join(cmd[4:])
    out = refused_run(cmd, why)
    assert re.search(r"error", out, re.I) and message in out, (
        f"{why}: expected an error message naming {message!r}, got:\n{out}")
    assert_nothing_created([a, b], pidfile, why)


def test_devname_with_device_refused(cusetap_bin, tmp_path):
    """--devname names the only device: beside --device it would be
    ignored, so it is refused."""
    a, b = two_devnames()
    pidfile = str(tmp_path / "bad.pid")
    cmd = [cusetap_bin, "-f", "--pidfile", pidfile, "--devname", a, "--device", b]
    why = " ".join(cmd[4:])
    out = refused_run(cmd, why)
    assert "--devname" in out and "--device" in out, (
        f"{why}: expected an error naming --devname and --device, got:\n{out}")
    assert_nothing_created([a, b], pidfile, why)


# --- 3. adoption ------------------------------------------------------------


@contextlib.contextmanager
def host_tap(ifname, mode="tap"):
    """`ip tuntap add dev IFNAME mode MODE` for the body; deleted afterwards."""
    taputil.run("ip", "tuntap", "add", "dev", ifname, "mode", mode)
    try:
        yield ifname
    finally:
        if taputil.iface_exists(ifname):
            taputil.run("ip", "link", "del", "dev", ifname, check=False)


@contextlib.contextmanager
def transient_tap(ifname):
    """A non-persistent TAP, alive while our fd is open."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        ifr = struct.pack("16sH22x", ifname.encode(), taputil.IFF_TAP | IFF_NO_PI)
        fcntl.ioctl(fd, TUNSETIFF, ifr)
        assert not tun_flags(ifname) & IFF_PERSIST, f"{ifname}: expected not persistent"
        yield ifname
    finally:
        os.close(fd)


@contextlib.contextmanager
def renamed_tap(ifname):
    """A persistent TAP made under a temporary name, then renamed to @ifname.

    Its link notification under @ifname comes after it is persistent, so
    its adoption does not depend on how fast the daemon reads tun_flags.
    """
    tmp = "zz" + os.urandom(4).hex()
    taputil.run("ip", "tuntap", "add", "dev", tmp, "mode", "tap")
    try:
        taputil.run("ip", "link", "set", "dev", tmp, "name", ifname)
        yield ifname
    finally:
        for name in (tmp, ifname):
            if taputil.iface_exists(name):
                taputil.run("ip", "link", "del", "dev", name, check=False)


def wait_node(path, what):
    taputil.wait_for(lambda: os.path.exists(path), ADOPT_TIMEOUT, what=what)


def open_adopted(d, path):
    """Open the node of an adopted unit. The kernel's CUSE makes the node
    (device_add) a moment before the device behind it (cdev_add), so an
    open racing the node's appearance can see ENXIO once; anything else,
    or ENXIO for longer than a second, is a failure."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            return d.open(path)
        except OSError as e:
            if e.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def open_adopted_unit(d, unit, ifname, how):
    """Wait for the node of adopted unit @unit, open it, check TAPGIFNAME."""
    wait_node(d.node(unit), f"{d.node(unit)} {how}")
    fd = open_adopted(d, d.node(unit))
    got = taputil.tapgifname(fd)
    assert got == ifname, f"open {d.node(unit)}: TAPGIFNAME expected {ifname}, got {got}"
    return fd


def test_adopt_tap_created_while_running(daemon_factory, children):
    d = daemon_factory([])
    with host_tap(d.ifname(5)) as ifname:
        fd = open_adopted_unit(d, 5, ifname, f"after 'ip tuntap add dev {ifname}'")
        taputil.link_up(ifname)
        frames_cross(fd, ifname, "adopted")

        reader = taputil.BlockedReader(fd)
        children.append(reader)
        d.close(fd)
        reader.wait_blocked()
        taputil.run("ip", "link", "del", "dev", ifname)
        taputil.wait_for(lambda: not os.path.exists(d.node(5)), 10,
                         what=f"{d.node(5)} to go after 'ip link del {ifname}'")
        res = reader.result(10)
        assert res is not None and res.startswith("errno "), (
            f"reader blocked on {d.node(5)} when {ifname} was deleted: expected to "
            f"wake with an error, got {res!r}")
    d.assert_healthy()


def test_adopt_among_many_links(daemon_factory):
    """A host with many interfaces (here 40 veth pairs, more links than the
    64 names the scan once kept) still has its new persistent TAP adopted."""
    d = daemon_factory([])
    prefix = f"{d.devname}v"
    batch = "".join(f"link add {prefix}{i} type veth peer name {prefix}p{i}\n"
                    for i in range(40))
    subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True,
                   capture_output=True, timeout=60)
    try:
        with host_tap(d.ifname(3)) as ifname:
            fd = open_adopted_unit(d, 3, ifname, f"after 'ip tuntap add dev {ifname}' "
                                                 f"beside 80 other links")
            d.close(fd)
    finally:
        batch = "".join(f"link del {prefix}{i}\n" for i in range(40))
        subprocess.run(["ip", "-force", "-batch", "-"], input=batch, text=True,
                       capture_output=True, timeout=60)
    d.assert_healthy()


def test_tap_made_for_a_user_is_theirs(daemon_factory):
    """A persistent TAP made for a user (`ip tuntap add ... user U`) is not
    adopted by a daemon whose nodes belong to someone else: whoever may open
    those nodes would get U's traffic, and U would be locked out of the TAP.
    It is adopted when the nodes belong to U too."""
    d = daemon_factory([])
    ifname = d.ifname(6)
    taputil.run("ip", "tuntap", "add", "dev", ifname, "mode", "tap", "user", str(OWNER))
    try:
        time.sleep(2.5)  # longer than the daemon's look-again window
        assert not os.path.exists(d.node(6)), (
            f"{ifname} made for uid {OWNER}, nodes root's: expected it not adopted, "
            f"but {d.node(6)} exists")
    finally:
        taputil.run("ip", "link", "del", "dev", ifname, check=False)
    d.assert_healthy()

    o = daemon_factory(["--owner", str(OWNER)])
    ifname = o.ifname(6)
    taputil.run("ip", "tuntap", "add", "dev", ifname, "mode", "tap", "user", str(OWNER))
    try:
        fd = open_adopted_unit(o, 6, ifname, f"{ifname} made for uid {OWNER}, nodes {OWNER}'s")
        o.close(fd)
    finally:
        taputil.run("ip", "link", "del", "dev", ifname, check=False)
    o.assert_healthy()


def test_adopt_netbsd_unit_65537(daemon_factory):
    """NetBSD's t_tap makes tap65537: NetBSD units are not capped at FreeBSD's
    IF_MAXUNIT (32767), so with NetBSD rules such a unit is adopted, and with
    FreeBSD rules it is not."""
    d = daemon_factory(["--abi", "netbsd"])
    with host_tap(d.ifname(65537)) as ifname:
        fd = open_adopted_unit(d, 65537, ifname,
                               f"(netbsd) after 'ip tuntap add dev {ifname}'")
        d.close(fd)
    f = daemon_factory(["--abi", "freebsd"])
    with host_tap(f.ifname(65537)) as ifname:
        time.sleep(2.5)  # longer than the daemon's look-again window
        assert not os.path.exists(f.node(65537)), (
            f"freebsd: expected {ifname} (unit above IF_MAXUNIT) not adopted, "
            f"but {f.node(65537)} exists")
    d.assert_healthy()
    f.assert_healthy()


def test_adopt_tap_made_persistent_after_creation(daemon_factory):
    """TUNSETIFF announces the link, TUNSETPERSIST follows: "ip tuntap add"
    does the two back to back, a slower tool (or a busy host) leaves a gap.
    Either way the result is a persistent TAP, which must be adopted."""
    d = daemon_factory([])
    ifname = d.ifname(4)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", ifname.encode(),
                                               taputil.IFF_TAP | IFF_NO_PI))
        time.sleep(0.2)
        fcntl.ioctl(fd, TUNSETPERSIST, 1)
        os.close(fd)
        fd = None
        wait_node(d.node(4), f"{d.node(4)} of {ifname}, made persistent 0.2s after "
                             f"its creation (tun_flags {taputil.sysfs(ifname, 'tun_flags')})")
    finally:
        if fd is not None:
            os.close(fd)
        if taputil.iface_exists(ifname):
            taputil.run("ip", "link", "del", "dev", ifname, check=False)


def test_adopted_tap_survives_daemon_exit(daemon_factory):
    d = daemon_factory([])
    with renamed_tap(d.ifname(5)) as ifname:
        wait_node(d.node(5), f"{d.node(5)} after a persistent TAP was renamed {ifname}")
        d.open(d.node(5))
        d.close_all()
        rc = d.stop()
        assert rc == 0, f"SIGTERM: expected exit 0, got {rc}; log:\n{d.log()}"
        taputil.wait_for(lambda: not os.path.exists(d.node(5)), 10,
                         what=f"{d.node(5)} to be removed on exit")
        p = taputil.run("ip", "link", "show", "dev", ifname, check=False)
        assert p.returncode == 0, (
            f"adopted {ifname} after the daemon exited: expected it kept (the "
            f"administrator's), 'ip link show' says: {p.stderr.strip()}")
        assert tun_flags(ifname) & IFF_PERSIST, f"{ifname}: expected still persistent"


def test_adopt_tap_existing_at_start(daemon_factory, ctl_bin):
    name = unique_devname()
    with host_tap(f"{name}3") as ifname:
        d = daemon_factory([], devname=name)
        wait_node(d.node(3), f"{d.node(3)} of {ifname}, made before the daemon started")
        fd = d.open(d.node(3))
        got = taputil.tapgifname(fd)
        assert got == ifname, f"open {d.node(3)}: TAPGIFNAME expected {ifname}, got {got}"
        unit = ctl_unit(ctl_bin, name, 3)
        assert unit["adopted"] is True, f"cusetapctl unit 3: expected adopted true, got {unit}"
        taputil.link_up(ifname)
        frames_cross(fd, ifname, "adopted-at-start")
        d.close(fd)


def test_tun_and_transient_tap_not_adopted(daemon_factory):
    d = daemon_factory([])
    with host_tap(d.ifname(6), "tun"), transient_tap(d.ifname(7)):
        # Events are handled in order: once 8 is adopted, 6 and 7 were seen.
        with renamed_tap(d.ifname(8)):
            wait_node(d.node(8), f"{d.node(8)}, a persistent TAP added after 6 and 7")
            time.sleep(0.5)
            for unit, what in ((6, "a TUN"), (7, "a non-persistent TAP")):
                assert not os.path.exists(d.node(unit)), (
                    f"{d.ifname(unit)} is {what}: expected no {d.node(unit)}, it exists")
    d.assert_healthy()


# --- 4. cusetapctl ----------------------------------------------------------


def test_ctl_list_text(daemon_factory, ctl_bin):
    d = daemon_factory(["--units", "2"])
    st = os.stat(f"{CTL_DIR}/{d.devname}.sock")
    got = (stat.S_ISSOCK(st.st_mode), oct(stat.S_IMODE(st.st_mode)))
    assert got == (True, "0o660"), (
        f"{CTL_DIR}/{d.devname}.sock: expected (socket, 0o660), got {got}")
    fd = d.open(d.node(0))
    p = ctl(ctl_bin, d.devname, "list")
    assert p.returncode == 0, f"cusetapctl list: expected exit 0, got {p.returncode}: {p.stderr}"
    lines = p.stdout.splitlines()
    assert len(lines) == 3, f"cusetapctl list, 2 units: expected a header and 2 rows, got {lines}"
    header = lines[0].split()
    for col in ("INTERFACE", "MAC", "MTU", "OPEN", "PID"):
        assert col in header, f"cusetapctl list header: expected a {col} column, got {header}"
    for unit, line in enumerate(lines[1:]):
        row = dict(zip(header, line.split()))
        ifname = d.ifname(unit)
        want = {"INTERFACE": ifname, "MAC": taputil.sysfs(ifname, "address"),
                "MTU": taputil.sysfs(ifname, "mtu"),
                "OPEN": "open" if unit == 0 else "-",
                "PID": str(os.getpid()) if unit == 0 else "0"}
        got = {k: row.get(k) for k in want}
        assert got == want, f"cusetapctl list, row of unit {unit}: expected {want}, got {got}"
    d.close(fd)


def test_ctl_json_and_counters(daemon_factory, ctl_bin):
    d = daemon_factory([])
    fd, name = d.clone()
    unit = d.unit_of(name)
    out = ctl_json(ctl_bin, d.devname, "list")
    assert (out.get("device"), out.get("abi")) == (d.clone_node, "freebsd"), (
        f"cusetapctl list --json: expected device {d.clone_node}, abi freebsd, got {out}")
    assert [u.get("unit") for u in out["units"]] == [unit], (
        f"cusetapctl list --json: expected units [{unit}], got {out['units']}")
    u = out["units"][0]
    want = {"interface": name, "mac": taputil.sysfs(name, "address"),
            "mtu": int(taputil.sysfs(name, "mtu")), "open": True, "pid": os.getpid(),
            "uid": 0}
    got = {k: u.get(k) for k in want}
    assert got == want, f"cusetapctl unit {unit}: expected {want}, got {got}"
    types = {k: type(u.get(k)).__name__ for k in ("open", "pid", "uid", "queue", "rx",
                                                  "rx_drop", "tx", "tx_drop")}
    want_types = dict(open="bool", pid="int", uid="int", queue="int", rx="int",
                      rx_drop="int", tx="int", tx_drop="int")
    assert types == want_types, f"cusetapctl unit field types: expected {want_types}, got {types}"

    taputil.link_up(name)
    before = ctl_unit(ctl_bin, d.devname, unit)
    marker = new_marker("ctl-tx")
    with taputil.Capture(name) as cap:
        os.write(fd, make_frame(BROADCAST, SRC, marker))
        cap.expect(marker)
    marker = new_marker("ctl-rx")
    taputil.host_send(name, make_frame(BROADCAST, SRC, marker))
    taputil.read_frame(fd, marker)
    after = ctl_unit(ctl_bin, d.devname, unit)
    moved = {k: after[k] - before[k] for k in ("tx", "rx")}
    assert moved["tx"] >= 1 and moved["rx"] >= 1, (
        f"cusetapctl counters after one frame each way: expected tx and rx up by "
        f">= 1, got {moved} (before {before}, after {after})")

    shown = ctl_json(ctl_bin, d.devname, "show", str(unit))
    got = [(x.get("unit"), x.get("interface")) for x in shown.get("units", [])]
    assert got == [(unit, name)], f"cusetapctl show {unit} --json: expected {[(unit, name)]}, got {got}"

    d.close(fd)
    after = ctl_unit(ctl_bin, d.devname, unit)
    assert (after["open"], after["pid"]) == (False, 0), (
        f"cusetapctl after close: expected open false, pid 0, got {after}")


def test_ctl_unknown_unit(daemon_factory, ctl_bin):
    d = daemon_factory(["--units", "1"])
    for args in (["show", "99"], ["show", "99", "--json"], ["show", "x"]):
        p = ctl(ctl_bin, d.devname, *args)
        assert p.returncode == 1, (
            f"cusetapctl {' '.join(args)}: expected exit 1, got {p.returncode}; "
            f"output {p.stdout!r} {p.stderr!r}")
    p = ctl(ctl_bin, unique_devname(), "list")
    assert p.returncode == 1, f"cusetapctl for a device nobody serves: expected exit 1, got {p.returncode}"


def test_ctl_slow_client_holds_nothing(daemon_factory, ctl_bin):
    """A control client that connects and never sends must not hold the
    daemon: clones and other control clients are served meanwhile, and the
    silent connection is closed after its timeout (about a second)."""
    import socket
    d = daemon_factory([])
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(f"{CTL_DIR}/{d.devname}.sock")
    try:
        start = time.monotonic()
        fd, name = d.clone()
        p = ctl(ctl_bin, d.devname, "list", "--json")
        took = time.monotonic() - start
        assert p.returncode == 0, f"cusetapctl beside a silent client: expected 0, got {p.returncode}"
        units = [u["interface"] for u in json.loads(p.stdout)["units"]]
        assert name in units, f"cusetapctl list: expected {name}, got {units}"
        assert took < 5, f"clone + list beside a silent client took {took:.1f}s, expected no wait"
        silent.settimeout(10)
        got = silent.recv(16)
        assert got == b"", f"silent control client: expected to be closed, got {got!r}"
    finally:
        silent.close()
    d.assert_healthy()


def test_ctl_answers_root_and_owner_only(daemon_factory, ctl_bin):
    d = daemon_factory(["--owner", f"{OWNER}:{GROUP}", "--mode", "0660"])
    sock = f"{CTL_DIR}/{d.devname}.sock"
    st = os.stat(sock)
    got = (st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode)))
    assert got == (OWNER, GROUP, "0o660"), f"{sock}: expected (4242, 4343, 0o660), got {got}"
    out = ctl_json(ctl_bin, d.devname, "list", user=(OWNER, OWNER, []))
    assert out.get("device") == d.clone_node, f"cusetapctl as the owner: expected an answer, got {out}"
    p = ctl(ctl_bin, d.devname, "list", user=(MEMBER + 1, MEMBER + 1, []))
    assert p.returncode == 1 and not p.stdout, (
        f"cusetapctl as uid {MEMBER + 1}: expected exit 1 and no answer, got "
        f"{p.returncode} {p.stdout!r}")
    # In the socket's group, so the kernel lets it connect: the daemon refuses.
    p = ctl(ctl_bin, d.devname, "list", user=(MEMBER, GROUP, []))
    assert p.returncode == 1 and not p.stdout, (
        f"cusetapctl as group member uid {MEMBER}: expected the daemon to refuse "
        f"(exit 1, no answer), got {p.returncode} {p.stdout!r}")
    os.chmod(sock, 0o666)
    p = ctl(ctl_bin, d.devname, "list", user=(OTHER + 1, OTHER + 1, []))
    assert p.returncode == 1 and not p.stdout, (
        f"cusetapctl as uid {OTHER + 1} with the socket chmod 0666: expected the "
        f"daemon to refuse (exit 1, no answer), got {p.returncode} {p.stdout!r}")


# --- 5. meson install -------------------------------------------------------


INSTALLED = [r"sbin/cusetap", r"sbin/cusetapctl", r"include/cusetap/net/if_tap\.h",
             r"include/cusetap/net/if_tun\.h", r"include/cusetap/net/bsd_ioccom\.h",
             r"lib/(.+/)?pkgconfig/cusetap\.pc", r"lib/systemd/system/cusetap@\.service",
             r"share/man/man8/cusetap\.8", r"share/man/man8/cusetapctl\.8"]


def test_meson_install(cusetap_bin, tmp_path):
    # meson install writes its log into the build directory, read-only in
    # the VM: install from a copy (the install plan is the same).
    build = tmp_path / "build"
    shutil.copytree(os.path.dirname(os.path.dirname(cusetap_bin)), build, symlinks=True)
    dest = tmp_path / "dest"
    p = subprocess.run(["meson", "install", "-C", str(build), "--no-rebuild", "--quiet",
                        "--destdir", str(dest)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"meson install: expected exit 0, got {p.returncode}:\n{p.stdout}{p.stderr}"
    files = sorted(str(f.relative_to(dest)) for f in dest.rglob("*") if f.is_file())
    for pattern in INSTALLED:
        assert any(re.fullmatch(r".*/" + pattern, f) for f in files), (
            f"meson install: expected a file matching .../{pattern}, installed: {files}")
    path = {pat: next(dest / f for f in files if re.fullmatch(r".*/" + pat, f))
            for pat in INSTALLED}
    for exe in ("sbin/cusetap", "sbin/cusetapctl"):
        assert os.access(path[exe], os.X_OK), f"installed {exe}: expected executable"
    p = subprocess.run([str(path["sbin/cusetap"]), "--version"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.startswith("cusetap "), (
        f"installed cusetap --version: expected 'cusetap VERSION', got {p.returncode} {p.stdout!r}")

    unit = path[r"lib/systemd/system/cusetap@\.service"].read_text()
    assert re.search(r"^Type=notify$", unit, re.M), f"cusetap@.service: expected Type=notify in:\n{unit}"
    m = re.search(r"^ExecStart=(\S+)", unit, re.M)
    sbin = "/" + str(path["sbin/cusetap"].relative_to(dest))
    assert m and m.group(1) == sbin, (
        f"cusetap@.service: expected ExecStart={sbin} (the installed daemon), "
        f"got {m.group(0) if m else None}")

    # The headers work through the installed pkg-config file.
    env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=str(dest),
               PKG_CONFIG_LIBDIR=str(path[r"lib/(.+/)?pkgconfig/cusetap\.pc"].parent))
    p = subprocess.run(["pkg-config", "--cflags", "cusetap"], capture_output=True, text=True,
                       env=env, timeout=30)
    assert p.returncode == 0, f"pkg-config --cflags cusetap: expected exit 0: {p.stderr}"
    src = tmp_path / "use.c"
    src.write_text("#include <stdio.h>\n#include <net/if.h>\n#include <sys/ioctl.h>\n"
                   "#include <net/if_tap.h>\n\nint main(void)\n{\n"
                   "\tprintf(\"%#lx\\n\", (unsigned long)TAPGIFNAME);\n\treturn 0;\n}\n")
    exe = tmp_path / "use"
    c = subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Werror", *p.stdout.split(), "-o",
                        str(exe), str(src)], capture_output=True, text=True, timeout=120)
    assert c.returncode == 0, f"compiling against the installed headers ({p.stdout.strip()}):\n{c.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30).stdout.strip()
    assert out == hex(taputil.FREEBSD_TAPGIFNAME), (
        f"TAPGIFNAME from the installed header: expected {hex(taputil.FREEBSD_TAPGIFNAME)}, got {out}")


# --- 6. readiness through NOTIFY_SOCKET -------------------------------------


class NotifiedDaemon(Daemon):
    """A Daemon started with extra environment, without waiting for it."""

    def spawn(self, env):
        with open(self.logpath, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, **env))
        return self


@pytest.fixture
def spawned(cusetap_bin, tmp_path):
    """Return spawn(env, args=()) -> NotifiedDaemon; checked like daemon_factory's."""
    daemons = []

    def spawn(env, args=()):
        d = NotifiedDaemon(cusetap_bin, str(tmp_path), None, args)
        daemons.append(d)
        return d.spawn(env)

    yield spawn
    problems = []
    for d in daemons:
        d.close_all()
        rc = d.stop()
        if rc != 0:
            problems.append(f"daemon {d.devname} exited with status {rc}, expected 0")
        if d.error_lines():
            problems.append(f"daemon {d.devname} logged errors: {d.error_lines()}")
        for ifname in d.created_ifaces():
            taputil.run("ip", "link", "del", "dev", ifname, check=False)
        if problems:
            problems.append(f"log of {d.devname}:\n{d.log()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def recv_state(sock, d, want, timeout=taputil.TIMEOUT):
    """Receive notifications until one holds @want; return all received."""
    got = []
    deadline = time.monotonic() + timeout
    while want not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"NOTIFY_SOCKET: expected {want} within {timeout}s, got "
                                 f"{got}; daemon log:\n{d.log()}")
        r, _, _ = select.select([sock], [], [], min(left, 0.2))
        if r:
            got += sock.recv(4096).decode().split("\n")
        elif want == "READY=1" and not d.alive():
            raise AssertionError(f"daemon exited with {d.proc.returncode} before READY=1; "
                                 f"log:\n{d.log()}")
    return got


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_notify_socket(spawned, tmp_path, kind):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with sock:
        if kind == "path":
            addr = str(tmp_path / "notify.sock")
            sock.bind(addr)
        else:
            addr = "@cusetap-test-" + os.urandom(6).hex()
            sock.bind("\0" + addr[1:])
        d = spawned({"NOTIFY_SOCKET": addr})
        recv_state(sock, d, "READY=1")
        text = d._read_pidfile()
        assert text.strip() == str(d.proc.pid), (
            f"at READY=1: expected the pidfile to hold {d.proc.pid}, got {text!r}")
        assert os.path.exists(d.clone_node), f"at READY=1: expected {d.clone_node} to exist"
        d.signal(signal.SIGTERM)
        recv_state(sock, d, "STOPPING=1")
        rc = d.wait()
        assert rc == 0, f"SIGTERM: expected exit 0, got {rc}; log:\n{d.log()}"


# --- 7. least privilege -----------------------------------------------------


def wait_privileges_dropped(d):
    """Wait (bounded) until seccomp is on: test_privileges_dropped_at_readiness
    is the one to check that it happens before readiness."""
    taputil.wait_for(lambda: proc_status(d.proc.pid).get("Seccomp") == SECCOMP_MODE_FILTER,
                     5, what=f"daemon {d.proc.pid} to install its seccomp filter")


def assert_least_privilege(d, uid, when="after readiness"):
    st = proc_status(d.proc.pid)
    got = {k: st.get(k, "").split() for k in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs",
                                              "Seccomp", "Uid")}
    want = {"CapEff": [KEPT_CAPS], "CapPrm": [KEPT_CAPS], "CapBnd": [KEPT_CAPS],
            "NoNewPrivs": ["1"], "Seccomp": [SECCOMP_MODE_FILTER], "Uid": [str(uid)] * 4}
    assert got == want, f"/proc/{d.proc.pid}/status {when}: expected {want}, got {got}"


def test_least_privilege(daemon_factory):
    d = daemon_factory([])
    wait_privileges_dropped(d)
    assert_least_privilege(d, 0)
    d.assert_healthy()


def test_privileges_dropped_at_readiness(spawned, tmp_path):
    """READY=1 (and the pidfile, and the waiting parent) tell the world the
    daemon is in service: by then it must hold only what it keeps. A race
    shows only sometimes, so look several times, as soon as READY=1 arrives
    (the status file is opened beforehand and read right after recv)."""
    for i in range(5):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            addr = str(tmp_path / f"notify{i}.sock")
            sock.bind(addr)
            d = spawned({"NOTIFY_SOCKET": addr})
            sock.settimeout(taputil.TIMEOUT)
            with open(f"/proc/{d.proc.pid}/status") as f:
                try:
                    msg = sock.recv(4096)
                except socket.timeout:
                    msg = b""
                text = f.read()
            assert msg.split(b"\n")[0] == b"READY=1", (
                f"round {i}: expected READY=1 first, got {msg!r}; log:\n{d.log()}")
            st = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
            got = {k: st.get(k, "").strip() for k in ("CapEff", "CapPrm", "NoNewPrivs", "Seccomp")}
            want = {"CapEff": KEPT_CAPS, "CapPrm": KEPT_CAPS, "NoNewPrivs": "1",
                    "Seccomp": SECCOMP_MODE_FILTER}
            assert got == want, (
                f"round {i}: /proc/{d.proc.pid}/status at READY=1: expected {want}, got {got}")
            rc = d.stop()
            assert rc == 0, f"round {i}: SIGTERM: expected exit 0, got {rc}"


def test_runas_nobody(daemon_factory, users):
    d = daemon_factory(["--runas", "nobody", "--owner", str(OWNER)])
    wait_privileges_dropped(d)
    assert_least_privilege(d, NOBODY)
    fd, name = d.clone()
    assert_node(f"/dev/{name}", OWNER, 0, 0o600, "node cloned under --runas nobody")
    assert taputil.sysfs(name, "owner") == str(OWNER), (
        f"kernel TAP {name} under --runas nobody: expected owner {OWNER}, "
        f"got {taputil.sysfs(name, 'owner')}")
    taputil.link_up(name)
    frames_cross(fd, name, "runas")
    other = assert_opens(users, OWNER, OWNER, [], d.clone_node, "owner under --runas nobody")
    d.unit_of(other)
    d.close_all()
    rc = d.stop()
    assert rc == 0, f"SIGTERM under --runas nobody: expected exit 0, got {rc}; log:\n{d.log()}"
    assert d.created_ifaces() == [] and d.created_nodes() == [], (
        f"after exit under --runas nobody: expected nothing left, got "
        f"{d.created_ifaces()} {d.created_nodes()}")
    assert not os.path.exists(f"{CTL_DIR}/{d.devname}.sock"), "control socket left behind"


def test_runas_unknown_user_refused(cusetap_bin, tmp_path):
    name = unique_devname()
    pidfile = str(tmp_path / "runas.pid")
    why = "--runas nosuchuser"
    out = refused_run([cusetap_bin, "-f", "--devname", name, "--pidfile", pidfile,
                       "--runas", "nosuchuser"], why)
    assert "nosuchuser" in out, f"{why}: expected a message naming the user, got:\n{out}"
    assert_nothing_created([name], pidfile, why)


# --- 8. background mode -----------------------------------------------------


@contextlib.contextmanager
def subreaper():
    """Orphans of our children become ours, so a daemonised cusetap can be reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "PR_SET_CHILD_SUBREAPER"
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def reap(pid, timeout):
    """Wait for @pid (our child) to exit; return its exit status or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def test_background_mode(cusetap_bin, tmp_path):
    name = unique_devname()
    pidfile = tmp_path / "bg.pid"
    pid = None
    with subreaper():
        try:
            p = subprocess.run([cusetap_bin, "--devname", name, "--pidfile", str(pidfile)],
                               capture_output=True, text=True, timeout=taputil.TIMEOUT)
            node_at_return = os.path.exists(f"/dev/{name}")
            text = pidfile.read_text() if pidfile.exists() else ""
            pid = int(text) if text.strip().isdigit() else None
            assert p.returncode == 0, (
                f"cusetap in the background: expected exit 0 once ready, got "
                f"{p.returncode}: {p.stderr}")
            assert node_at_return, f"expected /dev/{name} when the command returned"
            assert pid is not None, f"expected a pid in {pidfile}, got {text!r}"
            assert os.path.exists(f"/proc/{pid}"), f"daemon {pid} from the pidfile is not running"
            fd = os.open(f"/dev/{name}", os.O_RDWR)
            try:
                got = taputil.tapgifname(fd)
            finally:
                os.close(fd)
            assert got == f"{name}0", f"clone of the background daemon: expected {name}0, got {got}"
            os.kill(pid, signal.SIGTERM)
            rc = reap(pid, taputil.TIMEOUT)
            assert rc == 0, f"background daemon on SIGTERM: expected exit 0, got {rc}"
            pid = None
            left = [p for p in (f"/dev/{name}", f"/dev/{name}0", str(pidfile))
                    if os.path.exists(p)] + [f for f in (f"{name}0",) if taputil.iface_exists(f)]
            assert not left, f"background daemon after exit: expected nothing left, got {left}"
        finally:
            if pid is not None and reap(pid, 0) is None:
                os.kill(pid, signal.SIGKILL)
                reap(pid, 10)
            if taputil.iface_exists(f"{name}0"):
                taputil.run("ip", "link", "del", "dev", f"{name}0", check=False)


@pytest.mark.parametrize("where", ["before-fork", "after-fork"])
def test_background_start_failure_is_reported(cusetap_bin, tmp_path, where):
    """A background start that fails says why on the caller's stderr, in the
    foreground's words, and exits non-zero, leaving nothing behind. A pidfile
    in a missing directory is refused before the fork, before any node is
    made; a pidfile that is a directory fails only when it is written, in
    the forked daemon, once its nodes exist (they are removed again)."""
    name = unique_devname()
    if where == "before-fork":
        pidfile, reason = "/nonexistent/dir/x.pid", os.strerror(errno.ENOENT)
    else:
        pidfile, reason = str(tmp_path), os.strerror(errno.EISDIR)
    why = f"background start with --pidfile {pidfile}"
    nodes = re.compile(re.escape(name) + r"\d*$")
    ifaces = re.compile(re.escape(name) + r"\d+$")

    def run(*opts):
        cmd = [cusetap_bin, *opts, "--devname", name, "--units", "1", "--pidfile", pidfile]
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=taputil.TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{' '.join(cmd)}: expected a prompt refusal, it did not return "
                        f"within {taputil.TIMEOUT}s", pytrace=False)

    def leftovers():
        left = [f"/dev/{n}" for n in sorted(os.listdir("/dev")) if nodes.match(n)]
        return left + [f"interface {n}" for n in sorted(os.listdir("/sys/class/net"))
                       if ifaces.match(n)]

    try:
        bg = run()
        assert bg.returncode != 0, (
            f"{why}: expected a non-zero exit, got 0; stderr:\n{bg.stderr}")
        errors = [l for l in bg.stderr.splitlines() if l.startswith("cusetap: error:")]
        assert any(pidfile in l and reason in l for l in errors), (
            f"{why}: expected an error line on stderr naming {pidfile} and saying "
            f"{reason!r}, got {bg.stderr!r}")
        assert not [l for l in bg.stderr.splitlines() if ": info:" in l or ": debug:" in l], (
            f"{why}: expected only warnings and errors on stderr, got {bg.stderr!r}")
        # The forked daemon removes what it made as it exits, after the parent
        taputil.wait_for(lambda: not leftovers(), 10,
                         what=f"{why}: no node or interface left (left: {leftovers()})")

        fg = run("-f")
        assert (bg.returncode, errors) == (
            fg.returncode, [l for l in fg.stderr.splitlines() if l.startswith("cusetap: error:")]), (
            f"{why}: expected the exit status and error lines of -f, got "
            f"{(bg.returncode, bg.stderr)} in the background, "
            f"{(fg.returncode, fg.stderr)} with -f")
    finally:
        for n in os.listdir("/sys/class/net"):
            if ifaces.match(n):
                taputil.run("ip", "link", "del", "dev", n, check=False)
