"""The rule of tests/unit/: no test here starts a kernel (tests/conftest.py enforces it)."""

from __future__ import annotations

import pytest


def test_starting_a_kernel_here_is_an_error_that_says_where_the_test_belongs():
    from jupyter_client.manager import KernelManager

    with pytest.raises(AssertionError, match="a unit test may not"):
        KernelManager(kernel_name="python3").start_kernel()
