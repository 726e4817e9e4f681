#!/usr/bin/env python3
"""netmiko's and scrapli's own drivers against netsweep's simulator, one device per platform.

    python3 -m venv /work/venvs/drivers && /work/venvs/drivers/bin/pip install netmiko scrapli
    /work/venvs/drivers/bin/python bench/drivers.py [--sim target/release/netsweep-sim]

For each platform the simulator serves, each driver, unchanged, over SSH: connect (the
driver's own session preparation: paging, width, prompt), privileged mode (where the
platform has one), the platform's version command (its output must name the device's
software version), and an unknown command, which the driver must see as failed (scrapli:
`Result.failed`, from the platform definition's failure indicators; netmiko has no such
notion, so its output must carry the platform's error text). Prints a table; exits 1 if any
check failed. The simulator is started on 127.0.0.1 with ephemeral ports and stopped at the
end; nothing else is contacted.

This is a conformance check of the simulator against the drivers that describe real devices
best, not a benchmark; it is not part of the test suite (it needs PyPI packages).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Platform (netmiko device_type) → (scrapli definition, version command, software version,
# the failure text netmiko's output must carry for an unknown command).
PLATFORMS = {
    "cisco_ios": ("cisco_iosxe", "show version", "15.7(3)M8", r"% Invalid input"),
    "cisco_nxos": ("cisco_nxos", "show version", "9.3(8)", r"% Invalid command"),
    "cisco_xr": ("cisco_iosxr", "show version", "7.5.2", r"% Invalid input"),
    "arista_eos": ("arista_eos", "show version", "4.27.3F", r"% Invalid input"),
    "juniper_junos": ("juniper_junos", "show version", "20.4R3.8", r"unknown command"),
    "huawei": ("huawei_vrp", "display version", "5.160", r"Error: Unrecognized command"),
    "hp_comware": ("hp_comware", "display version", "7.1.070", r"% Unrecognized command"),
    "mikrotik_routeros": ("mikrotik_routeros", "/system resource print", "7.12.1",
                          r"bad command name"),
    "cisco_asa": ("cisco_asa", "show version", "9.16(3)19", r"ERROR: % Invalid input"),
    "linux": (None, "uname -a", "Linux", r"command not found"),
}

UNKNOWN = "frobnicate widgets"


def start_sim(sim: Path, workdir: Path) -> tuple[subprocess.Popen, list[dict]]:
    inventory = workdir / "fleet.yaml"
    names = ",".join(PLATFORMS)
    proc = subprocess.Popen(
        [str(sim), "--count", str(len(PLATFORMS)), "--platform", names, "--base-port", "0",
         "--seed", "5", "--write-inventory", str(inventory), "--duration", "10m"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("netsweep-sim exited before it was ready")
        if line.startswith("ready:"):
            break
    devices = []
    entry: dict = {}
    for raw in inventory.read_text().splitlines():
        if raw.startswith("- name: "):
            entry = {"name": json.loads(raw[len("- name: "):])}
            devices.append(entry)
        elif raw.startswith("  ") and ":" in raw and not raw.startswith("    "):
            key, value = raw.strip().split(":", 1)
            value = value.strip()
            entry[key] = json.loads(value) if value.startswith('"') else value
    return proc, devices


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def check_netmiko(device: dict, platform: str) -> list[str]:
    """The checks that failed, empty if all passed."""
    from netmiko import ConnectHandler

    _, command, version, error = PLATFORMS[platform]
    failed = []
    conn = ConnectHandler(device_type=platform, host=device["host"], port=int(device["port"]),
                          username=device["username"], password=device["password"],
                          secret=device.get("secret", ""), fast_cli=False, conn_timeout=10)
    try:
        if device.get("secret"):
            conn.enable()
            if not conn.check_enable_mode():
                failed.append("privileged")
        out = conn.send_command(command, read_timeout=20)
        if version not in out:
            failed.append(f"version ({out[:60]!r})")
        bad = conn.send_command(UNKNOWN, read_timeout=20)
        if not re.search(error, bad):
            failed.append(f"unknown command not failed ({bad[:60]!r})")
    finally:
        conn.disconnect()
    return failed


def check_scrapli(device: dict, platform: str, workdir: Path) -> list[str]:
    from scrapli import Cli
    from scrapli.auth import LookupKeyValue
    from scrapli.auth import Options as AuthOptions
    from scrapli.transport import BinOptions

    definition, command, version, error = PLATFORMS[platform]
    if definition is None:
        return ["n/a"]
    # A definition without failure indicators (scrapli's mikrotik_routeros) can never mark a
    # command failed: then, as with netmiko, the output must carry the platform's error text.
    has_indicators = definition_has_failure_indicators(definition)
    lookups = [LookupKeyValue(key="enable", value=device.get("secret") or "")]
    cli = Cli(
        device["host"],
        port=int(device["port"]),
        definition_file_or_name=definition,
        auth_options=AuthOptions(username=device["username"], password=device["password"],
                                 lookups=lookups),
        transport_options=BinOptions(known_hosts_path=str(workdir / "known_hosts"),
                                     enable_strict_key=False),
    )
    failed = []
    with cli:
        out = cli.send_input(command)
        if version not in out.result:
            failed.append(f"version ({out.result[:60]!r})")
        bad = cli.send_input(UNKNOWN)
        if has_indicators and not bad.failed:
            failed.append(f"unknown command not failed ({bad.result[:60]!r})")
        if not has_indicators and not re.search(error, bad.result):
            failed.append(f"unknown command without its error text ({bad.result[:60]!r})")
        prompt = cli.get_prompt().result
        if device.get("secret") and not prompt.rstrip().endswith("#"):
            failed.append(f"privileged ({prompt!r})")
    if not failed and not has_indicators:
        return ["ok*"]
    return failed


def definition_has_failure_indicators(definition: str) -> bool:
    import scrapli.definitions

    path = Path(scrapli.definitions.__file__).parent / f"{definition}.yaml"
    return "failure_indicators:" in path.read_text()


def run_check(check, *args) -> str:
    try:
        failed = check(*args)
    except Exception as e:  # a driver's own exception is a failed check, not a crash
        return f"FAIL {type(e).__name__}: {str(e).splitlines()[0][:70] if str(e) else ''}"
    if failed == ["n/a"]:
        return "n/a (no driver)"
    if failed == ["ok*"]:
        return "ok* (definition has no failure indicators)"
    return "ok" if not failed else "FAIL " + "; ".join(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", type=Path, default=ROOT / "target" / "release" / "netsweep-sim")
    parser.add_argument("--only", action="append", help="platforms to check (default: all)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netsweep-drivers-") as tmp:
        workdir = Path(tmp)
        proc, devices = start_sim(opts.sim, workdir)
        try:
            rows = []
            for device in devices:
                platform = device["device_type"]
                if opts.only and platform not in opts.only:
                    continue
                print(f"checking {platform} ({device['host']}:{device['port']})…", file=sys.stderr)
                rows.append((platform, run_check(check_netmiko, device, platform),
                             run_check(check_scrapli, device, platform, workdir)))
        finally:
            stop(proc)
    import netmiko
    import scrapli
    width = max(len(r[0]) for r in rows)
    print(f"netmiko {netmiko.__version__}, scrapli {scrapli.__version__}, against netsweep-sim")
    print(f"{'platform':<{width}}  {'netmiko':<40}  scrapli")
    print(f"{'-' * width}  {'-' * 40}  {'-' * 40}")
    for platform, nm, sc in rows:
        print(f"{platform:<{width}}  {nm:<40}  {sc}")
    bad = [r for r in rows if r[1].startswith("FAIL") or r[2].startswith("FAIL")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
