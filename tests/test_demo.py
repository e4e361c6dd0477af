"""The README's main job: the demo runs the whole term on a synthetic class."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_the_whole_pipeline_and_every_grade_is_as_expected(tmp_path):
    folder = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "autograder", "demo", "01_graphs",
                          "--output", str(folder), "--workers", "2"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    for step in ("1. release", "2. collect", "3. grade", "4. feedback", "5. export",
                 "6. report"):
        assert step in out
    assert "as expected: solution full marks, blank zero, every mutant lost points" in out
    # Issue 32: the class comes as a Canvas zip, each login mapped to its roster id, and
    # the report says what to re-teach first.
    assert ("Canvas's names mapped to roster ids (e.g. lmsblank_10001_..._graphs.ipynb -> "
            "blank)") in out
    assert re.search(r"   re-teach first: objective \d of 01_graphs: \"", out), out
    table = {line.split()[0]: line for line in out.splitlines() if " 01_graphs " in line}
    assert "10/10" in table["solution"] and " 0/10" in table["blank"]
    assert "rejected: graphs.ipynb is not valid JSON" in table["broken"]
    mutant_score = table["mutant01"].split()[2]
    assert mutant_score != "10/10"
    # What grading cost, measured by the run itself (the broken file starts no kernel).
    speed = re.search(r"throughput: (\d+) notebook\(s\) graded in ([\d.]+) s on 2 worker\(s\), "
                      r"([\d.]+) per minute", out)
    assert speed, out
    ran, seconds, rate = int(speed[1]), float(speed[2]), float(speed[3])
    assert ran == len(table) - 1 and seconds > 0
    # The line prints seconds to 0.1 s and the rate to 0.1: the rate must be what those
    # seconds, before rounding, give (a quick run makes the rounding of seconds count).
    assert 60 * ran / (seconds + 0.05) - 0.05 <= rate <= 60 * ran / (seconds - 0.05) + 0.05

    with open(folder / "grades.csv", newline="", encoding="utf-8") as file:
        rows = [r for r in csv.DictReader(file) if r["assignment"] == "01_graphs"]
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    assert scores["solution"] == 10 and scores["blank"] == 0 and scores["mutant01"] < 10
    assert (folder / "reports" / "class-report.html").stat().st_size > 10_000
    report = (folder / "reports" / "class-report.html").read_text(encoding="utf-8")
    assert "Rejected submissions (1)" in report and "is not valid JSON" in report
    assert "met (of the graded submissions)" in report
    assert "What to re-teach first" in report and "<th>section A</th><th>section B</th>" in report
    # the blank's stubs, grouped by the judge's code for them (core/mistakes.py)
    assert "<b>Mistake:</b> not attempted: the stub" in report
    assert "As grades.csv counts them (1 rejected as 0): mean" in report
    # Each graded submission remembers the tests it was graded with (for `release`).
    kept = json.loads((folder / "autograded" / "test-fingerprints.json").read_text())
    assert sorted(kept["01_graphs"]) == ["blank", "mutant01", "solution"]
    pages = sorted(p.relative_to(folder / "feedback").parts[0]
                   for p in (folder / "feedback").rglob("*.html"))
    assert pages == ["blank", "broken", "mutant01", "solution"], "the rejected one is told why"
    statuses = {r["student_id"]: r["status"] for r in rows}
    assert statuses["broken"] == "rejected" and statuses["blank"] == "graded"
    assert list(rows[0])[-7:] == ["flags", "seconds_late", "days_late", "late_policy",
                                  "stale_tests", "section", "status"], \
        "the CLI's export, columns and all"
    assert str(folder) in out and "class-report.html" in out
