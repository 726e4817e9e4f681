#!/usr/bin/env python3
"""netsweep's benchmark suite: prints figures, asserts nothing, never runs in CI.

    python3 bench/run.py <benchmark>... [--quick] [--repeat N] [--no-build]
    python3 bench/run.py all

Benchmarks: sweep, config, pools, hang, journal, latency, rtt, jump, throughput, scaling, python,
telnet, parse, memory, pacing, all.
See bench/README.md for what each one measures and what it does not.

Every fleet is served by `netsweep-sim` on loopback addresses only (127.x.y.z), bounded in size,
started with `--duration` as a backstop and always stopped (SIGTERM, then SIGKILL) when the
benchmark ends, fails or is interrupted. Each benchmark prints a table and writes its figures as
JSON to bench/results/<name>.json. Python 3.11 standard library only; netmiko is installed by
the `python` and `latency` benchmarks into a throwaway virtualenv under bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# NETSWEEP_BENCH_BIN_DIR points at other builds (with --no-build), e.g. a debug build for the
# `rtt` benchmark, where the network delay dwarfs the CPU time.
RELEASE = Path(os.environ.get("NETSWEEP_BENCH_BIN_DIR", ROOT / "target" / "release"))
RESULTS = ROOT / "bench" / "results"
VENV = RESULTS / "venv-netmiko"
NETMIKO_SCRIPT = ROOT / "bench" / "netmiko_sweep.py"
NETSWEEP = RELEASE / "netsweep"
SIM = RELEASE / "netsweep-sim"
BARE = RELEASE / "netsweep-bench-bare"

# One simulator process serves at most this many devices: each listener and each connection is
# a file descriptor, and the machine's hard limit is 20,000.
DEVICES_PER_SIM = 10_000
# Devices sit on consecutive loopback addresses, all on this port. Addresses, not ports, so the
# ephemeral port range (32768-60999) is never touched; an unusual port so that tests using
# random 127.x.y.0/24 blocks on their own fixed ports cannot collide with a benchmark fleet.
SIM_PORT = 4022
COMMAND = "show clock"


# ---------------------------------------------------------------------------------------------
# Output


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def table(title: str, header: list[str], rows: list[list[object]]) -> str:
    """A plain-text table, right-aligned numbers; also returned for the JSON record."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(header)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(
            c.rjust(w) if looks_numeric(c) else c.ljust(w) for c, w in zip(row, widths)))
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def looks_numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+.") and not text.endswith(":")


def spread(values: list[float]) -> str:
    """hyperfine-style `median (min … max)`."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.median(values):.3f} ({min(values):.3f} … {max(values):.3f})"


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": model,
        "open_files_hard_limit": hard_fd_limit(),
        "python": platform.python_version(),
    }


def hard_fd_limit() -> int:
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def set_results_dir(path: Path) -> None:
    global RESULTS
    RESULTS = path.resolve()


def save(name: str, figures: dict, command: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "machine": machine(),
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    say(f"[{name}] figures written to {path}")


# ---------------------------------------------------------------------------------------------
# Building blocks: build, simulator, inventories, the three tools


def build() -> None:
    say("building release binaries (netsweep, netsweep-worker, netsweep-sim, netsweep-bench-bare)…")
    subprocess.run(
        ["cargo", "build", "--release", "--bins", "-p", "netsweep", "-p", "netsweep-bench-bare"],
        cwd=ROOT, check=True)


class Simulator:
    """One `netsweep-sim` process; stopped on exit from the `with` block, whatever happens."""

    def __init__(self, workdir: Path, label: str, count: int, base_addr: str, seed: int,
                 latency: str | None = None, faults: str | None = None,
                 duration_s: int = 900, transport: str | None = None, rtt: str | None = None,
                 session_log: Path | None = None, platform: str = "cisco_ios"):
        self.inventory = workdir / f"{label}.yaml"
        self.expected = workdir / f"{label}.expected.json"
        self.out = workdir / f"{label}.sim.out"
        self.err = workdir / f"{label}.sim.err"
        self.args = [str(SIM), "--count", str(count), "--spread", "addrs",
                     "--base-addr", base_addr, "--base-port", str(SIM_PORT),
                     "--seed", str(seed), "--name-prefix", f"{label}-",
                     "--write-inventory", str(self.inventory),
                     "--duration", f"{duration_s}s", "--platform", platform]
        if latency:
            self.args += ["--latency", latency]
        if faults:
            self.args += ["--faults", faults]
        if transport:
            self.args += ["--transport", transport]
        if rtt:
            self.args += ["--rtt", rtt]
        if session_log:
            self.args += ["--session-log", str(session_log)]
        self.proc: subprocess.Popen | None = None
        self.ready_line = ""
        self.siblings: list[Simulator] = [self]

    def __enter__(self) -> "Simulator":
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.out.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("ready:"):
                    self.ready_line = line
                    return self
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"netsweep-sim exited with {self.proc.returncode}: "
                                   f"{self.err.read_text(errors='replace').strip()[-2000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"netsweep-sim not ready within 60 s: {' '.join(self.args)}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Raises if the simulator stopped: every figure after that would be failures."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"netsweep-sim ({self.inventory.name}) exited with "
                               f"{self.proc.returncode} during the benchmark: "
                               f"{self.err.read_text(errors='replace').strip()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def fleet(workdir: Path, label: str, count: int, first_octet: int, seed: int = 1,
          latency: str | None = None, faults: str | None = None, duration_s: int = 900,
          transport: str | None = None, rtt: str | None = None, platform: str = "cisco_ios"):
    """A simulated fleet of `count` instant devices (IOS unless `platform` says otherwise) and
    the one inventory listing them.

    Fleets above DEVICES_PER_SIM devices are split over several simulator processes (each on
    its own 127.<octet>.x.y block) whose generated lists are merged into one inventory."""
    parts = math.ceil(count / DEVICES_PER_SIM)
    with contextlib.ExitStack() as stack:
        sims = []
        for part in range(parts):
            n = min(DEVICES_PER_SIM, count - part * DEVICES_PER_SIM)
            sims.append(stack.enter_context(Simulator(
                workdir, f"{label}{part + 1}" if parts > 1 else label, n,
                f"127.{first_octet + part}.0.1", seed + part, latency, faults, duration_s,
                transport, rtt, platform=platform)))
        for sim in sims:
            say(f"  {sim.ready_line}")
        sims[0].siblings = sims
        if parts == 1:
            yield sims[0].inventory, sims[0]
        else:
            merged = workdir / f"{label}.yaml"
            merged.write_text("".join(
                "".join(block for _, block in entries(s.inventory)) for s in sims))
            yield merged, sims[0]


def entries(inventory: Path) -> list[tuple[str, str]]:
    """The generated inventory's entries as (name, text block): a plain top-level list."""
    blocks: list[tuple[str, str]] = []
    for line in inventory.read_text().splitlines(keepends=True):
        if line.startswith("- "):
            name = line.split(":", 1)[1].strip().strip('"') if line.startswith("- name:") else ""
            blocks.append((name, line))
        elif blocks and line.startswith(" "):
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + line)
    return blocks


