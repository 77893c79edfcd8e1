"""`tunegen serve` over real HTTP on 127.0.0.1 with the shipped models: the API's contract, bad
input, the bounds (queue, workers, kept pieces), and the command's start and stop."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import tunegen
from tunegen.runtime.serve import _is_loopback
from tunegen.runtime.serve_http import Workshop, start


class Client:
    """A tiny HTTP client on one loopback port; paths are sent exactly as given."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def post(self, data) -> tuple[int, dict]:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        status, _, raw = self.request("POST", "/api/pieces", body, {"Content-Type": "application/json"})
        return status, json.loads(raw)


def _running(workers: int = 2, depth: int = 4, keep: int = 24, names=("folk", "piano")):
    root = Path(tempfile.mkdtemp(prefix="tunegen-serve-test-"))
    shop = Workshop(list(names), root, keep, workers, depth)
    server = start("127.0.0.1", 0, shop)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server, shop, Client(server.server_address[1])


@pytest.fixture(scope="module")
def served():
    server, shop, client = _running()
    yield shop, client
    server.shutdown()
    server.server_close()
    shop.queue.stop()


@pytest.fixture(scope="module")
def folk3(served):
    _, client = served
    status, piece = client.post({"model": "folk", "seed": 3})
    assert status == 201, piece
    return piece


