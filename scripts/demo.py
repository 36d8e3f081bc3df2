#!/usr/bin/python3
"""demo.py - show one Ethernet frame cross a cusetap /dev/tap each way.

usage: scripts/demo.py [--dev /dev/tap] [--timeout SEC]

Run as root with a cusetap daemon serving the device (scripts/run --demo does
all of it). The client side is what a BSD program does: open the cloning
node, ask its interface name with FreeBSD's TAPGIFNAME, read and write whole
frames. The host side is plain Linux: `ip link` and AF_PACKET sockets on the
interface the daemon created.
"""

import argparse
import fcntl
import os
import select
import socket
import subprocess
import sys
import time

TAPGIFNAME = 0x4020745D  # FreeBSD _IOR('t', 93, struct ifreq), 32 bytes
ETHERTYPE = 0x88B5  # IEEE "local experimental": nobody else sends it
BROADCAST = b"\xff" * 6
CLIENT_MAC = bytes.fromhex("020000c0ffee")  # locally administered, unicast


def mac_text(mac):
    """mac_text() - Return MAC bytes as aa:bb:cc:dd:ee:ff."""
    return ":".join(f"{b:02x}" for b in mac)


def describe(frame):
    """describe() - Return a one-line summary of an Ethernet frame."""
    etype = int.from_bytes(frame[12:14], "big")
    payload = frame[14:].rstrip(b"\0")
    return (f"{len(frame)} bytes, {mac_text(frame[6:12])} -> {mac_text(frame[:6])}, "
            f"type 0x{etype:04x}, payload {payload!r}")


def tap_ifname(fd):
    """tap_ifname() - Ask the device for its interface name (TAPGIFNAME).

    The kernel passes the BSD ioctl number through CUSE unchanged; the name is
    the NUL-terminated start of the returned struct ifreq.
    """
    buf = bytearray(32)
    fcntl.ioctl(fd, TAPGIFNAME, buf, True)
    return bytes(buf).split(b"\0", 1)[0].decode()


def wait_frame(recv, fd, payload, deadline):
    """wait_frame() - Return the first frame from recv() that carries payload.

    Bringing an interface up makes the host send its own traffic (IPv6
    router solicitations, MLD reports): those are skipped, not errors.
    Return: the frame, or None once the deadline has passed.
    """
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        frame = recv()
        if frame is None:
            continue
        if int.from_bytes(frame[12:14], "big") == ETHERTYPE and payload in frame[14:]:
            return frame
        print(f"demo:   (skipped an unrelated frame: {describe(frame)[:60]}...)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", default="/dev/tap", help="cloning node (default /dev/tap)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for each frame (default 10)")
    args = ap.parse_args()

    fd = os.open(args.dev, os.O_RDWR)
    name = tap_ifname(fd)
    print(f"demo: opened {args.dev}; TAPGIFNAME says its interface is {name}")
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    with open(f"/sys/class/net/{name}/address") as f:
        host_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    print(f"demo: ip link set {name} up (host side MAC {mac_text(host_mac)})")

    # Host -> /dev/tap: the kernel transmits on the TAP interface, the daemon
    # queues the frame, and one read() on the device returns it whole.
    payload = b"hello from the host side"
    frame = BROADCAST + host_mac + ETHERTYPE.to_bytes(2, "big") + payload
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as tx:
        tx.bind((name, 0))
        tx.send(frame)
    print(f"demo: host sent      {describe(frame)}")
    got = wait_frame(lambda: os.read(fd, 65536), fd, payload,
                     time.monotonic() + args.timeout)
    if got is None:
        print(f"demo: FAIL: nothing arrived on {args.dev} within {args.timeout}s")
        return 1
    print(f"demo: {args.dev} read  {describe(got)}")

    # /dev/tap -> host: one write() is one frame received by the interface.
    # The capture socket exists before the write, so it cannot miss it.
    payload = f"hello from {args.dev}".encode()
    frame = BROADCAST + CLIENT_MAC + ETHERTYPE.to_bytes(2, "big") + payload
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE)) as rx:
        rx.bind((name, ETHERTYPE))

        def recv_incoming():
            data, addr = rx.recvfrom(65536)
            return None if addr[2] == socket.PACKET_OUTGOING else data

        n = os.write(fd, frame)
        print(f"demo: {args.dev} wrote {n} of {len(frame)} bytes: {describe(frame)}")
        got = wait_frame(recv_incoming, rx, payload, time.monotonic() + args.timeout)
    if got is None:
        print(f"demo: FAIL: the host saw nothing on {name} within {args.timeout}s")
        return 1
    print(f"demo: host received  {describe(got)}")
    os.close(fd)
    print("demo: OK, one frame crossed each way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
