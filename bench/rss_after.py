#!/usr/bin/env python3
"""Feeds questions to one long-lived `citebot ask --json -` process and reads its memory once every
answer is out, while it still runs: resident memory after N questions (VmRSS) and its high-water
mark (VmHWM), plus the time from start to the last answer.

Usage: rss_after.py QUESTIONS.txt -- COMMAND...
Prints one JSON object.
"""

import json
import subprocess
import sys
import threading
import time


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def main():
    sep = sys.argv.index("--")
    questions_path, command = sys.argv[1], sys.argv[sep + 1 :]
    with open(questions_path, encoding="utf-8") as f:
        questions = [line for line in f if line.strip()]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def feed():
        for q in questions:
            proc.stdin.write(q if q.endswith("\n") else q + "\n")
        proc.stdin.flush()

    writer = threading.Thread(target=feed)
    writer.start()
    answered = 0
    declined = 0
    for line in proc.stdout:
        answered += 1
        declined += not json.loads(line)["answered"]
        if answered == len(questions):
            break
    elapsed = time.perf_counter() - started
    memory = status(proc.pid)
    writer.join()
    proc.stdin.close()
    proc.wait()
    print(
        json.dumps(
            {
                "questions": answered,
                "declined": declined,
                "seconds": elapsed,
                "rss_kib": memory.get("VmRSS"),
                "hwm_kib": memory.get("VmHWM"),
                "exit": proc.returncode,
            }
        )
    )


if __name__ == "__main__":
    main()
