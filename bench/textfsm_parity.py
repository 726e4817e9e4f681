#!/usr/bin/env python3
"""TextFSM parity (and speed) of a Rust engine against ntc-templates' fixtures.

    python3 bench/textfsm_parity.py FIXTURES_DIR TEMPLATES_DIR [--python PY] [--speed]

FIXTURES_DIR is laid out as ntc-templates' own `tests/` folder:
`<platform>/<command_with_underscores>/<name>.raw` beside `<name>.yml` (whose `parsed_sample`
holds the expected rows). TEMPLATES_DIR holds the `.textfsm` templates and the `index`. A
fixture passes when the engine's rows equal `parsed_sample`, as ntc-templates' test compares
them: same number of rows, and each row the same keys (lower-cased) and the same values, in
order.

The Rust side is `netsweep-textfsm`'s `parity` example (built with cargo unless `--runner`
names another program speaking the same protocol: see crates/textfsm/examples/parity.rs).
With `--python PY` (a Python that has `textfsm` and `PyYAML`, e.g. /work/venvs/textfsm/bin/python)
the same fixtures are also parsed by Python's textfsm, and the parity is counted over the
fixtures Python passes. `--speed` also prints CPU seconds per parsed fixture of both, measured
in the same run: templates compiled once and reused (`hot`), and compiled for every fixture
as ntc-templates' `parse_output` does (`cold`).

Prints figures and failures; asserts nothing; never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside the Python that has textfsm (a throwaway virtualenv): selects templates with
# textfsm's own CliTable, parses, and reports rows and CPU seconds as JSON.
PYTHON_SIDE = r"""
import json, sys, time
from textfsm import clitable, TextFSM

templates, jobs_path, repeat, speed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
jobs = [json.loads(l) for l in open(jobs_path)]
table = clitable.CliTable("index", templates)

def to_dicts(t):
    header = [h.lower() for h in t.header]
    return [dict(zip(header, list(row))) for row in t]

out = []
for job in jobs:
    data = open(job["raw"], encoding="utf-8", errors="surrogateescape").read()
    job["data"] = data
    try:
        table.ParseCmd(data, {"Command": job["command"], "Platform": job["platform"]})
        out.append({"rows": to_dicts(table)})
    except Exception as e:
        out.append({"error": f"{type(e).__name__}: {e}"})

figures = {}
if speed:
    # cold: what ntc-templates' parse_output does for every call (index cached by CliTable,
    # templates read and compiled each time; Python's re module keeps its own regex cache).
    start = time.process_time()
    for _ in range(repeat):
        for job in jobs:
            try:
                table.ParseCmd(job["data"], {"Command": job["command"], "Platform": job["platform"]})
            except Exception:
                pass
    figures["cold_cpu_s"] = time.process_time() - start
    # hot: each template compiled once, then only parsing (and the CliTable merge of several
    # templates is left out: none of the rows timed here needs more than its FSMs).
    fsms = {}
    plans = []
    for job in jobs:
        row = table.index.GetRowMatch({"Command": job["command"], "Platform": job["platform"]})
        if not row:
            plans.append([])
            continue
        names = table._TemplateNamesToFiles(table.index.index[row]["Template"])
        plan = []
        for handle in names:
            name = handle.name
            handle.close()
            if name not in fsms:
                with open(name) as f:
                    fsms[name] = TextFSM(f)
            plan.append(fsms[name])
        plans.append(plan)
    start = time.process_time()
    for _ in range(repeat):
        for job, plan in zip(jobs, plans):
            for fsm in plan:
                fsm.Reset()
                try:
                    fsm.ParseText(job["data"])
                except Exception:
                    pass
    figures["hot_cpu_s"] = time.process_time() - start
json.dump({"results": out, "figures": figures}, sys.stdout)
"""


def find_fixtures(root: Path) -> list[dict]:
    jobs = []
    for raw in sorted(root.glob("*/*/*.raw")):
        expected = raw.with_suffix(".yml")
        if not expected.exists():
            continue
        platform = raw.parent.parent.name
        command = raw.parent.name.replace("_", " ")
        jobs.append(
            {
                "id": len(jobs),
                "platform": platform,
                "command": command,
                "raw": str(raw),
                "yml": str(expected),
            }
        )
    return jobs


def load_expected(jobs: list[dict], python: str | None) -> list:
    """The `parsed_sample` of each fixture, read with PyYAML (from the given Python)."""
    code = (
        "import json, sys, yaml\n"
        "paths = json.load(open(sys.argv[1]))\n"
        "out = []\n"
        "for p in paths:\n"
        "    with open(p, encoding='utf-8') as f:\n"
        "        out.append((yaml.safe_load(f) or {}).get('parsed_sample'))\n"
        "json.dump(out, sys.stdout)\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([j["yml"] for j in jobs], f)
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", code, f.name],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    return json.loads(done.stdout)


def normalise(rows):
    """Rows as ntc-templates' test compares them: keys lower-cased."""
    if rows is None:
        return None
    return [{str(k).lower(): v for k, v in row.items()} for row in rows]


