"""``wrk``: the HTTP load generator, its Lua script (statuses counted) and the parsing of its output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server import Server

#: Debian's package of wrk (the HTTP section's load generator).
WRK_PACKAGE = "wrk"
_APT_TIMEOUT_S = 600


@dataclass(frozen=True)
class WrkLookup:
    """Where ``wrk`` is (``path``), or None, and what was done to find it, in one line for the report."""

    path: str | None
    note: str


def ensure_wrk(*, may_install: bool) -> WrkLookup:
    """Find ``wrk`` on PATH; if missing and ``may_install`` (root with apt-get), install Debian's package.

    ``apt-get install -y wrk`` is tried first; if it fails (no package lists yet, e.g. a fresh container), once
    more after ``apt-get update``. Never raises: without wrk the HTTP section is skipped and ``note`` says why
    and which command would fix it.
    """
    found = shutil.which("wrk")
    if found is not None:
        return WrkLookup(found, f"wrk found at {found}")
    manual = f"install it as root: apt-get install -y {WRK_PACKAGE}"
    if not may_install:
        return WrkLookup(None, f"wrk not installed and not installing it (not root, or --no-install); {manual}")
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        return WrkLookup(None, "wrk not installed and apt-get is not available (not Debian/Ubuntu): install the "
                               "wrk package of this system and run again")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    attempts = [[apt_get, "install", "-y", "--no-install-recommends", WRK_PACKAGE]]
    attempts += [[apt_get, "update"], attempts[0]]
    failure = ""
    for command in attempts:
        try:
            completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=_APT_TIMEOUT_S,
                                       check=False)
        except subprocess.TimeoutExpired:
            failure = f"`{' '.join(command[1:])}` did not finish in {_APT_TIMEOUT_S} s"
            continue
        if completed.returncode != 0:
            last = (completed.stderr.strip() or completed.stdout.strip()).splitlines()[-1:] or ["no output"]
            failure = f"`apt-get {' '.join(command[1:])}` exited {completed.returncode}: {last[0][:200]}"
        elif command[1] == "install" and (found := shutil.which("wrk")) is not None:
            return WrkLookup(found, f"wrk installed with apt-get ({found})")
    return WrkLookup(None, f"wrk not installed and installing it failed ({failure}); {manual}")


#: POSTs the body file; counts the answers by HTTP status and prints them at the end ("STATUS <code> <count>"),
#: so a non-2xx row says which status it got.
WRK_SCRIPT = """
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
statuses = {}
init = function(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %d %d\\n", code, count))
    end
  end
end
"""

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def run_wrk(url: str, body_path: Path | None, script: Path | None, duration_s: int, connections: int,
            timeout_s: int = 10, server: Server | None = None) -> dict[str, Any]:
    """``wrk`` (one thread, ``connections`` connections) POSTing ``body_path`` to ``url`` (GET without one).

    With ``server``, also the server's CPU seconds over the run (``cpu_s``) and per answered request.
    """
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", f"{timeout_s}s", "--latency"]
    if body_path is not None and script is not None:
        command += ["-s", str(script), url, "--", str(body_path)]
    else:
        command += [url]
    cpu_before = server.cpu_s() if server else 0.0
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + timeout_s + 30,
                            check=True).stdout
    cpu_after = server.cpu_s() if server else 0.0
    result: dict[str, Any] = {"non_2xx": 0, "socket_errors": 0}
    result["statuses"] = {code: int(count) for code, count in re.findall(r"^STATUS (\d+) (\d+)$", output,
                                                                          re.MULTILINE)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(rps.group(1)) if rps else 0.0
    total = re.search(r"(\d+) requests in", output)
    result["requests"] = int(total.group(1)) if total else 0
    for pct, key in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", output, re.MULTILINE)
        result[key] = round(_ms(match.group(1)), 2) if match else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        result["non_2xx"] = int(non2xx.group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors:
        result["socket_errors"] = sum(int(x) for x in errors.groups())
    if server is not None:
        result["cpu_s"] = round(cpu_after - cpu_before, 3)
        result["cpu_ms_per_req"] = (round(result["cpu_s"] * 1000 / result["requests"], 3)
                                    if result["requests"] else None)
    return result