def netsweep(inventory: Path, pool: str, workers: int, workdir: Path, *,
             journal: Path | None = None, deadline: str | None = None,
             keep_output: bool = False, sample_workers: bool = False,
             command: str | None = COMMAND, extra: tuple[str, ...] = (),
             binary: Path | None = None) -> dict:
    """One `netsweep run` of `binary` (default the one built here), with `-c command` if
    given, then the `extra` arguments; returns its --stats figures plus our own wall clock."""
    stats = workdir / "stats.json"
    stats.unlink(missing_ok=True)
    what = ["-c", command] if command else []
    args = [str(binary or NETSWEEP), "run", "-i", str(inventory), *what, "--pool", pool,
            "-w", str(workers), "--format", "jsonl", "--no-progress",
            "--known-hosts", str(workdir / "known_hosts"), "--stats", str(stats), *extra]
    args += ["--journal", str(journal)] if journal else ["--no-journal"]
    if deadline:
        args += ["--deadline", deadline]
    output = workdir / "records.jsonl"
    errors = workdir / "netsweep.stderr"
    started = time.perf_counter()
    with open(output if keep_output else os.devnull, "wb") as out, open(errors, "wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = WorkerSampler(proc.pid) if pool == "processes" and sample_workers else None
        proc.wait()
        if sampler:
            sampler.stop()
    wall = time.perf_counter() - started
    stderr_text = errors.read_bytes()
    if proc.returncode not in (0, 1) or not stats.exists():
        raise RuntimeError(f"netsweep exited with {proc.returncode}: "
                           f"{stderr_text.decode(errors='replace')[-3000:]}")
    figures = json.loads(stats.read_text())
    figures["wall_s"] = wall
    figures["rate"] = figures["devices"] / figures["elapsed_s"]
    figures["exit_code"] = proc.returncode
    if sampler:
        figures["worker_sampled"] = sampler.peak
    if keep_output:
        statuses: dict[str, int] = {}
        for line in output.read_text().splitlines():
            status = json.loads(line)["status"]
            key = status if isinstance(status, str) else status.get("kind", json.dumps(status))
            statuses[key] = statuses.get(key, 0) + 1
        figures["statuses"] = statuses
    return figures


class WorkerSampler:
    """Reads the worker processes' own memory figures from /proc while a sweep runs.

    An independent check of `--stats`' `worker_peak_rss_kib` (the coordinator's own VmHWM
    samples), with the split into anonymous and file pages and the private share. Sampled
    every 100 ms."""

    def __init__(self, parent: int):
        import threading
        self.parent = str(parent)
        self.peak: dict = {"workers_seen": 0, "vm_hwm_kib": 0, "rss_anon_kib": 0,
                           "rss_file_kib": 0, "samples": 0}
        self._seen: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.1):
            self._sample()

    def _sample(self) -> None:
        # Workers are the coordinator's children (exec) or its fork server's (the default).
        statuses = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            statuses[pid] = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents = {self.parent} | {pid for pid, f in statuses.items()
                                   if f.get("PPid", "").strip() == self.parent and
                                   f.get("Name", "").strip() == "nsw-fork-server"}
        for pid, fields in statuses.items():
            if fields.get("PPid", "").strip() not in parents or \
                    "netsweep-worker" not in fields.get("Name", ""):
                continue
            kib = {k: int(fields.get(k, "0 kB").split()[0]) for k in ("VmHWM", "RssAnon",
                                                                        "RssFile")}
            self._seen.add(pid)
            self.peak["samples"] += 1
            if kib["VmHWM"] > self.peak["vm_hwm_kib"]:
                self.peak.update(vm_hwm_kib=kib["VmHWM"], rss_anon_kib=kib["RssAnon"],
                                 rss_file_kib=kib["RssFile"])
                # What this worker alone costs: its private pages, and its proportional share
                # of the pages all workers share (the binary and libraries).
                with contextlib.suppress(OSError, ValueError):
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                    for line in rollup.splitlines()[1:]:
                        key, value = line.split(":", 1)
                        if key in ("Pss", "Private_Clean", "Private_Dirty", "Shared_Clean"):
                            self.peak[f"{key.lower()}_kib"] = int(value.split()[0])

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self.peak["workers_seen"] = len(self._seen)


def run_json(what: str, args: list[str], ok: tuple[int, ...] = (0,),
             timeout: float | None = None) -> dict:
    """Runs a client that prints its figures as one JSON object and exits with one of `ok`;
    adds our wall clock and the devices/s of its own sweep clock."""
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode not in ok:
        raise RuntimeError(f"{what} exited with {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-3000:]}")
    figures = json.loads(proc.stdout)
    figures["wall_s"] = wall
    figures["rate"] = figures["devices"] / figures["elapsed_s"]
    return figures


def bare(inventory: Path, threads: int) -> dict:
    """One run of the bare ssh2 loop."""
    # Exit code 1: some devices failed; the figures are still there.
    return run_json("netsweep-bench-bare", [str(BARE), "-i", str(inventory), "-w", str(threads)],
                    ok=(0, 1))


def ensure_netmiko(fresh: bool = False) -> Path:
    """A throwaway virtualenv with netmiko (PyPI's latest), created on first use."""
    python = VENV / "bin" / "python"
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    if not python.exists():
        say(f"creating a throwaway virtualenv with netmiko in {VENV.relative_to(ROOT)}…")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "netmiko"], check=True)
    return python


def netmiko(python: Path, inventory: Path, executor: str, workers: int, limit: int) -> dict:
    return run_json("netmiko script", [str(python), str(NETMIKO_SCRIPT), "-i", str(inventory),
                                       "--executor", executor, "-w", str(workers),
                                       "--limit", str(limit), "-c", COMMAND], timeout=1800)


def warm_up(inventory: Path, workdir: Path) -> None:
    """One unmeasured sweep: records every host key (accept-new) and warms caches."""
    netsweep(inventory, "threads", 32, workdir)


def repeated(n: int, run) -> list[dict]:
    return [run() for _ in range(n)]


def walls(runs: list[dict]) -> list[float]:
    return [r["wall_s"] for r in runs]


def median_rate(runs: list[dict]) -> float:
    return statistics.median(r["rate"] for r in runs)


def failures(runs: list[dict]) -> int:
    return max(r.get("failed", 0) for r in runs)


# ---------------------------------------------------------------------------------------------
# Benchmarks. Each takes (opts, workdir) and returns (figures, text tables).


def bench_sweep(opts, work: Path) -> dict:
    n, w = (200 if opts.quick else 1000), 32
    repeat = opts.repeat or 5
    with fleet(work, "sweep", n, 61) as (inv, _):
        warm_up(inv, work)
        runs = repeated(repeat, lambda: netsweep(inv, "threads", w, work))
    med = statistics.median(walls(runs))
    text = table(f"sweep: {n} instant simulated IOS devices, `{COMMAND}`, --pool threads -w {w}"
                 f" ({repeat} runs)",
                 ["pool", "workers", "devices", "wall s median (min … max)", "devices/s",
                  "failed", "goal < 3 s"],
                 [["threads", w, n, spread(walls(runs)), median_rate(runs), failures(runs),
                   verdict(med < 3.0)]])
    return {"devices": n, "workers": w, "runs": runs, "wall_s_median": med,
            "goal": "wall < 3 s", "met": med < 3.0, "table": text}


