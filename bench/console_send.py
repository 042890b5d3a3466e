"""Console send benchmark: a 100,000-number `.xlsx` uploaded, previewed and
sent from the console, while an API client keeps asking `/mm/`.

    .venv/bin/python bench/console_send.py [--numbers 100000] [--format xlsx]

It makes a temporary platform with the `hongyan` CLI, starts `hongyan serve`
as users run it (default settings: SQLite, the simulated carrier delivering,
access log on) on a free 127.0.0.1 port, signs in as a browser does, and
posts the send form with the file, then confirms the preview. All the while
a second client asks `/mm/` (the balance) once every 50 ms: its answer times
during the upload are what "does not block the server" means in figures.

Afterwards it checks the send was all or nothing as promised: the balance
went down by numbers x parts exactly and the file holds that many messages.

Figures go to stdout, one a line (`name value unit`); notes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openpyxl

sys.path.insert(0, str(Path(__file__).parent))
from console import PASSWORD, UID, Platform, figure, sign_in
from report import machine, note
from server_process import _default_hongyan

TEXT = "【鸿雁科技】双十二会员日，全场满 200 减 30，回复 TD 退订"
POLL_S = 0.05


def workbook(numbers: list[str]) -> bytes:
    """The numbers one a row in column A under a header, as a customer's export."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("号码")
    sheet.append(["手机号码"])
    for number in numbers:
        sheet.append([int(number)])  # Excel keeps numbers as numbers
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Poller:
    """`/mm/` every POLL_S on its own connection; answer times in ms by phase."""

    def __init__(self, url: str) -> None:
        pwd = hashlib.md5((PASSWORD + UID).encode()).hexdigest()
        self.params = {"uid": UID, "pwd": pwd}
        self.client = httpx.Client(base_url=url, timeout=120)
        self.phase = "idle"
        self.times: dict[str, list[float]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        self.client.get("/mm/", params=self.params)  # connected and warm: not counted
        while not self.done.wait(POLL_S):
            started = time.perf_counter()
            answer = self.client.get("/mm/", params=self.params)
            elapsed = (time.perf_counter() - started) * 1000
            if "stat=100" not in answer.text:
                raise RuntimeError(f"/mm/ answered {answer.text!r}")
            self.times.setdefault(self.phase, []).append(elapsed)

    def report(self, phase: str) -> None:
        times = self.times.get(phase, [])
        if len(times) < 2:
            note(f"# /mm/ during {phase}: {len(times)} answers, too few for figures")
            return
        figure(f"mm_during_{phase}_answers", len(times), "answers")
        figure(f"mm_during_{phase}_p50", statistics.median(times), "ms")
        figure(
            f"mm_during_{phase}_p95",
            statistics.quantiles(times, n=20, method="inclusive")[18],
            "ms",
        )
        figure(f"mm_during_{phase}_max", max(times), "ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--hongyan", default="")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    for line in machine():
        print(line, flush=True)
    numbers = [f"139{i:08d}" for i in range(args.numbers)]
    if args.format == "xlsx":
        data, name = workbook(numbers), "numbers.xlsx"
    else:
        data, name = ("\n".join(numbers) + "\n").encode(), "numbers.csv"
    figure("upload_mb", len(data) / 1e6, "MB")
    workdir = Path(tempfile.mkdtemp(prefix="hongyan-bench-send-"))
    platform = Platform(args.hongyan or _default_hongyan(), workdir)
    balance = args.numbers * 2
    poller: Poller | None = None
    try:
        platform.cli("account", "create", UID, "--password", PASSWORD, "--balance", str(balance))
        platform.start()
        poller = Poller(platform.url)
        poller.thread.start()
        with httpx.Client(base_url=platform.url, timeout=600) as client:
            sign_in(client)
            form = client.get("/console/send").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            time.sleep(1)  # an idle second of /mm/ answers to compare with
            poller.phase = "preview"
            started = time.perf_counter()
            preview = client.post(
                "/console/send",
                data={"numbers": "", "content": TEXT, "time": "", "csrf": csrf},
                files={"file": (name, data, "application/octet-stream")},
            )
            figure("preview_s", time.perf_counter() - started, "s")
            if preview.status_code != 200 or 'name="draft"' not in preview.text:
                raise RuntimeError(f"preview answered {preview.status_code}")
            draft = preview.text.split('name="draft" value="', 1)[1].split('"', 1)[0]
            poller.phase = "confirm"
            started = time.perf_counter()
            sent = client.post("/console/send/confirm", data={"draft": draft, "csrf": csrf})
            figure("confirm_s", time.perf_counter() - started, "s")
            if sent.status_code != 200:
                raise RuntimeError(f"confirm answered {sent.status_code}")
            poller.phase = "after"
            time.sleep(1)
        poller.done.set()
        poller.thread.join(timeout=120)
        for phase in ("idle", "preview", "confirm"):
            poller.report(phase)
        db = sqlite3.connect(platform.var / "hongyan.db")
        (stored,) = db.execute("SELECT count(*) FROM messages").fetchone()
        (left,) = db.execute("SELECT balance FROM accounts WHERE uid = ?", (UID,)).fetchone()
        db.close()
        figure("messages_stored", stored, "messages")
        if stored != args.numbers or left != balance - args.numbers:
            raise RuntimeError(f"stored {stored} messages, balance {left} of {balance}")
    finally:
        if poller is not None:
            poller.done.set()
        platform.finish(args.keep)


if __name__ == "__main__":
    main()
