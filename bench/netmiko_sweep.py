"""The Python stack the seeds teach, as users run it: netmiko + concurrent.futures.

Run by bench/run.py with the throwaway virtualenv's interpreter (it needs netmiko and PyYAML);
prints one JSON object with the figures on stdout. Nothing here is a test.

Each device is what the seeds' `netmiko_threads_map` script does:
`ConnectHandler(**device)`, `enable()`, `send_command(command)`, in an executor's `map`, with
netmiko's default timing settings. The one change: an exception is caught and counted instead of
ending the script, so a run always reports how many devices failed.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from itertools import repeat

import netmiko
import yaml


def send_show(device, command):
    try:
        with netmiko.ConnectHandler(**device) as ssh:
            ssh.enable()
            result = ssh.send_command(command)
        return True, result
    except Exception as error:  # noqa: BLE001 - counted, not hidden: see `failed`
        return False, f"{device['host']}:{device['port']}: {type(error).__name__}: {error}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-i", "--inventory", required=True)
    parser.add_argument("--executor", choices=["threads", "processes"], required=True)
    parser.add_argument("-w", "--workers", type=int, required=True)
    parser.add_argument("-c", "--command", default="show clock")
    parser.add_argument("--limit", type=int, default=0, help="only the first N devices")
    args = parser.parse_args()

    with open(args.inventory) as f:
        entries = yaml.safe_load(f)
    if args.limit:
        entries = entries[: args.limit]
    fields = ("device_type", "host", "port", "username", "password", "secret")
    devices = [{k: e[k] for k in fields} for e in entries]

    executor_class = ThreadPoolExecutor if args.executor == "threads" else ProcessPoolExecutor
    started = time.perf_counter()
    failed = 0
    first_error = None
    with executor_class(max_workers=args.workers) as executor:
        for ok, output in executor.map(send_show, devices, repeat(args.command)):
            if not ok:
                failed += 1
                first_error = first_error or output
    elapsed = time.perf_counter() - started
    json.dump(
        {
            "tool": f"netmiko-{args.executor}",
            "netmiko_version": netmiko.__version__,
            "python": sys.version.split()[0],
            "workers": args.workers,
            "devices": len(devices),
            "failed": failed,
            "elapsed_s": elapsed,
            "devices_per_s": len(devices) / elapsed,
            "first_error": first_error,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
