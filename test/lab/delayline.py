#!/usr/bin/env python3
"""TUN delay lines for the catchment lab.

This kernel has no netem, so links between the lab's namespaces are pairs of
TUN devices joined by this process: every packet read from one end is
written to the other after the link's one-way delay. One process serves
every link (select over all ends, a heap of due packets), so the delay is
microsecond-stable and costs one Python process for the whole lab.

Usage: delayline.py SPEC.json   SPEC: [{"a": "cp0i", "b": "cp0p", "ab_ms": 5.0, "ba_ms": 5.0}, ...]
Prints "ready" once every device exists; the lab then moves each end into
its namespace and configures it. SIGTERM ends it (and removes the devices).
"""
import fcntl
import heapq
import json
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    with open(sys.argv[1]) as spec_file:
        links = json.load(spec_file)
    route = {}  # fd -> (peer fd, delay in seconds)
    for link in links:
        a = open_tun(link["a"])
        b = open_tun(link["b"])
        route[a] = (b, link["ab_ms"] / 1000.0)
        route[b] = (a, link["ba_ms"] / 1000.0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)

    due = []  # (release time, sequence, out fd, packet)
    sequence = 0
    readers = list(route)
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        ready, _, _ = select.select(readers, [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            out, delay = route[fd]
            while True:
                try:
                    packet = os.read(fd, 65535)
                except BlockingIOError:
                    break
                except OSError:
                    break
                heapq.heappush(due, (now + delay, sequence, out, packet))
                sequence += 1
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, out, packet = heapq.heappop(due)
            try:
                os.write(out, packet)
            except OSError:
                pass  # the far end is down (not configured yet, or its namespace is gone): the packet is lost, as on a wire


if __name__ == "__main__":
    main()
