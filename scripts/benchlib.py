"""Shared pieces of the benchmark scripts: free ports, starting redstart and redis-server side by
side, reading a process's CPU time and RSS from /proc, and driving redis-benchmark."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line; 12 and 13 after the ')'.
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Server:
    def __init__(self, name, argv, extra=(), dir=None):
        """`extra`: options after the defaults (so they override them); `dir`: an existing
        directory to run in (kept by `stop`) instead of a fresh temporary one."""
        self.name = name
        self.port = free_port()
        self.keep_dir = dir is not None
        self.dir = dir or tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.proc = subprocess.Popen(
            argv + ["--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", self.dir, *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(self.port)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True).stdout

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_benchmark(server, test, requests, pipeline, clients, keyspace, size):
    """One redis-benchmark test (`-t test`). Returns (ops/s, server CPU µs per operation)."""
    return run_redis_benchmark(server, ["-t", test, "-r", str(keyspace), "-d", str(size)], requests, pipeline,
                               clients)


def run_command_benchmark(server, command, requests, pipeline, clients, keyspace=None):
    """redis-benchmark running one custom command (a list of arguments; `__rand_int__` works
    with `keyspace`). Returns (ops/s, server CPU µs per operation)."""
    extra = ["-r", str(keyspace)] if keyspace else []
    return run_redis_benchmark(server, extra + command, requests, pipeline, clients)


def run_redis_benchmark(server, args, requests, pipeline, clients):
    cmd = ["redis-benchmark", "-p", str(server.port), "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
           "--csv"]
    # `args` holds options first, then a custom command's arguments if any.
    cmd += args
    cpu0 = cpu_seconds(server.proc.pid)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu1 = cpu_seconds(server.proc.pid)
    rps = None
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if len(cols) > 1 and cols[0] != "test":
            rps = float(cols[1])
    if rps is None:
        sys.exit(f"could not parse redis-benchmark output:\n{out}")
    return rps, (cpu1 - cpu0) / requests * 1e6  # µs of server CPU per operation


def load_keys(server, n, value_size, px=None):
    """Loads n distinct keys with fixed-size values through redis-cli --pipe (with a TTL in ms
    when `px` is given)."""
    value = b"x" * value_size
    ttl = b"" if px is None else b"$2\r\nPX\r\n$%d\r\n%d\r\n" % (len(str(px)), px)
    head = b"*3\r\n" if px is None else b"*5\r\n"
    chunks = []
    for i in range(n):
        key = b"key:%010d" % i
        chunks.append(head + b"$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value) + ttl)
    data = b"".join(chunks)
    subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], input=data, capture_output=True, check=True)


def fmt_ratio(a, b):
    return f"{a / b:.2f}" if b else "-"



def require_tools():
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install redis-server redis-tools")


def build_release():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "redstart")