def test_page_and_assets_are_tunegens_own(served):
    _, client = served
    status, headers, html = client.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for path in ("/app.js", "/style.css"):
        s, h, body = client.request("GET", path)
        assert s == 200 and h["Content-Type"].startswith(("text/javascript", "text/css"))
        html += body
    # no external URL anywhere: fonts, scripts and styles all come from the device
    assert not re.findall(rb"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html)


def test_models_list_only_the_options_each_kind_takes(served):
    _, client = served
    status, _, body = client.request("GET", "/api/models")
    models = {m["name"]: m for m in json.loads(body)["models"]}
    assert set(models) == {"folk", "piano"} and models["folk"]["default"] and not models["piano"]["default"]
    folk = {o["name"]: o for o in models["folk"]["options"]}
    piano = {o["name"]: o for o in models["piano"]["options"]}
    assert "primer" in folk and "bars" not in folk and "seconds" not in folk
    assert "bars" in piano and "seconds" in piano and "primer" not in piano
    assert models["folk"]["files"] == ["svg", "wav", "mid", "abc"] and "abc" not in models["piano"]["files"]
    assert folk["temperature"]["default"] == 0.8 and piano["bars"]["default"] == 24
    assert folk["bpm"]["default"] == 160 and folk["seed"]["min"] == 0


def test_a_piece_is_the_apis_piece_with_its_files(served, folk3):
    _, client = served
    # the same tune the Python API makes with the same seed, and again from the server
    assert folk3["abc"] == tunegen.load("folk").generate(seed=3).abc
    assert client.post({"model": "folk", "seed": 3})[1]["abc"] == folk3["abc"]
    assert folk3["seed"] == 3 and "seed 3" in folk3["description"]
    types = {"wav": "audio/wav", "mid": "audio/midi", "svg": "image/svg+xml", "abc": "text/vnd.abc"}
    got = {}
    for ext, url in folk3["files"].items():
        status, headers, got[ext] = client.request("GET", url)
        assert status == 200 and headers["Content-Type"].startswith(types[ext]), (ext, headers)
    w = wave.open(io.BytesIO(got["wav"]))
    x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    assert w.getnframes() / w.getframerate() > 2 and np.sqrt(np.mean(x.astype(float) ** 2)) > 100
    assert got["svg"].lstrip().startswith((b"<?xml", b"<svg")) and b"<svg" in got["svg"]
    assert got["mid"].startswith(b"MThd") and got["abc"].decode() == folk3["abc"]
    status, _, body = client.request("GET", f"/api/pieces/{folk3['id']}")
    assert status == 200 and json.loads(body)["abc"] == folk3["abc"]


def test_piano_takes_its_length_and_tempo(served):
    _, client = served
    status, piece = client.post({"model": "piano", "seed": 2, "bars": 8, "bpm": 80})
    assert status == 201, piece
    assert piece["description"].startswith("8 bars") and "abc" not in piece and "abc" not in piece["files"]
    assert set(piece["files"]) == {"svg", "wav", "mid"}


def test_audio_ranges(served, folk3):
    _, client = served
    url = folk3["files"]["wav"]
    _, _, whole = client.request("GET", url)
    status, headers, part = client.request("GET", url, headers={"Range": "bytes=100-199"})
    assert status == 206 and part == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    status, _, tail = client.request("GET", url, headers={"Range": "bytes=-10"})
    assert status == 206 and tail == whole[-10:]
    status, _, body = client.request("GET", url, headers={"Range": f"bytes={len(whole) + 5}-"})
    assert status == 416 and "error" in json.loads(body)


def test_a_bad_value_gets_the_command_lines_message(served, tmp_path):
    _, client = served
    cli = subprocess.run([sys.executable, "-m", "tunegen.runtime.cli", "generate", "--temperature", "-1",
                          "--out", str(tmp_path / "x.abc")], capture_output=True, text=True)
    status, body = client.post({"model": "folk", "temperature": -1})
    assert status == 400 and cli.returncode == 1
    assert cli.stderr.strip() == f"error: {body['error']}"


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"temperature": NaN}', "not JSON"),
    (b'{"temperature": 1e999}', "must be a number"),
    ({"model": "nope"}, "unknown model"),
    ({"model": 3}, "unknown model"),
    ({"model": "folk", "bars": 8}, "unknown field bars"),
    ({"model": "piano", "primer": "M:6/8"}, "unknown field primer"),
    ({"tempo": 90}, "unknown field tempo"),
    ({"model": "folk", "key": "Hmix"}, "is not one ABC writes"),
    ({"model": "folk", "parts": 0}, "parts must be 1-8"),
    ({"seed": "3"}, "whole number"),
    ({"seed": True}, "whole number"),
    ({"seed": 1.5}, "whole number"),
    ({"seed": -1}, "seed must be 0-2147483647"),
    ({"temperature": "hot"}, "must be a number"),
    ({"top_p": 2}, "top-p"),
    ({"top_k": -1}, "top-k"),
    ({"candidates": 100}, "candidates must be 1-8"),
    ({"max_length": 10**9}, "max_length must be 16-2000"),
    ({"bpm": 1000}, "bpm must be at most 400"),
    ({"program": 128}, "program must be at most 127"),
    ({"primer": 7}, "must be text"),
    ({"primer": "A" * 1001}, "at most 1000"),
    ({"primer": "K:Zzz"}, "not a value the model writes"),
    ({"model": "piano", "bars": 0}, "bars must be 1-64"),
    ({"model": "piano", "seconds": -1}, "seconds must be above 0"),
])
def test_bad_requests_are_400_with_a_message(served, body, says):
    _, client = served
    status, answer = client.post(body)
    assert status == 400 and says in answer["error"], answer


def test_path_tricks_and_unknown_urls_are_json_404s(served, folk3):
    _, client = served
    pid = folk3["id"]
    stem = folk3["files"]["abc"].rsplit("/", 1)[1].rsplit(".", 1)[0]
    for path in ("/api/pieces/../../etc/passwd", "/api/pieces/..%2F..%2F..%2Fetc%2Fpasswd", "/etc/passwd",
                 f"/api/pieces/{pid}/../../../../etc/passwd", f"/api/pieces/{pid}/%2e%2e%2fpasswd.abc",
                 f"/api/pieces/{pid}/{stem}.py", f"/api/pieces/{pid}/passwd.abc", "/api/pieces/0123456789ab",
                 "/web/app.js", "/../README.md", "/api/pieces/" + "a" * 5000):
        status, headers, body = client.request("GET", path)
        assert status == 404 and headers["Content-Type"] == "application/json", path
        assert b"root:" not in body and "error" in json.loads(body)


def test_body_limits_and_methods(served):
    _, client = served
    status, _, body = client.request("POST", "/api/pieces", b"{" + b" " * 20000 + b"}")
    assert status == 413 and "16384" in json.loads(body)["error"]
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
    conn.putrequest("POST", "/api/pieces")
    conn.endheaders()
    assert conn.getresponse().status == 411
    status, headers, _ = client.request("DELETE", "/api/pieces")
    assert status == 405 and "POST" in headers["Allow"]
    assert client.request("POST", "/api/models", b"{}")[0] == 404