def bench_pools(opts, work: Path) -> dict:
    n, w = (200 if opts.quick else 1000), 100
    repeat = opts.repeat or 5
    runs: dict[str, list[dict]] = {"threads": [], "processes": []}
    with fleet(work, "pools", n, 62) as (inv, _):
        warm_up(inv, work)
        for _ in range(repeat):  # alternate, so both pools see the same machine state
            for pool in ("processes", "threads"):
                runs[pool].append(netsweep(inv, pool, w, work))
        # Unmeasured for speed: the worker sampler reads /proc every 100 ms.
        sampled = netsweep(inv, "processes", w, work, sample_workers=True)["worker_sampled"]
    rate = {p: median_rate(r) for p, r in runs.items()}
    ratio = rate["processes"] / rate["threads"]
    rusage_worker = max(r["worker_peak_rss_kib"] for r in runs["processes"])
    worker_rss = sampled["vm_hwm_kib"]
    rows = [[p, w, n, spread(walls(r)), rate[p], failures(r),
             statistics.median(r["coordinator_cpu_s"] + r["workers_cpu_s"] for r in r),
             max(x["coordinator_peak_rss_kib"] for x in r) / 1024,
             max(x["worker_peak_rss_kib"] for x in r) / 1024 if p == "processes" else None]
            for p, r in runs.items()]
    text = table(f"pools: {n} instant devices, -w {w}, alternating runs ({repeat} each)",
                 ["pool", "workers", "devices", "wall s median (min … max)", "devices/s",
                  "failed", "CPU s", "coord. RSS MiB", "worker RSS MiB"], rows)
    text += "\n" + table("pools: goals (issue 4)", ["figure", "value", "goal", "verdict"], [
        ["processes / threads throughput", f"{ratio:.0%}", ">= 80 %", verdict(ratio >= 0.8)],
        [f"worker peak RSS, /proc VmHWM (anon {sampled['rss_anon_kib'] / 1024:.1f} + file "
         f"{sampled['rss_file_kib'] / 1024:.1f} MiB)", f"{worker_rss / 1024:.1f} MiB",
         "<= 5 MB", verdict(worker_rss * 1024 <= 5_000_000)],
        ["worker peak RSS as --stats reports it (VmHWM read by the coordinator after each device)",
         f"{rusage_worker / 1024:.1f} MiB", "", ""],
        ["worker private memory (Private_Clean + Private_Dirty) / PSS at its peak",
         f"{(sampled.get('private_clean_kib', 0) + sampled.get('private_dirty_kib', 0)) / 1024:.1f}"
         f" / {sampled.get('pss_kib', 0) / 1024:.1f} MiB", "", ""],
    ])
    return {"devices": n, "workers": w, "runs": runs, "rate_median": rate,
            "processes_over_threads": ratio, "worker_peak_rss_kib": worker_rss,
            "worker_sampled": sampled, "worker_rusage_peak_kib": rusage_worker,
            "goals": {"ratio>=0.8": ratio >= 0.8, "worker_rss<=5MB": worker_rss * 1024 <= 5e6},
            "table": text}


def bench_hang(opts, work: Path) -> dict:
    n, w = (200 if opts.quick else 1000), 100
    deadline_s, grace_s = (3, 2) if opts.quick else (5, 2)
    rows, figures = [], {}
    with fleet(work, "hang", n, 63, faults="hang-after-auth=5%") as (inv, sim):
        expected = json.loads(sim.expected.read_text())["devices"]
        hanging = [name for name, e in expected.items() if e["outcome"] != "ok"]
        healthy_inv = work / "hang-healthy.yaml"
        healthy_inv.write_text("".join(b for name, b in entries(inv) if name not in hanging))
        warm_up(healthy_inv, work)
        for pool in ("processes", "threads"):
            healthy = netsweep(healthy_inv, pool, w, work, deadline=f"{deadline_s}s")
            faulty = netsweep(inv, pool, w, work, deadline=f"{deadline_s}s", keep_output=True)
            grace = grace_s if pool == "processes" else 0
            bound = healthy["wall_s"] + deadline_s + grace
            met = faulty["wall_s"] <= bound * 1.1
            statuses = ", ".join(f"{k} {v}" for k, v in sorted(faulty["statuses"].items()))
            rows.append([pool, w, len(hanging), healthy["wall_s"], deadline_s, grace, bound,
                         faulty["wall_s"], statuses, verdict(met)])
            figures[pool] = {"healthy": healthy, "with_hangs": faulty, "bound_s": bound,
                             "met": met}
    text = table(f"hang: {n} devices, {len(hanging)} hang after login (hang-after-auth=5%), "
                 f"-w {w}, --deadline {deadline_s}s",
                 ["pool", "workers", "hanging", "healthy-only wall s", "deadline s", "grace s",
                  "bound s", "wall s with hangs", "outcomes", "within bound (+10 %)"], rows)
    return {"devices": n, "workers": w, "deadline_s": deadline_s, "grace_s": grace_s,
            "hanging": len(hanging), **figures, "table": text}


def journal_fleet_size(opts) -> int:
    return 2_000 if opts.quick else 20_000


def bench_journal(opts, work: Path) -> dict:
    n, w = journal_fleet_size(opts), 32
    repeat = opts.repeat or 3
    runs: dict[str, list[dict]] = {"journal": [], "no-journal": []}
    threads_run = None
    with fleet(work, "journal", n, 64) as (inv, sim):
        warm_up(inv, work)
        for i in range(repeat):  # alternating, on the same fleet
            journal = work / f"journal-{i}.jsonl"
            runs["journal"].append(netsweep(inv, "processes", w, work, journal=journal))
            journal.unlink(missing_ok=True)
            runs["no-journal"].append(netsweep(inv, "processes", w, work))
            for s in sim.siblings:
                s.check_alive()
        threads_run = netsweep(inv, "threads", w, work, journal=work / "journal-threads.jsonl")
        # Unmeasured for speed: the worker sampler reads /proc every 100 ms.
        sampled = netsweep(inv, "processes", w, work, journal=work / "journal-sampled.jsonl",
                           sample_workers=True)["worker_sampled"]
    rate = {k: median_rate(r) for k, r in runs.items()}
    cost = 1 - rate["journal"] / rate["no-journal"]
    coord_rss = max(r["coordinator_peak_rss_kib"] for r in runs["journal"] + runs["no-journal"])
    worker_rss = max(r["worker_peak_rss_kib"] for r in runs["journal"])
    rows = [[k, "processes", w, n, spread(walls(r)), rate[k], failures(r),
             max(x["coordinator_peak_rss_kib"] for x in r) / 1024,
             max(x["worker_peak_rss_kib"] for x in r) / 1024] for k, r in runs.items()]
    rows.append(["journal", "threads", w, n, f"{threads_run['wall_s']:.3f}", threads_run["rate"],
                 threads_run["failed"], threads_run["coordinator_peak_rss_kib"] / 1024, None])
    sims = math.ceil(n / DEVICES_PER_SIM)
    text = table(f"journal: {n:,} simulated devices ({sims} simulator process(es)), -w {w}, "
                 f"journal and --no-journal alternating ({repeat} each)",
                 ["journal", "pool", "workers", "devices", "wall s median (min … max)",
                  "devices/s", "failed", "coord. peak RSS MiB", "worker peak RSS MiB"], rows)
    text += "\n" + table("journal: goals (issue 5)", ["figure", "value", "goal", "verdict"], [
        [f"coordinator peak RSS, {n:,} devices, processes", f"{coord_rss / 1024:.1f} MiB",
         "<= 100 MB", verdict(coord_rss * 1024 <= 100e6)],
        ["throughput cost of the journal", f"{cost:+.1%}", "<= 5 %", verdict(cost <= 0.05)],
    ])
    return {"devices": n, "workers": w, "runs": runs, "threads_with_journal": threads_run,
            "worker_sampled": sampled,
            "rate_median": rate, "journal_cost": cost, "coordinator_peak_rss_kib": coord_rss,
            "worker_peak_rss_kib": worker_rss,
            "goals": {"coord_rss<=100MB": coord_rss * 1024 <= 100e6, "cost<=5%": cost <= 0.05},
            "table": text}


