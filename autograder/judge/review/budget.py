"""The review on a budget: in a process of its own, on a clock, within a size.

``review_within`` (what grading uses) runs ``review_submission`` in a child
forked for it, or, in a grader running other threads (a Dask client), where
forking is unsafe, in the review server (``ReviewServer``, ``python -m
autograder.judge.review``). The child sends each cell's flags as it goes and is
stopped after ``REVIEW_SECONDS``; a review that runs out keeps what it found
and adds a flag (rule ``unreviewed``) asking the instructor to read the
notebook by hand.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import nbformat

from autograder.judge.review.flags import Flag, Review, stopped
from autograder.judge.review.submission import review_submission

__all__ = ["REVIEW_CHARS", "REVIEW_SECONDS", "ReviewServer", "review_within", "serve",
           "start_review_server"]

# The review's budget per notebook (``review_within``): seconds of wall-clock
# time, and characters of code read (a course notebook has a few tens of
# thousands). $MINIFLOW_REVIEW_SECONDS overrides the time.
REVIEW_SECONDS = float(os.environ.get("MINIFLOW_REVIEW_SECONDS") or 10)
REVIEW_CHARS = 1_000_000


_warmed: dict[int, nbformat.NotebookNode] = {}


def _send_review(out: Any, submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                 release: nbformat.NotebookNode | None, max_chars: int) -> None:
    """Review, writing each cell's flags to ``out`` as a JSON line, then ``"done"``."""
    def send(message: Any) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        review_submission(submitted, source, release, max_chars=max_chars,
                          on_cell=lambda label, flags: send(
                              [label, flags and [asdict(f) for f in flags]]))
        send("done")
    except BaseException as error:  # noqa: BLE001 - told to the parent
        send({"error": f"{type(error).__name__}: {error}"[:500]})


def _forked_review(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                   release: nbformat.NotebookNode | None, max_chars: int) -> tuple[int, Any]:
    """A child forked to review: its output's descriptor, and how to stop and reap it."""
    if id(source) not in _warmed:
        # What a review imports and caches, here, once: a child's would be lost.
        review_submission(source, source, release)
        _warmed[id(source)] = source  # kept: an id is unique while its object lives
    readable, writable = os.pipe()
    sys.stdout.flush()  # or the child would write what is buffered here again
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: review, then exit without running the parent's exit handlers
        code = 0
        try:
            os.close(readable)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            with os.fdopen(writable, "w") as out:
                _send_review(out, submitted, source, release, max_chars)
        except BaseException:  # noqa: BLE001 - a forked child must never return
            code = 1
        finally:
            os._exit(code)
    os.close(writable)

    def stop(kill: bool) -> None:
        os.close(readable)
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    return readable, stop


class ReviewServer:
    """A Python process of its own that reviews notebook after notebook
    (``python -m autograder.judge.review``), for a grader running other threads (a
    Dask client), where forking is unsafe: a lock another thread holds would
    stay held in the child. It is started once and reused (what a review
    imports is then already there); killed when a review runs out of time,
    and started again for the next."""

    current: ReviewServer | None = None

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.judge.review"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.close)

    @classmethod
    def review(cls, submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
               release: nbformat.NotebookNode | None, max_chars: int) -> tuple[int, Any]:
        """Hand one review to the server: its output's descriptor, and how to end the review."""
        server = cls._ask([[submitted, source, release], max_chars])
        assert server.process.stdout is not None

        def stop(kill: bool) -> None:
            if kill:  # out of time, or gone: the next review starts a new server
                server.close()
                if cls.current is server:
                    cls.current = None

        return server.process.stdout.fileno(), stop

    @classmethod
    def warm(cls, source: nbformat.NotebookNode,
             release: nbformat.NotebookNode | None) -> None:
        """Start the server now, and have it review ``source`` once, answering nothing:
        what reviews import is then loaded while the grader does other work."""
        cls._ask([[source, source, release], None])

    @classmethod
    def _ask(cls, request: list) -> ReviewServer:
        """Send one request line to the running server (started if there is none)."""
        if cls.current is None or cls.current.process.poll() is not None:
            cls.current = cls()
        server = cls.current
        assert server.process.stdin is not None
        # one line per request; the server reads all of it before it answers. If
        # it died, the empty read that follows says so.
        with contextlib.suppress(BrokenPipeError):
            server.process.stdin.write(json.dumps(request).encode() + b"\n")
            server.process.stdin.flush()
        return server

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream and stream.close()


def serve() -> None:
    """``python -m autograder.judge.review``: review each request read from stdin.

    (The other end is ``ReviewServer``.)
    """
    # The answers go to the descriptor stdout was; anything else that prints
    # (a library's warning) goes to stderr, never into the answers.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        (submitted, source, release), max_chars = json.loads(line)
        notebooks = [nbformat.from_dict(notebook) if notebook is not None else None
                     for notebook in (submitted, source, release)]
        if max_chars is None:  # warming up (ReviewServer.warm): no answer
            with contextlib.suppress(Exception):
                review_submission(*notebooks)
            continue
        _send_review(out, *notebooks, max_chars)


def start_review_server(notebooks: Iterable[tuple[nbformat.NotebookNode,
                                                  nbformat.NotebookNode | None]]) -> None:
    """Start the review server ahead of the first review, for a grader about to
    run other threads (a Dask client); ``notebooks``: (source, release) pairs."""
    for source, release in notebooks:
        ReviewServer.warm(source, release)


def review_within(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode,
                  release: nbformat.NotebookNode | None = None, *,
                  seconds: float | None = None, max_chars: int | None = None) -> Review:
    """``review_submission`` with a budget: ``seconds`` (``REVIEW_SECONDS``) and
    ``max_chars`` characters of code (``REVIEW_CHARS``).

    The review runs in a process of its own, which sends each cell's flags
    as it goes and is killed when its time is up: the flags found so far are
    kept, with an ``unreviewed`` flag for the instructor. A process running
    only this thread forks it (cheap: what the review imports is already
    here); one running other threads (a Dask client) hands it to a review
    server, a Python process of its own kept for the next review.
    """
    seconds = REVIEW_SECONDS if seconds is None else seconds
    max_chars = REVIEW_CHARS if max_chars is None else max_chars
    start = ReviewServer.review if threading.active_count() > 1 else _forked_review
    readable, stop = start(submitted, source, release, max_chars)
    review, label, outcome = Review(), "cell 1", None
    deadline = time.monotonic() + seconds
    pending = b""
    try:
        while outcome is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([readable], [], [], left)[0]:
                outcome = "time"
                break
            chunk = os.read(readable, 1 << 16)
            if not chunk:
                outcome = {"error": "the review's process ended without an answer"}
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if isinstance(message, list):  # a cell started (None), or its flags
                    label = message[0]
                    review.flags += [Flag(**{**f, "zero": tuple(f["zero"])})
                                     for f in message[1] or []]
                else:
                    outcome = message
                    break
    finally:
        stop(outcome != "done")
    if outcome == "time":
        review.flags.append(stopped(label, f"after {seconds:g} s"))
    elif isinstance(outcome, dict):
        raise RuntimeError(f"the static review failed: {outcome['error']}")
    return review