def test_never_more_generations_than_workers(served):
    shop, client = served
    active, peak, lock = [0], [0], threading.Lock()
    make = shop.make

    def counted(*args):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return make(*args)
        finally:
            with lock:
                active[0] -= 1

    shop.make = counted
    try:
        with ThreadPoolExecutor(6) as ex:
            codes = list(ex.map(lambda s: client.post({"model": "folk", "seed": 50 + s})[0], range(6)))
    finally:
        shop.make = make
    assert codes == [201] * 6 and peak[0] == shop.queue.workers == 2


def test_a_full_queue_is_503_with_retry_after():
    server, shop, client = _running(workers=1, depth=0, keep=4, names=("piano",))
    try:
        slow = threading.Thread(target=client.post, args=({"seed": 1, "bars": 32},))
        slow.start()
        time.sleep(0.3)  # the worker is busy with the piano piece, and there is no room to wait
        status, headers, body = client.request("POST", "/api/pieces", b'{"seed": 1, "bars": 4}')
        slow.join()
        assert status == 503 and int(headers["Retry-After"]) >= 1 and "busy" in json.loads(body)["error"]
        assert client.post({"seed": 1, "bars": 4})[0] == 201  # room again once it is done
    finally:
        server.shutdown()
        server.server_close()
        shop.queue.stop()


def test_kept_pieces_are_bounded_and_the_oldest_dropped():
    server, shop, client = _running(workers=1, depth=2, keep=2, names=("folk",))
    try:
        pieces = [client.post({"model": "folk", "seed": s})[1] for s in (1, 2, 3)]
        assert client.request("GET", pieces[0]["files"]["abc"])[0] == 404
        assert client.request("GET", f"/api/pieces/{pieces[0]['id']}")[0] == 404
        assert client.request("GET", pieces[2]["files"]["wav"])[0] == 200
        assert sorted(p.name for p in shop.root.iterdir()) == sorted(p["id"] for p in pieces[1:])
        listed = json.loads(client.request("GET", "/api/pieces")[2])["pieces"]
        assert [p["id"] for p in listed] == [pieces[2]["id"], pieces[1]["id"]]
    finally:
        server.shutdown()
        server.server_close()
        shop.queue.stop()


def test_loopback_is_the_default():
    assert _is_loopback("127.0.0.1") and _is_loopback("localhost") and _is_loopback("::1")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.2") and not _is_loopback("pi.local")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_listens_on_loopback_and_stops_on_sigterm_within_a_second(tmp_path):
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "tunegen.runtime.cli", "serve", "--port", str(port),
                             "--model", "folk", "--workers", "1"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert f"on http://127.0.0.1:{port}/" in line and "open to the network" not in line, line
        client = Client(port)
        assert client.post({"seed": 1})[0] == 201
        with pytest.raises(OSError):  # not reachable on another address of this machine
            socket.create_connection(("127.0.0.2", port), timeout=1).close()
        def cut_off():
            with pytest.raises(http.client.HTTPException):  # the server stops before it answers
                client.post({"seed": 2})

        threading.Thread(target=cut_off, daemon=True).start()
        time.sleep(0.2)  # stop while a tune is being made
        t = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        assert time.perf_counter() - t < 1.0
        assert "stopped" in proc.stderr.read() and proc.returncode == 0
        assert not list(tmp_path.glob("tunegen-serve-*"))  # its pieces are cleaned up
    finally:
        proc.kill()


def test_pieces_made_at_once_all_get_their_sheet(served):
    # Verovio finds its fonts only in a thread that set its resource path: every worker does
    _, client = served
    with ThreadPoolExecutor(2) as ex:
        pieces = list(ex.map(lambda s: client.post({"model": "piano", "seed": s, "bars": 4}), (11, 12)))
    for status, piece in pieces:
        assert status == 201 and "svg" in piece["files"] and "problems" not in piece, piece.get("problems")
