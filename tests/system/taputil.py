"""Client-side helpers for the cusetap system tests.

Everything here uses the Python standard library only: the tests run inside a
VM on Debian's /usr/bin/python3, where nothing can be installed from PyPI.

Two kinds of helper live here:

- the client side of a BSD tap(4) device: ioctl numbers (BSD values, from
  DESIGN.md), TAPGIFNAME, FIONREAD, reads that skip frames which are not ours;
- the host side of the interface: bringing it up without IPv6 chatter, frames
  sent into it and captured from it with AF_PACKET sockets, link state read
  from sysfs and from `ip -j`.

A test frame carries ethertype 0x88b5 (IEEE local experimental) and a marker
right after the Ethernet header, so helpers can tell our frames from whatever
else the host stack emits on the link.
"""

import contextlib
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import time

# --- ioctl numbers (BSD values; see DESIGN.md "Ioctl numbers") -------------

FREEBSD_TAPGIFNAME = 0x4020745D  # _IOR('t', 93, struct ifreq), 32 bytes
FREEBSD_IFREQ_SIZE = 32
NETBSD_TAPGIFNAME = 0x40906500  # _IOR('e', 0, struct ifreq), 144 bytes
NETBSD_IFREQ_SIZE = 144
TAPGIFINFO = 0x4008745C
TUNSIFPID = 0x2000745F  # _IO('t', 95): tun only, ENOTTY on tap
BSD_FIONREAD = 0x4004667F
BSD_FIONBIO = 0x8004667E
LINUX_FIONREAD = 0x541B
LINUX_FIONBIO = 0x5421  # handled by the Linux VFS: sets O_NONBLOCK
UNKNOWN_IOCTL = 0x4004FFFF

TAPMRU = 65535
ETH_HLEN = 14
ETH_P_ALL = 0x0003
ETHERTYPE_TEST = 0x88B5
BROADCAST = b"\xff" * 6

PACKET_OUTGOING = 4  # sll_pkttype of a frame the host sent

IFF_UP = 0x1
IFF_TUN = 0x0001  # Linux tun_flags bits
IFF_TAP = 0x0002

# Generous bounds: the VM runs under software emulation.
TIMEOUT = 20.0


class Timeout(Exception):
    """Raised by alarm_guard() when the guarded code blocked too long."""


# --- generic waiting -------------------------------------------------------