def differs(got: dict, expected) -> str | None:
    if "error" in got:
        return "error: " + got["error"]
    rows = normalise(got["rows"])
    expected = normalise(expected)
    if expected is None:
        return "fixture has no parsed_sample"
    if len(rows) != len(expected):
        return f"{len(rows)} rows, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(rows, expected)):
        if a != b:
            keys = sorted(set(a) | set(b))
            for k in keys:
                if a.get(k, "<missing>") != b.get(k, "<missing>"):
                    return f"row {i} key {k!r}: got {a.get(k, '<missing>')!r}, expected {b.get(k, '<missing>')!r}"
    return None


def run_rust(runner: list[str], templates: Path, jobs_path: str, repeat: int, speed: bool):
    cmd = [*runner, "--templates", str(templates), "--jobs", jobs_path]
    if speed:
        cmd += ["--speed", "--repeat", str(repeat)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    results = {line["id"]: line for line in lines if "id" in line}
    figures = next((line["figures"] for line in lines if "figures" in line), {})
    return results, figures


def run_python(python: str, templates: Path, jobs_path: str, repeat: int, speed: bool):
    done = subprocess.run(
        [python, "-c", PYTHON_SIDE, str(templates), jobs_path, str(repeat), "1" if speed else "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    answer = json.loads(done.stdout)
    return answer["results"], answer["figures"]


def build_runner() -> list[str]:
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "netsweep-textfsm", "--example", "parity"],
        cwd=ROOT,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return [str(target / "release" / "examples" / "parity")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fixtures", type=Path, help="ntc-templates' tests/ folder (or part of it)")
    parser.add_argument("templates", type=Path, help="folder with the .textfsm templates and index")
    parser.add_argument("--python", help="a Python with textfsm and PyYAML: compare with it")
    parser.add_argument("--runner", help="the engine's runner program (default: build the parity example)")
    parser.add_argument("--speed", action="store_true", help="also compare CPU per parsed fixture")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the fixtures when timing")
    parser.add_argument("--show", type=int, default=40, help="failures to list (default 40)")
    args = parser.parse_args()

    jobs = find_fixtures(args.fixtures)
    if not jobs:
        print(f"no fixtures (<platform>/<command>/<name>.raw with .yml) under {args.fixtures}", file=sys.stderr)
        return 2
    expected = load_expected(jobs, args.python)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for job in jobs:
            f.write(json.dumps({k: job[k] for k in ("id", "platform", "command", "raw")}) + "\n")
        jobs_path = f.name
    try:
        runner = args.runner.split() if args.runner else build_runner()
        rust, rust_figures = run_rust(runner, args.templates, jobs_path, args.repeat, args.speed)
        python, python_figures = (None, {})
        if args.python:
            python, python_figures = run_python(args.python, args.templates, jobs_path, args.repeat, args.speed)
    finally:
        os.unlink(jobs_path)

    failures = []
    python_passes = 0
    counted = 0
    passed = 0
    for job, want in zip(jobs, expected):
        if python is not None:
            if differs(python[job["id"]], want) is not None:
                continue
            python_passes += 1
        counted += 1
        got = rust.get(job["id"], {"error": "no answer from the runner"})
        problem = differs(got, want)
        if problem is None:
            passed += 1
        else:
            failures.append((job, problem))

    print(f"fixtures: {len(jobs)} under {args.fixtures}")
    if python is not None:
        print(f"python textfsm passes: {python_passes} / {len(jobs)}")
    print(f"rust engine passes: {passed} / {counted} ({100.0 * passed / counted:.2f} %)"
          + (" of those Python passes" if python is not None else ""))
    for job, problem in failures[: args.show]:
        rel = os.path.relpath(job["raw"], args.fixtures)
        print(f"  FAIL {rel}: {problem}")
    if len(failures) > args.show:
        print(f"  … and {len(failures) - args.show} more")
    if args.speed:
        n = len(jobs) * args.repeat
        print(f"speed: {len(jobs)} fixtures x {args.repeat} passes, CPU per parsed fixture")
        for mode in ("hot", "cold"):
            r = rust_figures.get(f"{mode}_cpu_s")
            p = python_figures.get(f"{mode}_cpu_s")
            line = f"  {mode:4}: rust {1e6 * r / n:9.1f} µs" if r is not None else f"  {mode:4}: rust -"
            if p is not None:
                line += f"   python {1e6 * p / n:9.1f} µs"
                if r:
                    line += f"   rust is {p / r:5.1f}x faster"
            print(line)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