def bench_memory(opts, work: Path) -> dict:
    """Reuses `journal`'s 20,000-device run (runs it if its results are missing)."""
    path = RESULTS / "journal.json"
    n = journal_fleet_size(opts)
    data = json.loads(path.read_text()) if path.exists() else None
    if not data or data.get("devices") != n:
        say("[memory] no journal results for this size; running the journal benchmark first")
        data = run_one("journal", opts)
    threads = data["threads_with_journal"]
    procs = data["runs"]["journal"] + data["runs"]["no-journal"]
    sampled = data.get("worker_sampled") or {}
    rows = [
        ["processes", n, max(r["coordinator_peak_rss_kib"] for r in procs) / 1024,
         sampled.get("vm_hwm_kib", 0) / 1024, sampled.get("rss_anon_kib", 0) / 1024,
         sampled.get("rss_file_kib", 0) / 1024,
         max(r["worker_peak_rss_kib"] for r in procs) / 1024],
        ["threads", n, threads["coordinator_peak_rss_kib"] / 1024, None, None, None, None],
    ]
    text = table(f"memory: peak RSS at {n:,} devices, -w {data['workers']} (from the journal "
                 f"benchmark's runs, {data['date_utc']})",
                 ["pool", "devices", "coordinator peak RSS MiB", "worker VmHWM MiB (/proc)",
                  "of which anon", "of which file", "worker peak per --stats (VmHWM)"],
                 rows)
    return {"devices": n, "rows": rows, "from": str(path), "table": text}


def one_device_inventory(source: Path, target: Path, copies: int) -> Path:
    """`copies` inventory entries, all the same device (one host:port) under different names."""
    name, block = entries(source)[0]
    target.write_text("".join(block.replace(f'name: "{name}"', f'name: "{name}-{i:04}"', 1)
                              for i in range(copies)))
    return target


def bench_latency(opts, work: Path) -> dict:
    n_fast, n_netmiko = (50, 5) if opts.quick else (500, 20)
    repeat = opts.repeat or 3
    python = ensure_netmiko()
    rows, figures = [], {}
    with fleet(work, "latency", 1, 70) as (source, _):
        inv = one_device_inventory(source, work / "latency-many.yaml", n_fast)
        small = one_device_inventory(source, work / "latency-few.yaml", n_netmiko)
        warm_up(inv, work)
        runs = {
            "bare ssh2 loop": repeated(repeat, lambda: bare(inv, 1)),
            "netsweep threads": repeated(repeat, lambda: netsweep(inv, "threads", 1, work)),
            "netsweep processes": repeated(repeat, lambda: netsweep(inv, "processes", 1, work)),
            "netmiko (one thread)": repeated(
                repeat, lambda: netmiko(python, small, "threads", 1, n_netmiko)),
        }
    version = runs["netmiko (one thread)"][0]["netmiko_version"]
    per_ms = {k: statistics.median(r["elapsed_s"] / r["devices"] * 1000 for r in v)
              for k, v in runs.items()}
    for k, v in runs.items():
        rows.append([k, v[0]["devices"], spread(walls(v)), per_ms[k],
                     per_ms["netmiko (one thread)"] / per_ms[k], failures(v)])
        figures[k] = {"runs": v, "per_device_ms": per_ms[k]}
    text = table(f"latency: one instant simulated IOS device, one worker, the same device "
                 f"swept again and again ({repeat} runs each; netmiko {version})",
                 ["client", "sessions", "process wall s median (min … max)", "ms per device",
                  "netmiko / this", "failed"], rows)
    best = min(per_ms["netsweep threads"], per_ms["netsweep processes"])
    worst = max(per_ms["netsweep threads"], per_ms["netsweep processes"])
    ratio_worst = per_ms["netmiko (one thread)"] / worst
    text += "\n" + table("latency: goal (issue 6)", ["figure", "value", "goal", "verdict"], [
        ["netmiko per-device ms / netsweep's (threads and processes, the worse of the two)",
         f"{ratio_worst:.0f}x", ">= 100x", verdict(ratio_worst >= 100)]])
    return {"sessions": n_fast, "netmiko_sessions": n_netmiko, "netmiko_version": version,
            "clients": figures, "netmiko_over_netsweep_worst": ratio_worst,
            "netsweep_best_ms": best, "met": ratio_worst >= 100, "table": text}


def bench_rtt(opts, work: Path) -> dict:
    """Round trips per device on a simulated WAN: one IOS device `--rtt 100ms` away, swept
    again and again by one worker; per-device time / RTT is the round trips a session costs."""
    rtt_s = 0.1
    n_fast, n_netmiko = (5, 2) if opts.quick else (20, 5)
    repeat = opts.repeat or 3
    python = ensure_netmiko()
    with fleet(work, "rtt", 1, 72, rtt=f"{int(rtt_s * 1000)}ms") as (source, _):
        inv = one_device_inventory(source, work / "rtt-many.yaml", n_fast)
        small = one_device_inventory(source, work / "rtt-few.yaml", n_netmiko)
        warm_up(inv, work)
        runs = {
            "netsweep threads": repeated(repeat, lambda: netsweep(inv, "threads", 1, work)),
            "netmiko (one thread)": repeated(
                repeat, lambda: netmiko(python, small, "threads", 1, n_netmiko)),
        }
    version = runs["netmiko (one thread)"][0]["netmiko_version"]
    trips = {k: [r["elapsed_s"] / r["devices"] / rtt_s for r in v] for k, v in runs.items()}
    rows = [[k, runs[k][0]["devices"], spread(v), statistics.median(v), failures(runs[k])]
            for k, v in trips.items()]
    ours = statistics.median(trips["netsweep threads"])
    text = table(f"rtt: one simulated IOS device at --rtt {int(rtt_s * 1000)}ms, `{COMMAND}`, "
                 f"one worker ({repeat} runs each; netmiko {version}; the simulator cannot delay "
                 f"the TCP handshake, a real WAN adds 1)",
                 ["client", "sessions", "round trips per device (min … max)", "median",
                  "failed"], rows)
    text += "\n" + table("rtt: goal (issue 15)", ["figure", "value", "goal", "verdict"], [
        ["netsweep round trips per cisco_ios device, + 1 for TCP", f"{ours + 1:.1f}", "<= 12",
         verdict(ours + 1 <= 12)]])
    return {"rtt_s": rtt_s, "round_trips": {k: statistics.median(v) for k, v in trips.items()},
            "runs": runs, "netmiko_version": version, "met": ours + 1 <= 12, "table": text}