def wait_for(cond, timeout=TIMEOUT, interval=0.05, what=None):
    """Poll cond() until it returns a true value; return that value.

    On timeout, raise AssertionError naming @what (or cond) and the last
    value cond() returned.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = cond()
        if last:
            return last
        if time.monotonic() >= deadline:
            name = what or getattr(cond, "__name__", repr(cond))
            raise AssertionError(
                f"timed out after {timeout:.1f}s waiting for {name}; "
                f"last value: {last!r}")
        time.sleep(interval)


@contextlib.contextmanager
def alarm_guard(seconds, what="operation"):
    """Raise Timeout if the body is still running after @seconds.

    Used around every blocking call that must return, so that a daemon bug
    fails one test instead of hanging the whole run. Relies on the daemon
    answering CUSE interrupts (which it must do anyway).
    """
    def on_alarm(signum, frame):
        raise Timeout(f"{what} still blocked after {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --- names, markers, frames ------------------------------------------------


def new_marker(tag="m"):
    """Return a unique marker (bytes) to put at the start of a payload."""
    return b"CTAP-" + tag.encode() + b"-" + os.urandom(6).hex().encode() + b";"


def make_frame(dst, src, marker, size=128, fill=b"."):
    """Build an Ethernet frame of @size bytes with ethertype 0x88b5.

    The payload starts with @marker and is padded with @fill.
    """
    hdr = dst + src + struct.pack("!H", ETHERTYPE_TEST)
    payload = marker
    if len(hdr) + len(payload) < size:
        n = size - len(hdr) - len(payload)
        payload += (fill * (n // len(fill) + 1))[:n]
    frame = hdr + payload
    assert len(frame) == max(size, len(hdr) + len(marker)), "frame size"
    return frame


def has_marker(frame, marker):
    """True if @frame is a test frame whose payload starts with @marker."""
    return (len(frame) >= ETH_HLEN + len(marker)
            and frame[12:14] == struct.pack("!H", ETHERTYPE_TEST)
            and frame[ETH_HLEN:ETH_HLEN + len(marker)] == marker)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.strip().split(":"))


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


# --- the client side of /dev/tapN ------------------------------------------


def ioctl_int(fd, cmd, value=0):
    """Issue an ioctl whose argument is an int (in or out); return the int."""
    buf = fcntl.ioctl(fd, cmd, struct.pack("i", value))
    return struct.unpack("i", buf)[0]


def tapgifname(fd, cmd=FREEBSD_TAPGIFNAME):
    """Return the interface name of the tap open on @fd (TAPGIFNAME).

    @cmd is the FreeBSD or the NetBSD number; the buffer is the matching
    struct ifreq size, and the name is the NUL-terminated string at its start.
    """
    size = NETBSD_IFREQ_SIZE if cmd == NETBSD_TAPGIFNAME else FREEBSD_IFREQ_SIZE
    buf = fcntl.ioctl(fd, cmd, bytes(size))
    assert len(buf) == size, f"TAPGIFNAME buffer: expected {size} bytes, got {len(buf)}"
    assert b"\0" in buf[:16], (
        f"TAPGIFNAME: expected a NUL-terminated name in the first 16 bytes, "
        f"got {buf[:16]!r}")
    return buf.split(b"\0", 1)[0].decode()


def fionread(fd, cmd=BSD_FIONREAD):
    return ioctl_int(fd, cmd)


def poll_events(fd, events=select.POLLIN | select.POLLOUT, timeout_ms=0):
    """Return the revents of one poll() on @fd (0 on timeout)."""
    p = select.poll()
    p.register(fd, events)
    res = p.poll(timeout_ms)
    return res[0][1] if res else 0


def wait_readable(fd, timeout=TIMEOUT):
    """Wait until poll() reports POLLIN on @fd; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"poll() did not report POLLIN on fd {fd} within {timeout}s")
        if poll_events(fd, select.POLLIN, int(min(left, 0.5) * 1000)) & select.POLLIN:
            return


def read_frame(fd, marker, bufsize=65536, timeout=TIMEOUT, others=None, hdrlen=0):
    """Read frames from @fd until one carries @marker; return it.

    Frames that are not ours (IPv6 chatter, ...) are skipped and appended to
    @others if given. poll() is used before each read so a missing frame
    fails with a timeout instead of blocking forever. With @hdrlen, frames
    start with a header of that many bytes before the Ethernet frame.
    """
    deadline = time.monotonic() + timeout
    skipped = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"no frame with marker {marker!r} read within {timeout}s "
                f"({skipped} other frames skipped)")
        wait_readable(fd, left)
        frame = os.read(fd, bufsize)
        if has_marker(frame[hdrlen:], marker):
            return frame
        skipped += 1
        if others is not None:
            others.append(frame)


def set_nonblock(fd, on=True):
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    flags = flags | os.O_NONBLOCK if on else flags & ~os.O_NONBLOCK
    fcntl.fcntl(fd, fcntl.F_SETFL, flags)


def read_errno(fd, bufsize=2048, guard=10.0):
    """Read once from @fd, which must fail; return the errno.

    Fails with a message if the read returned data or blocked past @guard.
    """
    try:
        with alarm_guard(guard, "read"):
            data = os.read(fd, bufsize)
    except Timeout:
        raise AssertionError(f"read: expected an error, but it blocked for {guard}s")
    except OSError as e:
        return e.errno
    raise AssertionError(f"read: expected an error, got {len(data)} bytes: {data[:32]!r}")


def errname(num):
    return errno.errorcode.get(num, str(num)) if num is not None else "no error"


# --- the host side of tapN -------------------------------------------------


