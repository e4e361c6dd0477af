"""Whether bubblewrap works here, and the words of the sandbox: its modes, sizes and folders."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Availability", "CHILD", "ETC", "HOME", "INSTALL_HINT", "MODES", "MPL_DIR",
           "PASS_THROUGH", "SandboxError", "UNITS", "bwrap_has_size", "format_size",
           "isolation_warning", "namespace_flags", "parse_size", "probe_bwrap", "resolve_mode"]


MODES = ("auto", "bwrap", "none")
CHILD = Path(__file__).with_name("child.py")
HOME = "/home/student"
MPL_DIR = f"{HOME}/.config/matplotlib"  # the kernel's MPLCONFIGDIR (inside bubblewrap)
# Environment variables a grading kernel may inherit; everything else (tokens,
# credentials, the grader's paths) stays outside.
PASS_THROUGH = ("MPLBACKEND", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "LANG", "LC_ALL",
                "TZ", "PYTHONHASHSEED")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "fonts",
       "nsswitch.conf", "mime.types", "alternatives")

UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024 ** 2, "mb": 1000 ** 2,
          "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3,
          "t": 1024 ** 4, "tb": 1000 ** 4, "tib": 1024 ** 4}


class SandboxError(RuntimeError):
    """The sandbox was asked for and cannot be had; the message says how to fix it."""


def parse_size(value: str | int) -> int:
    """``"2 GiB"``, ``"512MiB"``, ``"1g"`` or a number of bytes, as bytes."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in UNITS:
        raise ValueError(f"cannot read {value!r} as a size: write it like '2 GiB', "
                         "'512 MiB' or a number of bytes")
    return int(float(match.group(1)) * UNITS[unit])


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Availability:
    """Whether bubblewrap can sandbox a kernel here: its path, or why not and the fix."""

    ok: bool
    detail: str


_NAMESPACE_FIX = (
    "This machine does not let unprivileged programs create namespaces. As root, allow them "
    "(`sysctl -w user.max_user_namespaces=15000`; on Debian before 11 also "
    "`sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu 23.10 and later "
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile for "
    "bwrap), or grade outside this container (Docker's default seccomp profile forbids "
    "namespaces: run it with --security-opt seccomp=unconfined).")
INSTALL_HINT = ("install bubblewrap: `sudo apt-get install bubblewrap` (Debian, Ubuntu), "
                "`sudo dnf install bubblewrap` (Fedora), `sudo pacman -S bubblewrap` (Arch) or, "
                "without root, `conda install -c conda-forge bubblewrap`. "
                "On macOS and Windows grade inside a Linux container or virtual machine "
                "(docs/safety.md, 'Safety').")


def namespace_flags(as_root: bool) -> list[str]:
    # As root, no user namespace: the sandbox keeps root's capabilities just
    # long enough for child.py to drop to an unprivileged uid, so that
    # the kernel really is another user (RLIMIT_NPROC is not enforced on root).
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
             "--unshare-cgroup-try"]
    return flags if as_root else ["--unshare-user", *flags]


@functools.lru_cache(maxsize=4)
def probe_bwrap(executable: str = "bwrap") -> Availability:
    """Can bubblewrap build the kernel's sandbox on this machine?"""
    if not sys.platform.startswith("linux"):
        return Availability(False, f"bubblewrap needs Linux; this is {sys.platform}. "
                            + INSTALL_HINT)
    path = shutil.which(executable)
    if path is None:
        return Availability(False, "bubblewrap (bwrap) is not installed: " + INSTALL_HINT)
    command = [path, *namespace_flags(os.geteuid() == 0), "--die-with-parent",
               "--new-session", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp", "true"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Availability(False, f"{path} could not be run ({error}). " + INSTALL_HINT)
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[:300] or f"exit status {done.returncode}"
        return Availability(False, f"{path} is installed but cannot create a sandbox here "
                            f"({said}). " + _NAMESPACE_FIX)
    return Availability(True, path)


@functools.lru_cache(maxsize=1)
def bwrap_has_size() -> bool:
    """bubblewrap 0.7 and later can cap a tmpfs (--size); older ones cannot."""
    done = subprocess.run([probe_bwrap().detail, "--help"], capture_output=True, text=True,
                          check=False)
    return "--size" in done.stdout + done.stderr


def resolve_mode(requested: str) -> tuple[str, str]:
    """The mode to use for ``requested`` and why: ``("bwrap", path)`` or ``("none", reason)``.

    ``bwrap`` that cannot work raises SandboxError; ``auto`` falls back to
    ``none`` with the reason.
    """
    if requested not in MODES:
        raise ValueError(f"sandbox mode {requested!r}: choose one of {', '.join(MODES)}")
    if requested == "none":
        return "none", "the sandbox was turned off (sandbox mode 'none')"
    probe = probe_bwrap()
    if probe.ok:
        return "bwrap", probe.detail
    if requested == "bwrap":
        raise SandboxError(f"sandbox mode 'bwrap' was asked for, but {probe.detail}")
    return "none", probe.detail


def isolation_warning(reason: str) -> str:
    """The warning printed on every grade run that has no sandbox."""
    return ("WARNING: student code runs WITHOUT ISOLATION: " + reason + "\n"
            "Kernels still have resource limits and a clean environment, but they can read "
            "and write whatever the grading user can. Use --sandbox bwrap to refuse to grade "
            "without the sandbox.")
