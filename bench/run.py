#!/usr/bin/python3
"""bench/run.py - the cusetap benchmark (issue 4), run by scripts/bench.

Theory of operation

Everything is measured in one run, on one machine, so that only ratios
matter: under software emulation absolute numbers are meaningless, but the
null CUSE device, the native kernel TAP and cusetap suffer alike.

Four targets are up at once: a nullcuse device (the bare CUSE round trip,
the floor any CUSE daemon pays), plain kernel TAPs the client opens itself,
a cusetap daemon, and a nullcuse device backed by a kernel TAP with plain
blocking system calls (nullcuse --tap: the simplest CUSE TAP, the floor
of an echo, which the null device's read + write leaves out: the host's
frame must be read from a TAP, and the echo written to one). Each
measurement is one run of build/bench/benchclient (one JSON line back);
measurements of the targets are interleaved per
size, so a slow patch of the host hits all of them. With --repeat N the
whole list is run N times over and the best run of each kept: on a shared,
emulated machine noise only ever slows a run down.

Placement: single-client measurements run with the servers and the client
on one CPU (--cpu). Under TCG on a busy host, a wakeup across virtual CPUs
costs milliseconds of host scheduling, which would swamp the microseconds
being compared; on one CPU a round trip is two context switches and the
cost of the code. The host-side sender of a read measurement is the
exception: it runs on another CPU when there is one (Bench.sender_cpu),
because the null device, which reads are compared with, has no host side
at all; on the client's CPU the sender's own work (some 20 us a frame
under emulation, half of what the native read costs) would be counted
against cusetap. It sleeps on a futex while the client has a window of
frames to read, so it is woken about once per 64 frames, not per frame.
Reads are also measured with the sender on the client's CPU, and shown,
and as an event-driven client does them, with a poll() before each read
(two round trips a frame; the null device answers "ready" at once).
The 4-client runs use every CPU (their senders go wherever the scheduler
puts them), and are compared with the best a single client does, whichever
placement gave it; the null device's own 4-client ratio shows what the
machine allows.
Four clients run twice: as four clones of the cloning device (whose
requests all come through its one CUSE connection), and opening units 0-3
by name, as bhyve and QEMU open /dev/tapN (a connection each, spread over
the daemon's threads).

A second, fresh daemon then measures memory with 1000 clones open.

The issue's targets are printed next to each ratio; missing a target is
information, not failure. The exit status is non-zero only when something
could not be measured. Nothing is written outside /tmp and --json (the
source tree is read-only inside scripts/vm).
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

SIZES = (64, 1514)
GSO_SIZE = 65535           # TAPMRU: the largest frame behind the header
CLONES = 1000
CLIENTS = 4
START_TIMEOUT = 30.0
STOP_TIMEOUT = 120.0       # 1000 units take a while to tear down under TCG

ERROR_LINE = re.compile(r"^(cusetap:\s*error\b|==\d+==\s*ERROR\b)", re.I | re.M)


class BenchError(Exception):
    """A measurement that could not be taken."""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def unique_name(prefix, taken):
    """A device name PREFIX + 4 letters, unused as node and interface."""
    while True:
        name = prefix + "".join(random.choices(string.ascii_lowercase, k=4))
        if not os.path.exists(f"/dev/{name}") and not taken(name):
            return name


def iface_exists(name):
    return os.path.exists(f"/sys/class/net/{name}")


def vm_rss_kib(pid):
    """VmRSS of PID in KiB, None if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Server:
    """A device server (nullcuse or cusetap) in the foreground, with a log."""

    def __init__(self, label, argv, pidfile, logpath):
        self.label = label
        self.argv = argv
        self.pidfile = pidfile
        self.logpath = logpath
        self.proc = None

    def start(self):
        with open(self.logpath, "wb") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not (os.path.exists(self.pidfile) and os.path.getsize(self.pidfile)):
            if self.proc.poll() is not None:
                raise BenchError(f"{self.label} exited with status {self.proc.returncode} "
                                 f"before it was ready:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.kill()
                raise BenchError(f"{self.label} not ready after {START_TIMEOUT:.0f} s:\n"
                                 f"{self.log_text()}")
            time.sleep(0.02)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """SIGTERM, wait, SIGKILL. Return (seconds taken, problems)."""
        problems = []
        if self.proc is None:
            return 0.0, problems
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"{self.label} ignored SIGTERM for {STOP_TIMEOUT:.0f} s")
                self.kill()
        took = time.monotonic() - t0
        if self.proc.returncode != 0:
            problems.append(f"{self.label} exited with status {self.proc.returncode}")
        if ERROR_LINE.search(self.log_text()):
            problems.append(f"{self.label} logged errors:\n{self.log_text()}")
        return took, problems


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = args.build_dir
        self.client = os.path.join(self.build, "bench", "benchclient")
        self.runs = {}           # key -> every benchclient JSON line
        self.results = {}        # key -> the best of them
        self.failed = set()
        self.server_of = {}
        self.failures = []       # (key, message)
        self.warnings = []
        self.servers = []
        self.tmp = tempfile.mkdtemp(prefix="cusetap-bench.")
        self.all_cpus = os.sched_getaffinity(0)
        self.pin_cpus = {args.cpu} if args.cpu is not None else self.all_cpus
        # A CPU for the host side of reads, away from the client's
        others = sorted(self.all_cpus - self.pin_cpus)
        self.sender_cpu = others[0] if others else None

    def sender_away(self, opts):
        """OPTS for a read whose host-side sender runs off the client's CPU,
        when there is another CPU."""
        if self.sender_cpu is None:
            return opts
        return dict(opts, sender_cpu=self.sender_cpu)

    def place(self, cpus):
        """Run this process, its future clients and every server on CPUS."""
        os.sched_setaffinity(0, cpus)
        for srv in self.servers:
            if srv.proc and srv.proc.poll() is None:
                # Every thread: cusetap serves clones on one per CPU
                for tid in os.listdir(f"/proc/{srv.pid}/task"):
                    try:
                        os.sched_setaffinity(int(tid), cpus)
                    except ProcessLookupError:
                        pass

    # --- running benchclient ------------------------------------------------

    def client_once(self, mode, target, **opts):
        argv = [self.client, mode, "--target", target]
        for k, v in opts.items():
            if v is True:           # a flag
                argv.append("--" + k.replace("_", "-"))
            else:
                argv += ["--" + k.replace("_", "-"), str(v)]
        budget = 60 + 5 * self.args.duration + (600 if mode == "rss" else 0)
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=budget)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{' '.join(argv)}: no result after {budget:.0f} s")
        if p.returncode != 0:
            raise BenchError(f"{' '.join(argv)}: status {p.returncode}: {p.stderr.strip()}")
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise BenchError(f"{' '.join(argv)}: no JSON line in {p.stdout!r}")
        return json.loads(lines[-1])

    # Best of the runs: on a shared, emulated machine noise only ever slows a
    # run down, so the fastest run is the closest to what the code costs.
    BEST = {"fps": max, "gbit_s": max, "p50_us": min, "rss_kib": max}

    def take(self, key, mode, target, metric, **opts):
        """One run of a measurement, added to the runs of KEY."""
        if key in self.failed:
            return
        srv = self.server_of.get(target)
        if srv is not None and mode != "rss":
            opts["server_pid"] = srv.pid
        try:
            r = self.client_once(mode, target, **opts)
        except BenchError as e:
            self.failed.add(key)
            self.failures.append((key, str(e)))
            log(f"{key}: FAILED: {e}")
            return
        r["metric"] = metric
        self.runs.setdefault(key, []).append(r)
        shown = {k: r[k] for k in ("fps", "gbit_s", "p50_us", "p99_us", "rss_kib")
                 if k in r}
        log(f"{key}: {shown}")

    def select(self):
        """Keep the best run of every measurement, with the others' metric."""
        for key, runs in self.runs.items():
            if key in self.failed:
                continue
            metric = runs[0]["metric"]
            best = dict(self.BEST[metric](runs, key=lambda r: r[metric]))
            best["runs"] = [r[metric] for r in runs]
            self.results[key] = best

    # --- the measurements ---------------------------------------------------

    def run(self):
        nullname = f"cusenull{os.getpid()}"
        floorname = f"cusefloor{os.getpid()}"
        flooriface = unique_name("bf", iface_exists)
        devname = unique_name("bn", lambda n: iface_exists(n + "0"))
        daemon_bin = os.path.join(self.build, "cusetap", "cusetap")

        def nullcuse(label, tag, name, *extra):
            return Server(label, [os.path.join(self.build, "bench", "nullcuse"),
                                  "--name", name, "--frame", "65536", *extra,
                                  "--pidfile", f"{self.tmp}/{tag}.pid"],
                          f"{self.tmp}/{tag}.pid", f"{self.tmp}/{tag}.log")

        null = nullcuse("nullcuse", "null", nullname)
        floor = nullcuse("nullcuse --tap", "floor", floorname, "--tap", flooriface)
        # Units 0..CLIENTS-1 exist from the start, for clients opening them
        # by name; clones take the same units
        daemon = Server("cusetap", [daemon_bin, "-f", "--devname", devname,
                                    "--units", str(CLIENTS),
                                    "--pidfile", f"{self.tmp}/cusetap.pid"],
                        f"{self.tmp}/cusetap.pid", f"{self.tmp}/cusetap.log")
        null_dev, tap_dev = f"/dev/{nullname}", f"/dev/{devname}"
        self.servers = [null, daemon, floor]
        self.server_of = {"null": null, "cusetap": daemon, "nulltap": floor}
        null.start()
        daemon.start()
        floor.start()
        time.sleep(0.5)
        self.results["rss_idle"] = {"rss_kib": vm_rss_kib(daemon.pid)}
        log(f"nullcuse {null_dev}, cusetap {tap_dev} (pid {daemon.pid}); "
            f"{self.args.duration:g} s per measurement, {self.args.repeat} round(s)")

        d, w, it = self.args.duration, self.args.warmup, self.args.iters
        for rnd in range(self.args.repeat):
            if self.args.repeat > 1:
                log(f"round {rnd + 1} of {self.args.repeat}")
            # One CPU: what a frame costs, without cross-CPU wakeups (which
            # cost milliseconds on an emulated machine sharing its host)
            self.place(self.pin_cpus)
            for mode in ("write", "read"):
                for size in SIZES:
                    common = dict(size=size, duration=d, warmup=w)
                    host = self.sender_away(common) if mode == "read" else common
                    self.take(f"null {mode} {size}", mode, "null", "fps",
                              dev=null_dev, **common)
                    self.take(f"native {mode} {size}", mode, "native", "fps", **host)
                    self.take(f"cusetap {mode} {size}", mode, "cusetap", "fps",
                              dev=tap_dev, **host)
                    if mode == "read" and self.sender_cpu is not None:
                        self.take(f"cusetap read {size} one cpu", mode, "cusetap",
                                  "fps", dev=tap_dev, **common)
            # An event-driven client: poll() before each read
            common = dict(size=64, duration=d, warmup=w, poll=True)
            self.take("null read 64 poll", "read", "null", "fps", dev=null_dev, **common)
            self.take("cusetap read 64 poll", "read", "cusetap", "fps", dev=tap_dev,
                      **self.sender_away(common))
            self.take("null rtt 64", "rtt", "null", "p50_us", dev=null_dev,
                      size=64, iters=it)
            self.take("native echo 64", "echo", "native", "p50_us", size=64, iters=it)
            self.take("floor echo 64", "echo", "nulltap", "p50_us",
                      dev=f"/dev/{floorname}", ifname=flooriface, size=64, iters=it)
            self.take("cusetap echo 64", "echo", "cusetap", "p50_us", dev=tap_dev,
                      size=64, iters=it)
            self.take("cusetap gso", "gso", "cusetap", "gbit_s", dev=tap_dev,
                      size=GSO_SIZE, duration=d, warmup=w)
            # Every CPU, several clients on their own units: does the daemon
            # let them run in parallel; the null device shows what this
            # machine allows at all
            self.place(self.all_cpus)
            for mode in ("write", "read"):
                for size in SIZES:
                    common = dict(size=size, duration=d, warmup=w, clients=CLIENTS)
                    self.take(f"null {mode} {size} x{CLIENTS}", mode, "null", "fps",
                              dev=null_dev, **common)
                    self.take(f"cusetap {mode} {size} x{CLIENTS}", mode, "cusetap",
                              "fps", dev=tap_dev, **common)
                    self.take(f"cusetap {mode} {size} x{CLIENTS} by name", mode,
                              "cusetap", "fps", dev=tap_dev, by_name=True, **common)
        self.place(self.pin_cpus)

        for srv in (null, daemon, floor):
            _, problems = srv.stop()
            self.warnings += problems

        # Memory: a fresh daemon, so nothing measured above is counted.
        rssname = unique_name("bm", lambda n: iface_exists(n + "0"))
        rssd = Server("cusetap (rss)", [daemon_bin, "-f", "--devname", rssname,
                                         "--pidfile", f"{self.tmp}/rss.pid"],
                      f"{self.tmp}/rss.pid", f"{self.tmp}/rss.log")
        self.servers.append(rssd)
        rssd.start()
        time.sleep(0.5)
        rss_key = f"cusetap rss {self.args.clones}"
        self.take(rss_key, "rss", "cusetap", "rss_kib", dev=f"/dev/{rssname}",
                  count=self.args.clones, daemon_pid=rssd.pid)
        took, problems = rssd.stop()
        self.warnings += problems
        for r in self.runs.get(rss_key, []):
            r["stop_s"] = round(took, 3)
        self.select()

    def cleanup(self):
        for srv in self.servers:
            srv.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- checks, ratios, report ---------------------------------------------

    def check(self):
        """Warn when a number cannot be trusted."""
        for key, r in self.results.items():
            # Every frame written must arrive, and nothing else
            if "host_rx_frames" in r and r.get("mode") == "write":
                if r["host_rx_frames"] != r["frames_written"]:
                    self.warnings.append(f"{key}: client wrote {r['frames_written']} "
                                         f"frames, the host received {r['host_rx_frames']}")
        g = self.results.get("cusetap gso")
        if g:
            want = g["frames_written"] * GSO_SIZE
            g["verified"] = g["host_rx_bytes"] >= 0.99 * want
            if not g["verified"]:
                self.warnings.append(f"cusetap gso: client wrote {want} frame bytes, the "
                                     f"host's rx_bytes grew by {g['host_rx_bytes']}: "
                                     f"super-frames were refused")

    def get(self, key, field):
        r = self.results.get(key)
        return None if r is None else r.get(field)

    def one_client(self, mode, size):
        """The single-client frames/s 4 clients are compared with: the best
        one client did, whichever placement of a read's sender gave it."""
        runs = [self.get(f"cusetap {mode} {size}", "fps")]
        if mode == "read":
            runs.append(self.get(f"cusetap read {size} one cpu", "fps"))
        runs = [r for r in runs if r is not None]
        return max(runs) if runs else None

    def ratios(self):
        rows = []

        def ratio(name, num, den, op=None, target=None, unit="x"):
            value = None if num is None or den in (None, 0) else num / den
            met = None
            if value is not None and op is not None:
                met = value >= target if op == ">=" else value <= target
            rows.append({"name": name, "value": value, "op": op, "target": target,
                         "met": met, "unit": unit})

        for mode in ("write", "read"):
            for size in SIZES:
                ratio(f"{mode} {size} B: cusetap / null CUSE",
                      self.get(f"cusetap {mode} {size}", "fps"),
                      self.get(f"null {mode} {size}", "fps"), ">=", 0.90)
        for size in SIZES if self.sender_cpu is not None else ():
            ratio(f"read {size} B: the same, sender on the client's CPU",
                  self.get(f"cusetap read {size} one cpu", "fps"),
                  self.get(f"null read {size}", "fps"))
        for mode in ("write", "read"):
            for size in SIZES:
                ratio(f"{mode} {size} B: cusetap / native",
                      self.get(f"cusetap {mode} {size}", "fps"),
                      self.get(f"native {mode} {size}", "fps"))
        ratio("echo p50: cusetap / null read+write",
              self.get("cusetap echo 64", "p50_us"), self.get("null rtt 64", "p50_us"),
              "<=", 1.15)
        ratio("echo p99: cusetap / null read+write",
              self.get("cusetap echo 64", "p99_us"), self.get("null rtt 64", "p99_us"))
        ratio("echo p50: floor (nullcuse --tap) / null read+write",
              self.get("floor echo 64", "p50_us"), self.get("null rtt 64", "p50_us"))
        ratio("echo p50: cusetap / floor (nullcuse --tap)",
              self.get("cusetap echo 64", "p50_us"), self.get("floor echo 64", "p50_us"))
        ratio("echo p99: cusetap / floor (nullcuse --tap)",
              self.get("cusetap echo 64", "p99_us"), self.get("floor echo 64", "p99_us"))
        ratio("read 64 B after poll(): cusetap / null CUSE",
              self.get("cusetap read 64 poll", "fps"), self.get("null read 64 poll", "fps"))
        for mode in ("write", "read"):
            for size in SIZES:
                one = self.one_client(mode, size)
                ratio(f"{mode} {size} B: cusetap {CLIENTS} clones / 1 client",
                      self.get(f"cusetap {mode} {size} x{CLIENTS}", "fps"),
                      one, ">=", 1.5)
                ratio(f"{mode} {size} B: cusetap {CLIENTS} units by name / 1 client",
                      self.get(f"cusetap {mode} {size} x{CLIENTS} by name", "fps"),
                      one, ">=", 1.5)
                ratio(f"{mode} {size} B: null CUSE {CLIENTS} clients / 1 (machine)",
                      self.get(f"null {mode} {size} x{CLIENTS}", "fps"),
                      self.get(f"null {mode} {size}", "fps"))
        g = self.results.get("cusetap gso")
        ratio("vnet+GSO 64 KiB / 1514 B frames, bytes/s",
              g["bytes_per_s"] if g and g.get("verified") else None,
              self.get("cusetap write 1514", "bytes_per_s"), ">=", 10.0)
        rss = self.get(f"cusetap rss {self.args.clones}", "rss_kib")
        ratio(f"RSS with {self.args.clones} open clones", None if rss is None else rss / 1024,
              1, "<=", 64.0, unit="MiB")
        return rows

    def report(self, rows):
        def fmt(v, nd=0):
            if v is None:
                return "n/a"
            return f"{v:,.{nd}f}"

        def div(a, b):
            return None if a is None or not b else a / b

        out = []
        cpu = "CPU %s" % ",".join(map(str, sorted(self.pin_cpus)))
        out.append("")
        sender = ("" if self.sender_cpu is None else
                  f", the host's sender of reads on CPU {self.sender_cpu}")
        out.append(f"Throughput, frames/s, one client, servers and client on {cpu}"
                   f"{sender} (best of {self.args.repeat}; {self.args.duration:g} s each)")
        out.append(f"{'':16}{'null CUSE':>11}{'native':>11}{'cusetap':>11}"
                   f"{'cusetap/null':>14}{'cusetap/native':>16}")
        for mode in ("write", "read"):
            for size in SIZES:
                n = self.get(f"null {mode} {size}", "fps")
                t = self.get(f"native {mode} {size}", "fps")
                c = self.get(f"cusetap {mode} {size}", "fps")
                out.append(f"{mode + ' ' + str(size) + ' B':16}{fmt(n):>11}{fmt(t):>11}"
                           f"{fmt(c):>11}{fmt(div(c, n), 2):>14}{fmt(div(c, t), 4):>16}")
        for size in SIZES if self.sender_cpu is not None else ():
            n = self.get(f"null read {size}", "fps")
            c = self.get(f"cusetap read {size} one cpu", "fps")
            out.append(f"{'read ' + str(size) + ' B':16}{'':>11}{'':>11}{fmt(c):>11}"
                       f"{fmt(div(c, n), 2):>14}  sender on {cpu}")
        n, c = self.get("null read 64 poll", "fps"), self.get("cusetap read 64 poll", "fps")
        out.append(f"{'read 64 B':16}{fmt(n):>11}{'':>11}{fmt(c):>11}"
                   f"{fmt(div(c, n), 2):>14}  poll() before each read")
        out.append("")
        out.append(f"Throughput, frames/s, {CLIENTS} clients on their own units, every CPU "
                   f"({len(self.all_cpus)}), against the best single client above")
        out.append(f"{'':16}{'null x1':>11}{'null x4':>11}{'ratio':>7}"
                   f"{'cusetap x1':>12}{'clones x4':>12}{'ratio':>7}"
                   f"{'by name x4':>12}{'ratio':>7}")
        for mode in ("write", "read"):
            for size in SIZES:
                n1 = self.get(f"null {mode} {size}", "fps")
                n4 = self.get(f"null {mode} {size} x{CLIENTS}", "fps")
                c1 = self.one_client(mode, size)
                c4 = self.get(f"cusetap {mode} {size} x{CLIENTS}", "fps")
                b4 = self.get(f"cusetap {mode} {size} x{CLIENTS} by name", "fps")
                out.append(f"{mode + ' ' + str(size) + ' B':16}{fmt(n1):>11}{fmt(n4):>11}"
                           f"{fmt(div(n4, n1), 2):>7}{fmt(c1):>12}{fmt(c4):>12}"
                           f"{fmt(div(c4, c1), 2):>7}{fmt(b4):>12}{fmt(div(b4, c1), 2):>7}")
        out.append("")
        out.append("CPU time per frame, microseconds, one client placed as in the first "
                   "table: of the server (nullcuse, cusetap) and of the client")
        out.append(f"{'':16}{'null srv':>10}{'cusetap srv':>13}{'null cli':>10}"
                   f"{'native cli':>12}{'cusetap cli':>13}")
        for mode in ("write", "read"):
            for size in SIZES:
                out.append(f"{mode + ' ' + str(size) + ' B':16}"
                           f"{fmt(self.get(f'null {mode} {size}', 'server_cpu_us_per_frame'), 1):>10}"
                           f"{fmt(self.get(f'cusetap {mode} {size}', 'server_cpu_us_per_frame'), 1):>13}"
                           f"{fmt(self.get(f'null {mode} {size}', 'client_cpu_us_per_frame'), 1):>10}"
                           f"{fmt(self.get(f'native {mode} {size}', 'client_cpu_us_per_frame'), 1):>12}"
                           f"{fmt(self.get(f'cusetap {mode} {size}', 'client_cpu_us_per_frame'), 1):>13}")
        out.append(f"{'round trip':16}"
                   f"{fmt(self.get('null rtt 64', 'server_cpu_us_per_rtt'), 1):>10}"
                   f"{fmt(self.get('cusetap echo 64', 'server_cpu_us_per_rtt'), 1):>13}"
                   f"  (echo; nullcuse --tap: "
                   f"{fmt(self.get('floor echo 64', 'server_cpu_us_per_rtt'), 1)})")
        out.append("")
        out.append("Latency, microseconds")
        out.append(f"{'':40}{'p50':>10}{'p99':>10}")
        for key, label in (("null rtt 64", "null CUSE read + write, 64 B"),
                           ("native echo 64", "native TAP echo (host RTT), 64 B"),
                           ("floor echo 64", "nullcuse --tap echo (host RTT), 64 B"),
                           ("cusetap echo 64", "cusetap echo (host RTT), 64 B")):
            out.append(f"{label:40}{fmt(self.get(key, 'p50_us'), 1):>10}"
                       f"{fmt(self.get(key, 'p99_us'), 1):>10}")
        out.append("")
        g = self.results.get("cusetap gso") or {}
        b1514 = self.get("cusetap write 1514", "bytes_per_s")
        out.append("Bytes, cusetap writes")
        out.append(f"  1514 B frames:            {fmt(b1514 and b1514 * 8 / 1e9, 3)} Gbit/s")
        out.append(f"  64 KiB vnet+GSO frames:   {fmt(g.get('gbit_s'), 3)} Gbit/s "
                   f"({fmt(g.get('fps'))} frames/s; host rx_bytes "
                   f"{'confirm' if g.get('verified') else 'do NOT confirm'})")
        rss_key = f"cusetap rss {self.args.clones}"
        r = self.results.get(rss_key) or {}
        out.append("")
        out.append("Daemon memory (VmRSS)")
        out.append(f"  idle (bench daemon at start): "
                   f"{fmt(self.get('rss_idle', 'rss_kib'))} KiB")
        out.append(f"  fresh daemon, idle:           {fmt(r.get('rss_idle_kib'))} KiB")
        out.append(f"  with {self.args.clones} open clones:      {fmt(r.get('rss_kib'))} KiB "
                   f"({fmt(r.get('kib_per_clone'), 1)} KiB per clone; "
                   f"opened in {fmt(r.get('open_s'), 1)} s, "
                   f"daemon stopped in {fmt(r.get('stop_s'), 1)} s)")
        out.append("")
        out.append("Ratios against the issue's targets (informational)")
        out.append(f"{'':58}{'value':>9}  {'target':>9}  met")
        for row in rows:
            v = row["value"]
            vs = "n/a" if v is None else (f"{v:.1f}" if row["unit"] == "MiB" else f"{v:.2f}")
            if row["unit"] == "MiB" and v is not None:
                vs += " MiB"
            tg = "" if row["op"] is None else f"{row['op']} {row['target']:g}"
            if row["unit"] == "MiB" and row["op"]:
                tg += " MiB"
            met = "" if row["op"] is None else ("n/a" if row["met"] is None else
                                                 "yes" if row["met"] else "NO")
            out.append(f"{row['name']:58}{vs:>9}  {tg:>9}  {met}")
        targeted = [r for r in rows if r["op"]]
        out.append(f"targets met: {sum(1 for r in targeted if r['met'])} of {len(targeted)}")
        for w in self.warnings:
            out.append(f"warning: {w}")
        for key, msg in self.failures:
            out.append(f"not measured: {key}: {msg}")
        print("\n".join(out), flush=True)


