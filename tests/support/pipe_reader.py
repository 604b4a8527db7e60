"""A reader on a real pipe (what `bun-acme ... | jq` gives a command), for tests/cli/std-io.test.ts.

    python3 pipe_reader.py lag|stall|gone|merged TIMEOUT COMMAND...

Runs COMMAND with its standard output and error on OS pipes. `lag`: reads nothing from standard
output until the command said "written" on standard error, then reads it to the end. `stall`:
never reads standard output; waits for "ticked" on standard error. `gone`: standard output's
reader is closed before the command starts (`| head -1` after its line, a restarted journald), so
every write to it fails with EPIPE; waits for "ticked" on standard error. `merged`: standard output
and error on one pipe (`2>&1 |`, journald's StandardError=inherit), read only after a second,
then to the end; "said" is what came through it. Prints one JSON line: the bytes
read from standard output, the exit code (null if the command was still running at TIMEOUT
seconds, then killed) and what the command said on standard error.
"""
import json
import os
import select
import subprocess
import sys
import time

mode, timeout, command = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
if mode == "merged":
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1)
    merged = child.stdout.read()
    print(json.dumps({"bytes": len(merged), "code": child.wait(timeout=timeout), "said": merged.decode(errors="replace")}))
    sys.exit(0)
if mode == "gone":
    read_end, write_end = os.pipe()
    os.close(read_end)
    child = subprocess.Popen(command, stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
else:
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
marker = b"written" if mode == "lag" else b"ticked"
said = b""
deadline = time.monotonic() + timeout
while marker not in said:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([child.stderr], [], [], left)[0]:
        break
    chunk = os.read(child.stderr.fileno(), 4096)
    if not chunk:
        break
    said += chunk
if mode != "lag":
    # the rest of standard error, to the command's exit: what it said after the marker (a late error)
    while time.monotonic() < deadline and select.select([child.stderr], [], [], max(deadline - time.monotonic(), 0))[0]:
        chunk = os.read(child.stderr.fileno(), 4096)
        if not chunk:
            break
        said += chunk
received = 0
if mode == "lag" and marker in said:
    while True:
        chunk = os.read(child.stdout.fileno(), 65536)
        if not chunk:
            break
        received += len(chunk)
try:
    code = child.wait(timeout=max(deadline - time.monotonic(), 0.1))
except subprocess.TimeoutExpired:
    child.kill()
    child.wait()
    code = None
print(json.dumps({"bytes": received, "code": code, "said": said.decode(errors="replace")}))