def run(*args, check=True, timeout=30):
    """Run a command; return CompletedProcess (text). Raise with its output on failure."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(
            f"command {' '.join(args)!r} failed with status {p.returncode}: "
            f"{p.stderr.strip() or p.stdout.strip()}")
    return p


def iface_exists(ifname):
    return os.path.exists(f"/sys/class/net/{ifname}")


def sysfs(ifname, attr):
    with open(f"/sys/class/net/{ifname}/{attr}") as f:
        return f.read().strip()


def iface_mac(ifname):
    return mac_bytes(sysfs(ifname, "address"))


def iface_flags(ifname):
    return int(sysfs(ifname, "flags"), 16)


def iface_is_up(ifname):
    return bool(iface_flags(ifname) & IFF_UP)


def carrier(ifname):
    """Return 1 or 0, or None when the kernel refuses (interface admin-down)."""
    try:
        return int(sysfs(ifname, "carrier"))
    except OSError as e:
        if e.errno == errno.EINVAL:
            return None
        raise


def ip_link(ifname):
    """Return `ip -j link show dev IFNAME` as a dict."""
    return json.loads(run("ip", "-j", "link", "show", "dev", ifname).stdout)[0]


def ip_addrs(ifname, family="inet"):
    """Return the addresses of @family on @ifname, from `ip -j addr show`."""
    out = json.loads(run("ip", "-j", "addr", "show", "dev", ifname).stdout)
    return [a["local"] for entry in out for a in entry.get("addr_info", [])
            if a.get("family") == family]


def quiet_ipv6(ifname):
    """Disable IPv6 on @ifname so that bringing it up emits no RS/MLD frames."""
    path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
    if os.path.exists(path):
        with open(path, "w") as f:
            f.write("1\n")


def link_up(ifname, quiet=True):
    """Bring @ifname up (after silencing IPv6 unless quiet=False)."""
    if quiet:
        quiet_ipv6(ifname)
    run("ip", "link", "set", "dev", ifname, "up")
    wait_for(lambda: iface_is_up(ifname), 10, what=f"{ifname} IFF_UP")


def link_down(ifname):
    run("ip", "link", "set", "dev", ifname, "down")


def host_send(ifname, frame):
    """Send @frame out of @ifname from the host (AF_PACKET, raw)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as s:
        s.bind((ifname, 0))
        n = s.send(frame)
    assert n == len(frame), f"host send on {ifname}: expected {len(frame)} bytes sent, got {n}"


SO_RCVBUFFORCE = 33


class Capture:
    """Frames of ethertype 0x88b5 that @ifname receives (frames written by
    the client and injected into the host stack).

    Open it before the client writes: AF_PACKET sees only frames that
    arrive after the socket exists.
    """

    def __init__(self, ifname, ethertype=ETHERTYPE_TEST, rcvbuf=None):
        self.ifname = ifname
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                  socket.htons(ethertype))
        if rcvbuf:
            # Past net.core.rmem_max (we are root): a burst must not overflow it
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        self.sock.bind((ifname, ethertype))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def frames(self, timeout):
        """Yield received frames until @timeout seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return
            data, addr = self.sock.recvfrom(65536 + 64)
            if addr[0] != self.ifname or addr[2] == PACKET_OUTGOING:
                continue
            yield data

    def expect(self, marker, timeout=TIMEOUT):
        """Return the first frame carrying @marker; AssertionError on timeout."""
        for frame in self.frames(timeout):
            if has_marker(frame, marker):
                return frame
        raise AssertionError(
            f"host: expected a frame with marker {marker!r} on {self.ifname} "
            f"within {timeout}s, got none")

    def expect_dropped(self, bad, sentinel, timeout=TIMEOUT, linger=1.0):
        """Check that the frame with marker @bad never reaches the host.

        The caller writes the bad frame and then a good frame carrying
        @sentinel on the same fd. Wait for the sentinel (proving the path
        works and the writes were processed), then linger a little longer.
        """
        seen_sentinel = False
        for frame in self.frames(timeout):
            assert not has_marker(frame, bad), (
                f"host: expected the frame with marker {bad!r} to be dropped, "
                f"but {self.ifname} received it")
            if has_marker(frame, sentinel):
                seen_sentinel = True
                break
        assert seen_sentinel, (
            f"host: expected the sentinel frame {sentinel!r} on {self.ifname} "
            f"within {timeout}s, got none (the write path itself is broken)")
        for frame in self.frames(linger):
            assert not has_marker(frame, bad), (
                f"host: expected the frame with marker {bad!r} to be dropped, "
                f"but {self.ifname} received it after the sentinel")


# --- child processes -------------------------------------------------------


def proc_blocked_in_read(pid):
    """True if @pid sleeps in the read(2) system call (x86_64 number 0)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state not in ("S", "D"):
        return False
    if os.uname().machine == "x86_64":
        return bool(fields) and fields[0] == "0"
    return True