def environment():
    env = {"kernel": platform.release(), "cpus": os.cpu_count(),
           "in_vm": bool(os.environ.get("CUSETAP_VM_RESULTS")),
           "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            env["cpu"] = m.group(1) if m else None
    except OSError:
        pass
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    ap.add_argument("--warmup", type=float, default=0.3, help="unmeasured seconds before")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of measurements; the best run is kept")
    ap.add_argument("--iters", type=int, default=2000, help="round trips per latency run")
    ap.add_argument("--clones", type=int, default=CLONES, help="clones for the RSS run")
    ap.add_argument("--cpu", type=int, default=0,
                    help="CPU for the single-client phase (default 0)")
    ap.add_argument("--no-pin", dest="cpu", action="store_const", const=None,
                    help="run the single-client phase on every CPU")
    args = ap.parse_args()

    if os.geteuid() != 0:
        log("must run as root (it creates devices and interfaces)")
        return 2
    for path, hint in (("/dev/cuse", "this kernel has no CUSE: use scripts/bench, "
                                     "which runs it in scripts/vm"),
                       ("/dev/net/tun", "modprobe tun")):
        if not os.path.exists(path):
            log(f"{path} is missing: {hint}")
            return 2
    for exe in ("cusetap/cusetap", "bench/benchclient", "bench/nullcuse"):
        if not os.access(os.path.join(args.build_dir, exe), os.X_OK):
            log(f"{args.build_dir}/{exe} is missing: build first (scripts/build)")
            return 2

    b = Bench(args)
    t0 = time.monotonic()
    try:
        b.run()
    except BenchError as e:
        b.failures.append(("setup", str(e)))
        log(f"FAILED: {e}")
    finally:
        b.cleanup()
    b.check()
    rows = b.ratios()
    b.report(rows)
    elapsed = time.monotonic() - t0
    print(f"bench: {elapsed:.0f} s in all", flush=True)
    if args.json:
        doc = {"environment": environment(), "settings": vars(args),
               "results": b.results, "ratios": rows, "warnings": b.warnings,
               "failures": [{"key": k, "error": m} for k, m in b.failures],
               "elapsed_s": round(elapsed, 1)}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"bench: results in {args.json}", flush=True)
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())
