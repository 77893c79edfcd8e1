"""`tunegen serve` under load, on loopback: 8 clients send 200 requests for folk tunes; all must be
served. Prints p50/p95 latency, the server's RSS at start, after warm-up and at the end, and a warm
POST /api/pieces beside the same work through the Python API (generate, then render the SVG, WAV,
MIDI and ABC the server makes), side by side in one run.

    .venv/bin/python bench/serve.py [--requests 200] [--clients 8] [--warm 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def post(base: str, body: dict) -> tuple[int, float]:
    req = urllib.request.Request(base + "/api/pieces", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--warm", type=int, default=10, help="sequential requests for the warm comparison")
    args = ap.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "tunegen.runtime.cli", "serve", "--port", str(port),
                               "--model", "folk"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/api/models", timeout=2).read()
                break
            except OSError:
                time.sleep(0.25)
        rss_start = rss_mb(server.pid)

        # warm: one request at a time, against the same work in this process through the API
        import tunegen

        model = tunegen.load("folk")
        served, direct = [], []
        for seed in range(1, args.warm + 1):
            status, dt = post(base, {"model": "folk", "seed": seed})
            assert status == 201, status
            t = time.perf_counter()
            piece = model.generate(seed=seed)
            for suffix in (".svg", ".wav", ".mid", ".abc"):
                try:
                    piece.data(suffix)
                except tunegen.TunegenError:  # the server too goes on without a sheet it cannot engrave
                    pass
            direct.append(time.perf_counter() - t)
            served.append(dt)
        rss_warm = rss_mb(server.pid)

        # load: many clients at once
        with ThreadPoolExecutor(args.clients) as ex:
            t = time.perf_counter()
            results = list(ex.map(lambda i: post(base, {"model": "folk", "seed": 1000 + i}), range(args.requests)))
            wall = time.perf_counter() - t
        rss_end = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(10)

    codes = [c for c, _ in results]
    lat = sorted(dt for _, dt in results)
    ok = codes.count(201)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    api, srv = statistics.median(direct), statistics.median(served)
    print(f"CPU: {cpu()}, {len(__import__('os').sched_getaffinity(0))} cores; Python {platform.python_version()}")
    print(f"load: {args.requests} requests from {args.clients} clients on loopback, folk tunes")
    print(f"  served {ok}/{len(codes)} (other codes: {sorted(set(codes) - {201}) or 'none'}), "
          f"{args.requests / wall:.2f} pieces/s over {wall:.1f} s")
    print(f"  latency p50 {p(0.5):.2f} s, p95 {p(0.95):.2f} s, max {lat[-1]:.2f} s")
    print(f"  server RSS: start {rss_start:.1f} MB, after warm-up {rss_warm:.1f} MB, end {rss_end:.1f} MB "
          f"(growth under load {rss_end - rss_warm:+.1f} MB; target <= 10)")
    print(f"warm, one at a time, median of {args.warm} seeds:")
    print(f"  {'POST /api/pieces (generate + SVG, WAV, MIDI, ABC)':52} {srv * 1000:7.0f} ms")
    print(f"  {'model.generate + piece.data(same four) in the API':52} {api * 1000:7.0f} ms")
    print(f"  ratio {srv / api:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
