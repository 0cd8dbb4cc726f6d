"""The benchmarks' servers, each in its own process so that its CPU time can be read apart from the
poller's: moto (the local AWS) and the fast simulated gateway. Every server binds 127.0.0.1 and ends by
itself after `lifetime` seconds, even if the benchmark that started it dies.

    python -m bench.services moto --lifetime 900
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_LIFETIME_S = 1800


@dataclass
class Service:
    """A server child process and the URL it printed when it was ready."""

    process: subprocess.Popen[str]
    url: str

    def cpu_s(self) -> float:
        return process_cpu_s(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(module: str, *args: str, lifetime_s: float = DEFAULT_LIFETIME_S) -> Service:
    """Start `python -m module args...`; it prints its URL on its first line when ready."""
    command = [sys.executable, "-m", module, *args, "--lifetime", str(lifetime_s)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        process.kill()
        raise RuntimeError(f"{module} did not start: {url!r}")
    return Service(process, url)


def start_moto(lifetime_s: float = DEFAULT_LIFETIME_S) -> Service:
    return start("bench.services", "moto", lifetime_s=lifetime_s)


def start_gateway(
    tokens: dict[str, str],
    *,
    delay: float = 0.2,
    jitter: float = 0.02,
    completed_pct: int = 15,
    failed_pct: int = 5,
    lifetime_s: float = DEFAULT_LIFETIME_S,
) -> Service:
    args = [f"--token={name}={token}" for name, token in tokens.items()]
    args += [f"--delay={delay}", f"--jitter={jitter}", f"--completed-pct={completed_pct}", f"--failed-pct={failed_pct}"]
    return start("bench.upstream", *args, lifetime_s=lifetime_s)


def exit_after(lifetime_s: float) -> None:
    """End this process after `lifetime_s`, whatever it is doing (a bound on every benchmark server)."""
    timer = threading.Timer(lifetime_s, lambda: os._exit(0))
    timer.daemon = True
    timer.start()


def _moto_main(lifetime_s: float) -> int:
    from devtools.local_aws import start_moto as start_local_moto

    server = start_local_moto()
    print(server.endpoint_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    deadline = time.monotonic() + lifetime_s
    while time.monotonic() < deadline:
        time.sleep(1)
    server.stop()
    return 0


def _sim_main(lifetime_s: float, jobs: int, delay: float, tokens: dict[str, str]) -> int:
    """devtools.sim_provider with `jobs` in_progress jobs per provider answering after `delay` seconds."""
    from devtools.sim_provider import SimProvider

    sim = SimProvider(tokens).start()
    for provider in tokens:
        for i in range(jobs):
            step = {"status": "in_progress", "progress": 40, "_delay": delay}
            sim.add_job(provider, f"video_probe_{i:06d}", "hingnet", [step])
    print(sim.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    time.sleep(lifetime_s)
    sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A benchmark server on 127.0.0.1 (moto, or sim_provider).")
    parser.add_argument("service", choices=["moto", "sim"])
    parser.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME_S)
    parser.add_argument("--jobs", type=int, default=100, help="sim: scripted jobs per provider")
    parser.add_argument("--delay", type=float, default=0.2, help="sim: seconds before each answer")
    parser.add_argument("--token", action="append", default=[], metavar="PROVIDER=TOKEN", help="sim")
    args = parser.parse_args(argv)
    if args.service == "sim":
        tokens = dict(item.split("=", 1) for item in args.token) or {"hingnet": "tok"}
        return _sim_main(args.lifetime, args.jobs, args.delay, tokens)
    return _moto_main(args.lifetime)


if __name__ == "__main__":
    raise SystemExit(main())
