#!/usr/bin/env python3
"""Starts a veem daemon the way its systemd unit would on a machine without systemd (a container): detached, with
the unit's ExecStart= and EnvironmentFile=, output to a log, and a NOTIFY_SOCKET of our own; returns once the daemon
sends READY=1 (exit 0, its STATUS= printed) or fails loudly with the log's end if it exits or is silent first.

Usage: start-daemon.py UNIT_FILE LOG PIDFILE [TIMEOUT_SECONDS]
"""
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

unit_file, log_path, pid_path = sys.argv[1:4]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120
service = {}
section = None
for line in open(unit_file, encoding="utf-8"):
    line = line.strip()
    if line.startswith("["):
        section = line
    elif section == "[Service]" and "=" in line and not line.startswith("#"):
        key, value = line.split("=", 1)
        service[key] = value
name = os.path.basename(unit_file)

environment = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
environment_file = service.get("EnvironmentFile", "")
optional = environment_file.startswith("-")
environment_file = environment_file.lstrip("-")
if environment_file:
    if os.path.exists(environment_file):
        for line in open(environment_file, encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                environment[key.strip()] = value.strip().strip('"')
    elif not optional:
        sys.exit(f"{name}: EnvironmentFile {environment_file} is missing")

directory = tempfile.mkdtemp(prefix="veem-notify-")
notify_path = os.path.join(directory, "notify")
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(notify_path)
environment["NOTIFY_SOCKET"] = notify_path
log = open(log_path, "ab")
process = subprocess.Popen(shlex.split(service["ExecStart"]), env=environment, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log, start_new_session=True)
with open(pid_path, "w", encoding="utf-8") as pidfile:
    pidfile.write(f"{process.pid}\n")


def fail(why):
    log.flush()
    tail = open(log_path, "rb").read()[-3000:].decode(errors="replace")
    sys.exit(f"{name} did not start: {why}\n--- {log_path} ---\n{tail}")


deadline = time.monotonic() + timeout
notify.settimeout(0.5)
while time.monotonic() < deadline:
    if process.poll() is not None:
        fail(f"it exited with status {process.returncode}")
    try:
        message = notify.recv(4096).decode(errors="replace")
    except socket.timeout:
        continue
    lines = message.split("\n")
    if "READY=1" in lines:
        status = next((l[len("STATUS="):] for l in lines if l.startswith("STATUS=")), "ready")
        print(f"{name}: {status} (pid {process.pid})")
        notify.close()
        os.unlink(notify_path)
        os.rmdir(directory)
        sys.exit(0)
process.kill()
fail(f"no READY=1 within {timeout:.0f} s")
