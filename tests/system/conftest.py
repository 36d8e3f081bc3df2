"""Fixtures for the cusetap system tests.

Run from the source tree, as root, with the build directory passed in:

    /usr/bin/python3 -m pytest -p no:cacheprovider -v tests/system --build-dir=build

Each test starts its own daemon with a unique device name, waits for the
pidfile (written once every node can be opened) while checking the daemon is
alive, and stops it with SIGTERM -> wait -> SIGKILL. A test fails if the
daemon exited non-zero or logged an error. Nothing is written into the source
tree: pidfiles and logs go to pytest's tmp_path.

These tests never skip: a machine that cannot run them (no /dev/cuse, not
root) fails them with a message saying what is missing.
"""

import contextlib
import os
import random
import re
import resource
import string
import subprocess
import sys
import time

import pytest

# The source tree is read-only in the VM: never try to write bytecode into it.
sys.dont_write_bytecode = True

import taputil

# Our own errors, AddressSanitizer's reports, UndefinedBehaviorSanitizer's
ERROR_LINE = re.compile(r"^(cusetap:\s*error\b|==\d+==\s*ERROR\b|\S+:\d+:\d+: runtime error:)",
                        re.I | re.M)
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
SRC_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_addoption(parser):
    parser.addoption("--build-dir", default="build",
                     help="meson build directory holding cusetap/cusetap (default: build)")