class Bastion:
    """OpenSSH `sshd` on loopback as a jump host (TCP forwarding allowed, key login), with its
    own keys in `workdir`; stopped on exit from the `with` block."""

    def __init__(self, workdir: Path, port: int = 4122):
        self.dir = workdir / "bastion"
        self.port = port
        self.user = os.environ.get("USER") or "root"
        self.log = self.dir / "sshd.log"
        self.key = self.dir / "client_key"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Bastion":
        self.dir.mkdir()
        Path("/run/sshd").mkdir(exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(self.dir / name)], check=True)
        shutil.copy(self.dir / "client_key.pub", self.dir / "authorized_keys")
        config = self.dir / "sshd_config"
        config.write_text(f"Port {self.port}\nListenAddress 127.0.0.1\n"
                          f"HostKey {self.dir}/host_key\n"
                          f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
                          "PermitRootLogin yes\nStrictModes no\nUsePAM no\nPidFile none\n"
                          "PasswordAuthentication no\nAllowTcpForwarding yes\n"
                          "MaxStartups 1000\nMaxSessions 1000\nLogLevel VERBOSE\n")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([os.environ.get("NETSWEEP_TEST_SSHD", "/usr/sbin/sshd"),
                                          "-D", "-e", "-f", str(config)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"sshd did not listen on {self.port}: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def logins(self) -> int:
        return sum(1 for line in self.log.read_text(errors="replace").splitlines()
                   if "Accepted " in line and " for " in line)

    def behind(self, inventory: Path, target: Path) -> Path:
        """`inventory` with every entry reached through this bastion."""
        hop = (f"  jump_host: {{host: 127.0.0.1, port: {self.port}, username: {self.user}, "
               f"key_file: '{self.key}'}}\n")
        target.write_text("".join(block.split("\n", 1)[0] + "\n" + hop +
                                  block.split("\n", 1)[1] for _, block in entries(inventory)))
        return target


def bench_jump(opts, work: Path) -> dict:
    """1,000 devices behind one jump host against the same devices direct, same W."""
    n, w = (200 if opts.quick else 1000), 32
    repeat = opts.repeat or 3
    rows, figures = [], {}
    with fleet(work, "jump", n, 74) as (inv, _), Bastion(work) as bastion:
        behind = bastion.behind(inv, work / "jump-behind.yaml")
        warm_up(inv, work)
        netsweep(behind, "threads", w, work)
        for pool in ("threads", "processes"):
            for label, path in (("direct", inv), ("jump host", behind)):
                runs, logins = [], []
                for _ in range(repeat):
                    before = bastion.logins()
                    runs.append(netsweep(path, pool, w, work))
                    logins.append(bastion.logins() - before)
                figures[f"{pool} {label}"] = {"runs": runs, "bastion_logins": logins}
                rows.append([pool, label, w, n, median_rate(runs), failures(runs),
                             max(logins) if label == "jump host" else "-"])
    worst = max(max(v["bastion_logins"]) for k, v in figures.items() if "jump" in k)
    text = table(f"jump: {n} simulated IOS devices direct and behind one OpenSSH sshd jump host "
                 f"on loopback, -w {w} ({repeat} runs each)",
                 ["pool", "path", "workers", "devices", "devices/s median", "failed",
                  "bastion logins per sweep (max)"], rows)
    text += "\n" + table("jump: goal (issue 15)", ["figure", "value", "goal", "verdict"], [
        ["bastion connections per sweep", worst, f"<= W = {w}", verdict(worst <= w)]])
    return {"devices": n, "workers": w, "paths": figures, "bastion_logins_max": worst,
            "met": worst <= w, "table": text}


def worker_counts(opts) -> list[int]:
    return [1, 4, 32, 128] if opts.quick else [1, 2, 4, 8, 16, 32, 64, 128, 256]


def bench_throughput(opts, work: Path) -> dict:
    n = 200 if opts.quick else 1000
    repeat = opts.repeat or 3
    results: dict[int, dict[str, list[dict]]] = {}
    with fleet(work, "tput", n, 66) as (inv, _):
        warm_up(inv, work)
        for w in worker_counts(opts):
            results[w] = {"bare": [], "threads": [], "processes": []}
            for _ in range(repeat):  # interleaved: the three see the same machine state
                results[w]["bare"].append(bare(inv, w))
                results[w]["threads"].append(netsweep(inv, "threads", w, work))
                results[w]["processes"].append(netsweep(inv, "processes", w, work))
    rows = []
    for w, r in results.items():
        rate = {k: median_rate(v) for k, v in r.items()}
        rows.append([w, rate["bare"], rate["threads"], rate["processes"],
                     rate["threads"] / rate["bare"], rate["processes"] / rate["bare"],
                     max(failures(v) for v in r.values())])
    best = {k: max(median_rate(r[k]) for r in results.values())
            for k in ("bare", "threads", "processes")}
    best_w = {k: max(results, key=lambda w: median_rate(results[w][k])) for k in best}
    text = table(f"throughput: {n} instant simulated IOS devices, `{COMMAND}`, devices/s "
                 f"(median of {repeat}; each tool's own sweep clock, process start excluded)",
                 ["W", "bare ssh2", "netsweep threads", "netsweep processes",
                  "threads / bare", "processes / bare", "failed"], rows)
    t_ratio = best["threads"] / best["bare"]
    p_ratio = best["processes"] / best["bare"]
    text += "\n" + table("throughput: at each tool's best W (issue 6)",
                         ["figure", "value", "goal", "verdict"], [
        [f"bare loop saturated rate (W={best_w['bare']})", f"{best['bare']:.0f}/s", "", ""],
        [f"threads (W={best_w['threads']}) / bare", f"{t_ratio:.0%}", ">= 90 %",
         verdict(t_ratio >= 0.9)],
        [f"processes (W={best_w['processes']}) / bare", f"{p_ratio:.0%}", ">= 80 %",
         verdict(p_ratio >= 0.8)],
    ])
    return {"devices": n, "results": {str(w): r for w, r in results.items()},
            "best_rate": best, "best_workers": best_w, "threads_over_bare": t_ratio,
            "processes_over_bare": p_ratio, "table": text}


def bench_scaling(opts, work: Path) -> dict:
    n = 546 if opts.quick else 5460
    counts = [30, 100, 300] if opts.quick else [30, 100, 300, 1000, 2000]
    latency_s = 1.0
    rows, figures = [], {"runs": {}}
    # The bare loop's saturated rate: an instant fleet of the same size, its best of two W.
    with fleet(work, "scale-instant", n, 69) as (instant, _):
        saturated = max(bare(instant, w)["rate"] for w in (32, 128, 32, 128))
    figures["bare_saturated_rate"] = saturated
    with fleet(work, "scale", n, 67, latency="1s") as (inv, _):
        # Warm-up: records every host key; unmeasured.
        netsweep(inv, "threads", max(counts), work)
        for w in counts:
            ideal = max(math.ceil(n / w) * latency_s, n / saturated)
            # The bare loop on the slow fleet too, where it costs little time.
            if w >= 300:
                b = bare(inv, w)
                rows.append([w, "bare ssh2 loop", ideal, b["wall_s"], b["wall_s"] / ideal,
                             "(reference)" + ("" if not b["failed"] else
                                             f" ({b['failed']} failed: {b['first_error']})")])
                figures["runs"][f"bare-{w}"] = {**b, "ideal_s": ideal}
            for pool in ("threads", "processes"):
                try:
                    r = netsweep(inv, pool, w, work)
                except RuntimeError as refused:
                    message = str(refused).strip().splitlines()[-1][:160]
                    rows.append([w, pool, ideal, None, None, "refused: " + message])
                    figures["runs"][f"{pool}-{w}"] = {"refused": message, "ideal_s": ideal}
                    continue
                ratio = r["wall_s"] / ideal
                within = ratio <= 1.15 if w <= 1000 else None
                rows.append([w, pool, ideal, r["wall_s"], ratio,
                             ("(beyond the goal's range)" if within is None else verdict(within))
                             + ("" if not r["failed"] else f" ({r['failed']} failed)")])
                figures["runs"][f"{pool}-{w}"] = {**r, "ideal_s": ideal, "ratio": ratio}
    text = table(f"scaling: {n:,} simulated IOS devices, 1 s per command (`--latency 1s`), one "
                 f"run each; ideal = max(ceil(N/W) × 1 s, N / {saturated:.0f} per s (the bare loop's"
                 f" best rate on an instant fleet of the same size))",
                 ["W", "pool", "ideal s", "wall s", "wall / ideal", "goal <= 1.15x to W=1,000"],
                 rows)
    return {"devices": n, "latency_s": latency_s, **figures, "table": text}


def bench_python(opts, work: Path) -> dict:
    n = 200 if opts.quick else 1000
    counts = worker_counts(opts)
    python = ensure_netmiko()
    results: dict[int, dict[str, dict]] = {}
    with fleet(work, "py", n, 68) as (inv, _):
        warm_up(inv, work)
        for w in counts:
            # netmiko spends ~0.35 s per device in its own sleeps: below W=40 a full 1,000-device
            # run would take minutes per point, so small W sweep the first 25·W devices.
            n_py = min(n, 25 * w)
            results[w] = {
                "netsweep threads": netsweep(inv, "threads", w, work),
                "netsweep processes": netsweep(inv, "processes", w, work),
                "netmiko ThreadPoolExecutor": netmiko(python, inv, "threads", w, n_py),
                "netmiko ProcessPoolExecutor": netmiko(python, inv, "processes", w, n_py),
            }
            say(f"  W={w}: " + ", ".join(f"{k} {v['rate']:.0f}/s" for k, v in results[w].items()))
    version = next(iter(results.values()))["netmiko ThreadPoolExecutor"]["netmiko_version"]
    rows = []
    for w, r in results.items():
        rate = {k: v["rate"] for k, v in r.items()}
        ns_best = max(rate["netsweep threads"], rate["netsweep processes"])
        rows.append([w, r["netmiko ThreadPoolExecutor"]["devices"],
                     rate["netmiko ThreadPoolExecutor"], rate["netmiko ProcessPoolExecutor"],
                     rate["netsweep threads"], rate["netsweep processes"],
                     ns_best / rate["netmiko ThreadPoolExecutor"],
                     ns_best / rate["netmiko ProcessPoolExecutor"],
                     sum(v.get("failed", 0) for v in r.values())])
    best = {k: max(results[w][k]["rate"] for w in results) for k in results[counts[0]]}
    best_w = {k: max(results, key=lambda w: results[w][k]["rate"]) for k in best}
    text = table(f"python: devices/s, netmiko {version} + concurrent.futures vs netsweep, same "
                 f"simulated fleet of {n} instant IOS devices (netsweep always sweeps all {n}; "
                 f"netmiko sweeps min({n}, 25·W))",
                 ["W", "netmiko devices", "netmiko threads", "netmiko processes",
                  "netsweep threads", "netsweep processes", "netsweep / nm threads",
                  "netsweep / nm processes", "failed"], rows)
    ns = max(best["netsweep threads"], best["netsweep processes"])
    ns_pool = "threads" if best["netsweep threads"] >= best["netsweep processes"] else "processes"
    nm = best["netmiko ThreadPoolExecutor"]
    ratio = ns / nm
    nm_best_devices = results[best_w["netmiko ThreadPoolExecutor"]]["netmiko ThreadPoolExecutor"][
        "devices"]
    text += "\n" + table("python: each at its best worker count (issue 6)",
                         ["figure", "value", "goal", "verdict"], [
        [f"netsweep {ns_pool} (W={best_w['netsweep ' + ns_pool]}, N={n})", f"{ns:.0f}/s", "", ""],
        [f"netmiko ThreadPoolExecutor (W={best_w['netmiko ThreadPoolExecutor']}, "
         f"N={nm_best_devices})", f"{nm:.0f}/s", "", ""],
        ["netmiko ProcessPoolExecutor (W="
         f"{best_w['netmiko ProcessPoolExecutor']})",
         f"{best['netmiko ProcessPoolExecutor']:.0f}/s", "", ""],
        ["netsweep / netmiko + ThreadPoolExecutor", f"{ratio:.1f}x", ">= 5x",
         verdict(ratio >= 5)],
    ])
    return {"devices": n, "netmiko_version": version,
            "results": {str(w): r for w, r in results.items()}, "best_rate": best,
            "best_workers": best_w, "netsweep_over_netmiko_threads": ratio,
            "met": ratio >= 5, "table": text}


def bench_pacing(opts, work: Path) -> dict:
    """`--connect-rate 50` as the simulator sees it: new sessions per one-second window; and
    what the sweep controls cost when they do not hold anything back."""
    n, w, rate = (200 if opts.quick else 1000), 32, 50
    rows, figures = [], {}
    for pool in ("processes", "threads"):
        log = work / f"pacing-{pool}.sessions.jsonl"
        # A fresh fleet per pool, so its session log holds this sweep alone (no warm-up:
        # host keys are recorded on first use, which the rate does not depend on).
        with Simulator(work, f"pacing-{pool}", n, "127.71.0.1", 1, session_log=log) as sim:
            say(f"  {sim.ready_line}")
            run = netsweep(sim.inventory, pool, w, work,
                           extra=("--connect-rate", str(rate)))
        accepted = sorted(json.loads(line)["accepted_ms"] / 1000
                          for line in log.read_text().splitlines())
        # Windows of one second from the first session; the first is excluded (the issue's
        # figure), and so is the last, cut short by the end of the sweep.
        first = accepted[0]
        whole = int((accepted[-1] - first) // 1)
        counts = [0] * (whole + 1)
        for t in accepted:
            counts[int((t - first) // 1)] += 1
        measured = counts[1:whole]
        low, high = rate * 0.9, rate * 1.1
        met = bool(measured) and all(low <= c <= high for c in measured)
        rows.append([pool, w, n, len(accepted), len(measured), min(measured, default=0),
                     statistics.mean(measured) if measured else 0.0,
                     max(measured, default=0), run["wall_s"], verdict(met)])
        figures[pool] = {"run": run, "sessions": len(accepted), "window_counts": counts,
                         "measured_windows": measured, "met": met}
    text = table(f"pacing: {n} instant devices, --connect-rate {rate}, -w {w}: new sessions per "
                 "one-second window as netsweep-sim logged them (windows from the first "
                 "session; the first and the last, partial, are left out)",
                 ["pool", "workers", "devices", "sessions", "windows", "min/s", "mean/s",
                  "max/s", "wall s", f"every window {rate} ± 10 %"], rows)
    overhead = pacing_overhead(opts, work)
    text += "\n" + overhead.pop("table")
    return {"devices": n, "workers": w, "connect_rate": rate, **figures,
            "overhead": overhead, "goal": f"every window within {rate} ± 10 %",
            "met": all(f["met"] for f in figures.values()), "table": text}


# Every control set, none of them ever holding a device back: the dispatcher's work for them
# (the rate gate, the group queue, counting failures) without their effect.
NON_BINDING = ("--connect-rate", "1000000", "--max-per-group", "1000000",
               "--max-failures", "100%")


def pacing_overhead(opts, work: Path) -> dict:
    """Instant devices swept with no control set, and with every control set but never
    binding, alternating runs; with NETSWEEP_BASELINE=<path to a netsweep built without the
    controls> in the environment, that binary too (the same sweep before the change)."""
    n, w = (200 if opts.quick else 1000), 32
    repeat = opts.repeat or 5
    baseline = os.environ.get("NETSWEEP_BASELINE")
    variants: dict[str, tuple[Path | None, tuple[str, ...]]] = {
        "unset": (None, ()), "set, never binding": (None, NON_BINDING)}
    if baseline:
        variants["baseline binary, unset"] = (Path(baseline), ())
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    with fleet(work, "pacing-cost", n, 72) as (inv, _):
        warm_up(inv, work)
        for _ in range(repeat):  # alternate, so every variant sees the same machine state
            for name, (binary, extra) in variants.items():
                runs[name].append(netsweep(inv, "threads", w, work, extra=extra,
                                           binary=binary))
    rate = {v: median_rate(r) for v, r in runs.items()}
    rows = [[v, w, n, spread(walls(r)), rate[v], f"{rate[v] / rate['unset']:.0%}",
             failures(r)] for v, r in runs.items()]
    text = table(f"pacing cost: {n} instant devices, --pool threads -w {w}, alternating runs "
                 f"({repeat} each); set = {' '.join(NON_BINDING)}",
                 ["controls", "workers", "devices", "wall s median (min … max)", "devices/s",
                  "vs unset", "failed"], rows)
    return {"devices": n, "workers": w, "runs": runs, "rate": rate, "table": text}


CONFIG_LINES = ["ntp server 10.0.0.1", "ntp server 10.0.0.2", "logging host 10.0.0.3",
                "snmp-server location {{ name }}", "snmp-server contact noc"]
SHOW_COMMANDS = ["show clock", "show version", "show ip interface brief", "show inventory",
                 "show privilege"]


def bench_config(opts, work: Path) -> dict:
    """A 5-line configuration change vs 5 `show` commands on the same fleet, and --diff's cost
    (two reads of a 4 KiB running configuration per device)."""
    n, w = (200 if opts.quick else 1000), 32
    repeat = opts.repeat or 3
    config = [a for line in CONFIG_LINES for a in ("--config-line", line)]
    variants = [
        ("5 show commands", [a for c in SHOW_COMMANDS for a in ("-c", c)]),
        ("5-line change", config),
        ("5-line change + --diff", config + ["--diff"]),
    ]
    rows, figures = [], {}
    with fleet(work, "config", n, 71) as (inv, _):
        warm_up(inv, work)
        for label, what in variants:
            runs = repeated(repeat, lambda: netsweep(inv, "processes", w, work, command=None,
                                                     extra=tuple(what)))
            figures[label] = runs
            rows.append([label, n, spread(walls(runs)), median_rate(runs), failures(runs)])
    text = table(f"config: {n} instant simulated IOS devices, --pool processes -w {w} "
                 f"({repeat} runs; the change accumulates lines on the simulator)",
                 ["what", "devices", "wall s median (min … max)", "devices/s", "failed"], rows)
    return {"devices": n, "workers": w, "runs": figures, "table": text}


def parse_templates() -> Path:
    """ntc-templates for `parse`: the shared copy beside the project, else the data directory
    `netsweep templates fetch` fills."""
    shared = ROOT.parent / "shared" / "ntc-fixtures" / "templates"
    if (shared / "index").exists():
        return shared
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    fetched = data / "netsweep" / "ntc-templates"
    if not (fetched / "index").exists():
        raise RuntimeError("no ntc-templates: run `netsweep templates fetch` first")
    return fetched


def bench_parse(opts, work: Path) -> dict:
    n, w = (200 if opts.quick else 1000), 32
    repeat = opts.repeat or 3
    templates = parse_templates()
    parse = ("--parse", "--templates", str(templates))
    runs: dict[tuple[str, bool], list[dict]] = {}
    with fleet(work, "parse", n, 69) as (inv, _):
        warm_up(inv, work)
        for _ in range(repeat):  # alternate, so every variant sees the same machine state
            for pool in ("threads", "processes"):
                for parsed in (False, True):
                    runs.setdefault((pool, parsed), []).append(netsweep(
                        inv, pool, w, work, command="show version",
                        extra=parse if parsed else ()))
    rate = {k: median_rate(r) for k, r in runs.items()}
    rows, goals = [], {}
    for pool in ("threads", "processes"):
        cost = 1 - rate[(pool, True)] / rate[(pool, False)]
        goals[pool] = cost <= 0.10
        for parsed in (False, True):
            r = runs[(pool, parsed)]
            rows.append([pool, "--parse" if parsed else "raw", w, n, spread(walls(r)),
                         rate[(pool, parsed)], failures(r),
                         f"{cost:.1%}" if parsed else "", verdict(goals[pool]) if parsed else ""])
    text = table(f"parse: {n} instant devices, `show version`, -w {w}, with and without --parse "
                 f"(ntc-templates from {templates}), alternating runs ({repeat} each)",
                 ["pool", "output", "workers", "devices", "wall s median (min … max)",
                  "devices/s", "failed", "throughput cost", "goal <= 10 %"], rows)
    return {"devices": n, "workers": w, "templates": str(templates),
            "runs": {f"{p}/{'parse' if k else 'raw'}": r for (p, k), r in runs.items()},
            "rate_median": {f"{p}/{'parse' if k else 'raw'}": v for (p, k), v in rate.items()},
            "goals": {f"{p}_cost<=10%": g for p, g in goals.items()}, "table": text}


def simulated_platforms() -> list[str]:
    """The simulator's platforms, from `netsweep platforms --format json` (the table)."""
    listed = json.loads(subprocess.run([str(NETSWEEP), "platforms", "--format", "json"],
                                       check=True, capture_output=True, text=True).stdout)
    return [p["name"] for p in listed if p["builtin"]]


def bench_platforms(opts, work: Path) -> dict:
    """Issue 11: each platform's devices/s next to cisco_ios's, same run, same flags."""
    n, w = (200 if opts.quick else 1000), 32
    repeat = opts.repeat or 3
    platforms = simulated_platforms()
    runs: dict[str, list[dict]] = {p: [] for p in platforms}
    with contextlib.ExitStack() as stack:
        inventories = {}
        for i, p in enumerate(platforms):
            inv, _ = stack.enter_context(fleet(work, f"plat-{p}", n, 80 + i, platform=p))
            netsweep(inv, "threads", w, work, command="@version")  # host keys, warm caches
            inventories[p] = inv
        for _ in range(repeat):  # interleaved: every platform sees the same machine state
            for p in platforms:
                runs[p].append(netsweep(inventories[p], "threads", w, work, command="@version"))
    rate = {p: median_rate(r) for p, r in runs.items()}
    base = rate["cisco_ios"]
    rows = [[p, w, n, spread(walls(runs[p])), rate[p], f"{rate[p] / base:.0%}",
             failures(runs[p]), verdict(rate[p] / base >= 0.8)] for p in platforms]
    text = table(f"platforms: {n} instant simulated devices per platform, `-c @version`, "
                 f"threads -w {w}, median of {repeat} interleaved runs",
                 ["platform", "workers", "devices", "wall s median (min … max)", "devices/s",
                  "vs cisco_ios", "failed", "goal >= 80 %"], rows)
    return {"devices": n, "workers": w, "runs": runs, "rate_median": rate,
            "over_cisco_ios": {p: rate[p] / base for p in platforms}, "table": text}
def bench_telnet(opts, work: Path) -> dict:
    n = 200 if opts.quick else 1000
    counts = [32, 256]
    repeat = opts.repeat or 3
    python = ensure_netmiko()
    rates: dict[str, list[dict]] = {}
    with fleet(work, "tn-ssh", n, 72) as (ssh_inv, _), \
            fleet(work, "tn-telnet", n, 73, transport="telnet") as (telnet_inv, _):
        warm_up(ssh_inv, work)
        inventories = {"ssh": ssh_inv, "telnet": telnet_inv}
        for w in counts:
            for _ in range(repeat):  # interleaved: all four see the same machine state
                for pool in ("threads", "processes"):
                    for transport, inv in inventories.items():
                        rates.setdefault(f"{transport} {pool} {w}", []).append(
                            netsweep(inv, pool, w, work))
        # netmiko's cisco_ios_telnet on the same telnet fleet; small W sweep the first 25·W
        # devices (its own sleeps make a full run minutes long per point).
        netmiko_runs = {}
        for w in (32, 128, 256):
            netmiko_runs[w] = netmiko(python, telnet_inv, "threads", w, min(n, 25 * w))
            say(f"  netmiko cisco_ios_telnet W={w}: {netmiko_runs[w]['rate']:.0f}/s "
                f"({netmiko_runs[w].get('failed', 0)} failed)")
    rows = []
    for w in counts:
        for pool in ("threads", "processes"):
            ssh, telnet = (rates[f"{t} {pool} {w}"] for t in ("ssh", "telnet"))
            rows.append([w, pool, median_rate(ssh), median_rate(telnet),
                         median_rate(telnet) / median_rate(ssh),
                         max(failures(ssh), failures(telnet))])
    text = table(f"telnet: devices/s over SSH and over telnet, the same {n} instant simulated IOS "
                 f"devices per transport, `{COMMAND}` (median of {repeat})",
                 ["W", "pool", "ssh", "telnet", "telnet / ssh", "failed"], rows)
    best_key = max(rates, key=lambda k: median_rate(rates[k]) if k.startswith("telnet") else 0)
    ns = median_rate(rates[best_key])
    nm_w = max(netmiko_runs, key=lambda w: netmiko_runs[w]["rate"])
    nm = netmiko_runs[nm_w]
    ratio = ns / nm["rate"]
    text += "\n" + table("telnet: netsweep vs netmiko cisco_ios_telnet, each at its best W (issue 13)",
                         ["figure", "value", "goal", "verdict"], [
        [f"netsweep telnet {best_key.split()[1]} (W={best_key.split()[2]}, N={n})",
         f"{ns:.0f}/s", "", ""],
        [f"netmiko {nm['netmiko_version']} cisco_ios_telnet + ThreadPoolExecutor (W={nm_w}, "
         f"N={nm['devices']}, {nm.get('failed', 0)} failed)", f"{nm['rate']:.1f}/s", "", ""],
        ["netsweep / netmiko", f"{ratio:.1f}x", ">= 10x", verdict(ratio >= 10)],
    ])
    return {"devices": n, "runs": rates, "netmiko": {str(w): r for w, r in netmiko_runs.items()},
            "netsweep_over_netmiko": ratio, "met": ratio >= 10, "table": text}


BENCHMARKS = {
    "sweep": bench_sweep,
    "config": bench_config,
    "pools": bench_pools,
    "hang": bench_hang,
    "journal": bench_journal,
    "memory": bench_memory,
    "latency": bench_latency,
    "rtt": bench_rtt,
    "jump": bench_jump,
    "throughput": bench_throughput,
    "scaling": bench_scaling,
    "python": bench_python,
    "telnet": bench_telnet,
    "pacing": bench_pacing,
    "parse": bench_parse,
    "platforms": bench_platforms,
}


def run_one(name: str, opts) -> dict:
    say(f"[{name}] starting {time.strftime('%H:%M:%S')}")
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"netsweep-bench-{name}-") as tmp:
        figures = BENCHMARKS[name](opts, Path(tmp))
    figures["benchmark_seconds"] = time.monotonic() - started
    # The machine is shared: a load average well above what the benchmark itself adds means
    # someone else's build or test ran alongside, and the figures are noisier for it.
    figures["loadavg_1_5_15_before"] = load_before
    figures["loadavg_1_5_15_after"] = os.getloadavg()
    command = "python3 bench/run.py " + name + (" --quick" if opts.quick else "") + (
        f" --repeat {opts.repeat}" if opts.repeat else "")
    save(name, figures, command)
    say(f"[{name}] done in {figures['benchmark_seconds']:.0f} s")
    return json.loads((RESULTS / f"{name}.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", choices=[*BENCHMARKS, "all"], metavar="benchmark",
                        help=", ".join([*BENCHMARKS, "all"]))
    parser.add_argument("--quick", action="store_true",
                        help="smaller fleets and fewer points: a smoke run, not figures")
    parser.add_argument("--repeat", type=int, default=0,
                        help="runs per point where runs are cheap (default: per benchmark)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as built")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where the JSON figures go (default: bench/results)")
    opts = parser.parse_args()
    set_results_dir(opts.results)
    names = list(BENCHMARKS) if "all" in opts.names else list(dict.fromkeys(opts.names))
    if not opts.no_build:
        build()
    failed = []
    for name in names:
        try:
            run_one(name, opts)
        except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
            say(f"[{name}] FAILED: {error}")
            failed.append(name)
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
