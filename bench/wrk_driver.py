"""The optional wrk driver for the GET phases (`--driver wrk`).

A Lua script gives every wrk thread its own stride of fresh mobile numbers
(appended to a request path prefix, optionally followed by a fixed suffix),
checks each answer's status and the start of its body (`sms&stat=100&` for
hongyan; `bench/compare_kannel.py` gives Kannel's), stops a thread after its
share of requests, and prints one `WRKRESULT` line of counts and latencies that
`wrk_run` reads back into a `Result`. wrk does not read the answers of the
requests in flight when it stops; the caller allows for those in its database
check.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
from pathlib import Path

from loadgen import Result
from mt_api import GET_PREFIX, OK_PREFIX, Mobiles

WRK_SCRIPT = r"""
local prefix = "__PREFIX__"
local suffix = "__SUFFIX__"
local ok_status = __OK_STATUS__
local ok_body = "__OK_BODY__"
local threads = {}
local counter, limit, answered = 0, 0, 0
-- globals, so that done() can read them from each thread with thread:get()
ok, bad, sample = 0, 0, ""

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local stride = tonumber(args[2])
  counter = tonumber(args[1]) + id * stride
  limit = stride
end

function request()
  counter = counter + 1
  return wrk.format("GET", prefix .. counter .. suffix)
end

function response(status, headers, body)
  answered = answered + 1
  if status == ok_status and string.sub(body, 1, #ok_body) == ok_body then
    ok = ok + 1
  else
    bad = bad + 1
    if bad <= 5 then sample = sample .. status .. " " .. string.sub(body, 1, 60) .. " | " end
  end
  if answered >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local total_ok, total_bad, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    total_bad = total_bad + (t:get("bad") or 0)
    sample = sample .. (t:get("sample") or "")
  end
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9),
    total_ok, total_bad, e.connect, e.read, e.write, e.status, e.timeout, latency.max))
  io.write("WRKSAMPLE " .. sample .. "\n")
end
"""


def wrk_run(
    base: str,
    script: Path,
    mobiles: Mobiles,
    concurrency: int,
    max_requests: int,
    seconds: float,
) -> Result:
    threads = min(concurrency, max(1, (os.cpu_count() or 2) // 2))
    stride = max(1, max_requests // threads)
    first = mobiles.take(stride * threads + 1)
    argv = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s"]
    argv += ["--timeout", "30s", "-s", str(script), base, "--", str(first), str(stride)]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = Result()
    r.client_cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    match = re.search(r"^WRKRESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        r.errors[f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}"] += 1
        return r
    values = [int(float(v)) for v in match.group(1).split()]
    requests, duration_us, p50_us, p99_us, p999_us, ok, bad, *errors, max_us = values
    r.requests, r.ok, r.messages = requests, ok, ok
    r.elapsed = duration_us / 1e6
    r.known_ms = {0.5: p50_us / 1000, 0.99: p99_us / 1000, 0.999: p999_us / 1000}
    r.known_ms[1.0] = max_us / 1000
    if bad:
        sample = re.search(r"^WRKSAMPLE (.*)$", done.stdout, re.MULTILINE)
        r.errors[f"not accepted: {sample.group(1) if sample else ''}"] += bad
    for name, count in zip(("connect", "read", "write", "status", "timeout"), errors, strict=True):
        if count:
            r.errors[f"wrk {name} errors"] += count
    return r


def write_wrk_script(
    path: Path,
    prefix: str = GET_PREFIX.decode(),
    suffix: str = "",
    ok_status: int = 200,
    ok_body: str = OK_PREFIX.decode(),
) -> Path:
    """The script for GETs of `prefix` + a fresh number + `suffix`, at `path`.

    The strings go into Lua string literals: they must be URL-encoded already."""
    for value in (prefix, suffix, ok_body):
        if '"' in value or "\\" in value:
            raise ValueError(f"not a plain Lua string: {value!r}")
    script = WRK_SCRIPT.replace("__PREFIX__", prefix).replace("__SUFFIX__", suffix)
    script = script.replace("__OK_STATUS__", str(ok_status)).replace("__OK_BODY__", ok_body)
    path.write_text(script)
    return path