def fork_child(body):
    """Fork; the child runs body() and exits, never returning into pytest.

    The child gets the default SIGTERM and SIGALRM back and no pending
    alarm, so a test's timers cannot fire in it. It exits 0 when body()
    returns, 1 when it raises. Return the child's pid.
    """
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_REAL, 0)
            body()
            status = 0
        finally:
            os._exit(status)
    return pid


class BlockedReader:
    """A forked child that reads once from @fd and reports the outcome.

    The report is one line on a pipe: "data <len>" or "errno <n>".
    """

    def __init__(self, fd, bufsize=65536):
        rfd, wfd = os.pipe()

        def child():
            os.close(rfd)
            try:
                data = os.read(fd, bufsize)
                msg = f"data {len(data)}\n"
            except OSError as e:
                msg = f"errno {e.errno}\n"
            os.write(wfd, msg.encode())

        pid = fork_child(child)
        os.close(wfd)
        self.pid = pid
        self.rfd = rfd
        self.status = None

    def wait_blocked(self, timeout=TIMEOUT):
        wait_for(lambda: proc_blocked_in_read(self.pid) or self.reported(),
                 timeout, what=f"child {self.pid} to block in read")
        assert not self.reported(), (
            f"child reader: expected to block in read, but it returned: "
            f"{self.result(0)!r}")
        time.sleep(0.3)  # let the request reach the daemon and park

    def reported(self):
        return poll_events(self.rfd, select.POLLIN, 0) != 0

    def result(self, timeout=TIMEOUT):
        """Return the child's report line ('' if it died without one)."""
        if poll_events(self.rfd, select.POLLIN, int(timeout * 1000)) == 0:
            return None
        return os.read(self.rfd, 100).decode().strip()

    def wait_exit(self, timeout=TIMEOUT):
        """Reap the child; return its wait status or None if still alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                return status
            time.sleep(0.05)
        return None

    def cleanup(self):
        if self.status is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait_exit(10)
        with contextlib.suppress(OSError):
            os.close(self.rfd)


# --- the full tap ABI (test_abi.py, test_vnet.py, test_sigio.py, ...) -------
#
# BSD values, as include/net/if_tap.h computes them; test_abi.py compiles
# that header and checks every number below against it.

TAPSIFINFO = 0x8008745B  # _IOW('t', 91, struct tuninfo)
TAPSDEBUG = 0x8004745A
TAPGDEBUG = 0x40047459
TAPSVNETHDR = 0x8004745B  # _IOW('t', 91, int): same number as TAPSIFINFO, other size
TAPGVNETHDR = 0x4004745E
BSD_SIOCGIFADDR = 0xC0206921  # _IOWR('i', 33, struct ifreq): remote MAC in bytes 0..5
BSD_SIOCSIFADDR = 0x8020690C  # _IOW('i', 12, struct ifreq)
VMIO_SIOCSIFFLAGS = 0x20045600  # _IOWINT('V', 0): flags passed by value
TAPSTRANSIENT = 0x80047462
TAPGTRANSIENT = 0x40047463
BSD_FIOASYNC = 0x8004667D
BSD_FIOSETOWN = 0x8004667C
BSD_FIOGETOWN = 0x4004667B
BSD_TIOCSPGRP = 0x80047476
BSD_TIOCGPGRP = 0x40047477
TUNSIFHEAD = 0x80047460  # tun only: ENOTTY on tap

TUNINFO = struct.Struct("=iHBB")  # baudrate, mtu, type, dummy: 8 bytes
IFT_ETHER = 6
IF_MINMTU = 72
BSD_IFF_NOARP = 0x80
SIFADDR_SIZE = 32  # FreeBSD struct ifreq
VNET_HDR_LEN = 10  # struct virtio_net_hdr
VNET_HDR_MRG_LEN = 12  # struct virtio_net_hdr_mrg_rxbuf


def ioctl_errno(fd, cmd, arg=0):
    """Issue an ioctl that must fail; return its errno (AssertionError if it succeeds)."""
    try:
        res = fcntl.ioctl(fd, cmd, arg)
    except OSError as e:
        return e.errno
    raise AssertionError(f"ioctl {cmd:#x}: expected an error, it succeeded with {res!r}")


def libc_ioctl(fd, cmd, addr):
    """ioctl(fd, cmd, addr) through libc with a raw pointer; return 0 or the errno.

    For what Python's fcntl.ioctl cannot express: a NULL (@addr None) or
    otherwise invalid argument address.
    """
    import ctypes  # only this helper needs it
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    libc.ioctl.restype = ctypes.c_int
    ctypes.set_errno(0)
    ret = libc.ioctl(fd, cmd, addr)
    return ctypes.get_errno() if ret < 0 else 0


def tapgifinfo(fd):
    """TAPGIFINFO: return (baudrate, mtu, type)."""
    buf = fcntl.ioctl(fd, TAPGIFINFO, bytes(TUNINFO.size))
    assert len(buf) == TUNINFO.size, (
        f"TAPGIFINFO: expected {TUNINFO.size} bytes, got {len(buf)}")
    baudrate, mtu, iftype, _ = TUNINFO.unpack(buf)
    return baudrate, mtu, iftype


def tapsifinfo(fd, mtu, iftype=IFT_ETHER, baudrate=0):
    """TAPSIFINFO with a struct tuninfo; raises OSError on refusal."""
    fcntl.ioctl(fd, TAPSIFINFO, TUNINFO.pack(baudrate, mtu, iftype, 0))


def siocgifaddr(fd):
    """BSD SIOCGIFADDR on the device: the remote MAC (6 bytes)."""
    buf = fcntl.ioctl(fd, BSD_SIOCGIFADDR, bytes(SIFADDR_SIZE))
    assert len(buf) == SIFADDR_SIZE, (
        f"SIOCGIFADDR: expected {SIFADDR_SIZE} bytes back, got {len(buf)}")
    return bytes(buf[:6])


def siocsifaddr(fd, mac):
    fcntl.ioctl(fd, BSD_SIOCSIFADDR, mac + bytes(SIFADDR_SIZE - len(mac)))


def max_mtu(ifname):
    """The largest MTU the kernel accepts on @ifname (`ip -d -j link`)."""
    out = json.loads(run("ip", "-d", "-j", "link", "show", "dev", ifname).stdout)[0]
    return out["max_mtu"]


def link_flags(ifname):
    """The flag names `ip -j link` lists for @ifname (UP, NOARP, ...)."""
    return ip_link(ifname)["flags"]


def read_frame_hdr(fd, marker, hdrlen, bufsize=65536 + 64, timeout=TIMEOUT):
    """Like read_frame(), for frames that start with a @hdrlen-byte header.

    Return (header, frame) of the first frame whose Ethernet part carries
    @marker; other frames are skipped.
    """
    data = read_frame(fd, marker, bufsize, timeout, hdrlen=hdrlen)
    return data[:hdrlen], data[hdrlen:]


def wait_gone(ifname, node, timeout=10):
    """Wait until interface @ifname and device node @node both disappeared."""
    wait_for(lambda: not iface_exists(ifname), timeout,
             what=f"interface {ifname} to disappear")
    wait_for(lambda: not os.path.exists(node), timeout,
             what=f"node {node} to disappear")


class SigioCounter:
    """Count the SIGIOs this process receives while the context is active."""

    def __init__(self):
        self.count = 0
        self.old = None

    def _on_sigio(self, signum, frame):
        self.count += 1

    def __enter__(self):
        self.old = signal.signal(signal.SIGIO, self._on_sigio)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGIO, self.old)

    def wait(self, timeout=TIMEOUT):
        """Wait until at least one SIGIO arrived; return the count."""
        return wait_for(lambda: self.count, timeout, what="SIGIO")
