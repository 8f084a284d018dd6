#!/usr/bin/env python3
"""Resident memory of `citebot serve-http` after answering N questions.

Starts `citebot serve-http` on a free loopback port with a public key of its own (a fresh Ed25519
key pair; nothing reaches Discord: follow-ups, if any, go to a closed loopback port), waits for
/readyz, then POSTs N signed `/ask` interactions one after another over one keep-alive
connection, checks each reply is an interaction response, reads VmRSS and VmHWM from /proc while the
server still runs, and stops it with SIGTERM. Every request goes to 127.0.0.1 and the loop is
bounded by N.

Usage: serve_http_rss.py QUESTIONS.txt N WORKDIR -- COMMAND...   (COMMAND runs `citebot`, with any
env prefix; serve-http is appended). Prints one JSON object. Needs `cryptography` (bench/.venv).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rss_after import status  # bench/ is the script's own folder, first on sys.path

GUILD, CHANNEL, APP = "100000000000000001", "100000000000000002", "100000000000000003"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(n, question):
    user_id = str(200000000000000000 + n % 1000)
    user = {"id": user_id, "username": f"user{n % 1000}", "discriminator": "0", "global_name": None,
            "avatar": None, "bot": False}
    return {
        "id": str(300000000000000000 + n), "application_id": APP, "type": 2, "token": f"token-{n}",
        "version": 1, "guild_id": GUILD, "channel_id": CHANNEL, "locale": "en-US", "guild_locale": "en-US",
        "member": {"user": user, "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False,
                   "mute": False, "flags": 0, "permissions": "2248473465835073"},
        "entitlements": [], "attachment_size_limit": 8388608, "app_permissions": "2248473465835073",
        "authorizing_integration_owners": {"0": GUILD}, "context": 0,
        "data": {"id": "1", "name": "ask", "type": 1,
                 "options": [{"name": "question", "type": 3, "value": question}]},
    }


def main():
    sep = sys.argv.index("--")
    questions_path, n, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    command = sys.argv[sep + 1 :] + ["serve-http"]
    with open(questions_path, encoding="utf-8") as f:
        questions = [line.strip() for line in f if line.strip()]
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    port = free_port()
    env = dict(
        os.environ,
        DISCORD_PUBLIC_KEY=public,
        CITEBOT__HTTP__LISTEN=f"127.0.0.1:{port}",
        CITEBOT__DISCORD__API_URL="http://127.0.0.1:9",
        CITEBOT__DISCORD__COOLDOWN_SECONDS="0",
        CITEBOT__RELOAD__WATCH="false",
    )
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                sys.exit(f"serve-http exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("serve-http did not become ready in 600 s")
            time.sleep(0.05)
        ready_s = time.perf_counter() - started
        rss_ready = status(proc.pid)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        kinds = {}
        t0 = time.perf_counter()
        for i in range(n):
            body = json.dumps(ask(i, questions[i % len(questions)])).encode()
            timestamp = str(int(time.time()))
            signature = key.sign(timestamp.encode() + body).hex()
            conn.request("POST", "/interactions", body=body, headers={
                "Content-Type": "application/json", "X-Signature-Ed25519": signature,
                "X-Signature-Timestamp": timestamp})
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                sys.exit(f"request {i}: HTTP {response.status}: {payload[:300]!r}")
            kind = json.loads(payload).get("type")
            kinds[kind] = kinds.get(kind, 0) + 1
        elapsed = time.perf_counter() - t0
        memory = status(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(json.dumps({
        "questions": n, "response_types": kinds, "seconds": elapsed, "per_question_us": elapsed / n * 1e6,
        "ready_s": ready_s, "rss_ready_kib": rss_ready.get("VmRSS"), "rss_kib": memory.get("VmRSS"),
        "hwm_kib": memory.get("VmHWM"),
    }))


if __name__ == "__main__":
    main()