@pytest.fixture(scope="session")
def cusetap_bin(request):
    """Path of the daemon binary; fails (never skips) if the setup is unusable."""
    build = request.config.getoption("--build-dir")
    candidates = [os.path.join(build, "cusetap", "cusetap")]
    if not os.path.isabs(build):
        candidates.append(os.path.join(SRC_ROOT, build, "cusetap", "cusetap"))
    path = next((os.path.abspath(c) for c in candidates if os.path.isfile(c)), None)
    if path is None:
        pytest.fail(f"daemon binary not found (looked at {candidates}); "
                    f"build first or pass --build-dir", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"daemon binary {path} is not executable", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("system tests must run as root (they create devices and "
                    "interfaces)", pytrace=False)
    if not os.path.exists("/dev/cuse"):
        pytest.fail("/dev/cuse is missing: this kernel has no CUSE; run the "
                    "tests inside the VM (scripts/vm) or 'modprobe cuse'",
                    pytrace=False)
    if not os.path.exists("/dev/net/tun"):
        pytest.fail("/dev/net/tun is missing: 'modprobe tun'", pytrace=False)
    return path


def unique_devname():
    """Return 'ct' + 4 random lowercase letters, unused as node and interface."""
    while True:
        name = "ct" + "".join(random.choices(string.ascii_lowercase, k=4))
        if not os.path.exists(f"/dev/{name}") and not taputil.iface_exists(f"{name}0"):
            return name


class Daemon:
    """One cusetap process, started in the foreground with its own devname."""

    def __init__(self, binary, tmpdir, devname=None, args=(), env=None):
        self.binary = binary
        self.devname = devname or unique_devname()
        self.args = list(args)
        self.env = env
        self.pidfile = os.path.join(tmpdir, f"{self.devname}.pid")
        self.logpath = os.path.join(tmpdir, f"{self.devname}.log")
        self.proc = None
        self.returncode = None
        self.fds = []

    # -- process ------------------------------------------------------------

    def command(self):
        # CUSETAP_DAEMON_ARGS (e.g. "-vv") adds options to every daemon, for
        # chasing a failure with more logging
        extra = os.environ.get("CUSETAP_DAEMON_ARGS", "").split()
        # With --device every device is named there: --devname is refused
        name = [] if "--device" in self.args else ["--devname", self.devname]
        return [self.binary, "-f", *extra, *name,
                "--pidfile", self.pidfile, *self.args]

    def start(self):
        with open(self.logpath, "wb") as log:
            env = dict(os.environ, **self.env) if self.env else None
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                pytest.fail(f"daemon exited with status {self.returncode} before "
                            f"writing its pidfile; log:\n{self.log()}", pytrace=False)
            text = self._read_pidfile()
            if text.strip() == str(self.proc.pid):
                break
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"daemon wrote no pidfile {self.pidfile} holding its pid "
                            f"{self.proc.pid} within {START_TIMEOUT}s (content: "
                            f"{text!r}); log:\n{self.log()}", pytrace=False)
            time.sleep(0.05)
        assert os.path.exists(self.clone_node), (
            f"expected {self.clone_node} to exist once the pidfile is written, "
            f"it does not")
        return self

    def _read_pidfile(self):
        try:
            with open(self.pidfile) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for exit; return the status or None if still running."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self):
        """SIGTERM -> wait -> SIGKILL; return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait(STOP_TIMEOUT) is None:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
                self.returncode = "killed after SIGTERM timeout"
                return self.returncode
        if self.returncode is None:
            self.returncode = self.proc.returncode
        return self.returncode

    def log(self, tail=80):
        try:
            with open(self.logpath, errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-tail:]) or "(empty log)"

    def error_lines(self):
        try:
            with open(self.logpath, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        return [m.group(0) for m in re.finditer(r"^.*$", text, re.M)
                if ERROR_LINE.match(m.group(0))]

    # -- names --------------------------------------------------------------

    @property
    def clone_node(self):
        return f"/dev/{self.devname}"

    def node(self, unit):
        return f"/dev/{self.devname}{unit}"

    def ifname(self, unit):
        return f"{self.devname}{unit}"

    def unit_of(self, ifname):
        assert ifname.startswith(self.devname) and ifname[len(self.devname):].isdigit(), (
            f"expected an interface name {self.devname}<N>, got {ifname!r}")
        return int(ifname[len(self.devname):])

    def created_ifaces(self):
        pat = re.compile(re.escape(self.devname) + r"\d+$")
        return sorted(n for n in os.listdir("/sys/class/net") if pat.match(n))

    def created_nodes(self):
        pat = re.compile(re.escape(self.devname) + r"\d*$")
        return sorted(f"/dev/{n}" for n in os.listdir("/dev") if pat.match(n))

    # -- clients ------------------------------------------------------------

    def open(self, path=None, flags=os.O_RDWR):
        """Open @path (default: the cloning node); the fd is closed at teardown."""
        fd = os.open(path or self.clone_node, flags)
        self.fds.append(fd)
        return fd

    def close(self, fd):
        self.fds.remove(fd)
        os.close(fd)

    def clone(self, flags=os.O_RDWR, nbsd_name=False):
        """Open the cloning node; return (fd, ifname), after the unit node appeared."""
        fd = self.open(self.clone_node, flags)
        cmd = taputil.NETBSD_TAPGIFNAME if nbsd_name else taputil.FREEBSD_TAPGIFNAME
        name = taputil.tapgifname(fd, cmd)
        unit = self.unit_of(name)
        taputil.wait_for(lambda: os.path.exists(self.node(unit)), 10,
                         what=f"node {self.node(unit)} to appear")
        return fd, name

    def close_all(self):
        for fd in list(self.fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()

    def assert_healthy(self):
        """The daemon is alive and a fresh clone still works."""
        assert self.alive(), (
            f"expected the daemon to be alive, it exited with {self.proc.returncode}; "
            f"log:\n{self.log()}")
        fd, name = self.clone()
        assert taputil.iface_exists(name), (
            f"fresh clone: expected interface {name} to exist, it does not")
        self.close(fd)


@pytest.fixture
def daemon_factory(cusetap_bin, tmp_path):
    """Return start(args=(), devname=None, env=None) -> Daemon (@env: variables
    added to the daemon's environment); all are checked at teardown."""
    daemons = []

    def start(args=(), devname=None, env=None):
        d = Daemon(cusetap_bin, str(tmp_path), devname, args, env)
        daemons.append(d)
        return d.start()

    yield start

    problems = []
    for d in daemons:
        d.close_all()
        was_running = d.alive()
        rc = d.stop()
        if rc != 0:
            how = "on SIGTERM" if was_running else "during the test"
            problems.append(f"daemon {d.devname} exited {how} with status {rc}, "
                            f"expected 0")
        errors = d.error_lines()
        if errors:
            problems.append(f"daemon {d.devname} logged errors: {errors}")
        for ifname in d.created_ifaces():  # leave the VM clean for the next test
            taputil.run("ip", "link", "del", "dev", ifname, check=False)
        if problems:
            problems.append(f"log of {d.devname}:\n{d.log()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(params=["freebsd", "netbsd"])
def abi(request):
    return request.param


@pytest.fixture
def daemon(abi, daemon_factory):
    """A daemon of each flavour, chosen explicitly with --abi."""
    d = daemon_factory(["--abi", abi])
    d.abi = abi
    return d


@pytest.fixture
def fbsd(daemon_factory):
    """A daemon of the default flavour, which must be FreeBSD (no --abi)."""
    d = daemon_factory([])
    d.abi = "freebsd"
    return d


@pytest.fixture
def nbsd(daemon_factory):
    d = daemon_factory(["--abi", "netbsd"])
    d.abi = "netbsd"
    return d


@pytest.fixture
def nofile_limit():
    """Raise RLIMIT_NOFILE so one process can hold a few hundred fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def children():
    """Track BlockedReader children; kill and reap them at teardown."""
    kids = []
    yield kids
    for k in kids:
        k.cleanup()

