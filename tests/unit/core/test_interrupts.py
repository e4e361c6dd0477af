"""Ctrl-C while the grader is already stopping changes nothing but a flag."""

from __future__ import annotations

import os
import signal

import pytest

from autograder.core import interrupts


@pytest.fixture
def handlers():
    kept = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    # Forget the signal these tests sent, or a grading run later in the same session
    # would take it for the user's Ctrl-C and stop.
    interrupts.stop_on_signals()
    assert not interrupts.interrupted()
    signal.signal(signal.SIGINT, kept[0])
    signal.signal(signal.SIGTERM, kept[1])


def test_before_stopping_a_signal_unwinds_like_ctrl_c(handlers):
    interrupts.stop_on_signals()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # a point where Python runs the handler
    assert interrupts.interrupted()


def test_once_stopping_another_signal_is_remembered_not_raised(handlers):
    """Raised there, it would escape the command's last words, and the process
    would end by the signal (-2) instead of with its exit status 130."""
    interrupts.stop_on_signals()
    assert not interrupts.interrupted()
    interrupts.stopping()
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    signal.sigtimedwait([], 0)
    assert interrupts.interrupted()
