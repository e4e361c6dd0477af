"""The judge's secret: where the inputs of its questions come from.

The plans in ``autograder.judge.plans`` name public seeds. The judge never uses
them as they are: each is mixed with a secret of the course (HMAC-SHA256 over
the assignment, the student and the seed), so no student can compute, at
home, the inputs their code will be asked about, while a regrade of the same
submission asks exactly the same questions.

The secret is 32 random bytes, made on first use and kept in the course root
(``.miniflow-judge-secret``, readable by its owner only, never released: it is
not under ``source/`` or ``release/`` and git ignores it), or given in the
``MINIFLOW_JUDGE_SECRET`` environment variable (hex) where several graders
must agree.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["SECRET_ENV", "SECRET_FILE", "read_secret", "seeds_for"]

SECRET_ENV = "MINIFLOW_JUDGE_SECRET"
SECRET_FILE = ".miniflow-judge-secret"


class SecretError(RuntimeError):
    """The course's secret cannot be read or made."""


def read_secret(path: Path | str, *, create: bool = True) -> bytes:
    """The course's secret: the environment's, else the file ``path`` (made if missing)."""
    given = os.environ.get(SECRET_ENV, "").strip()
    if given:
        try:
            secret = bytes.fromhex(given)
        except ValueError:
            raise SecretError(f"{SECRET_ENV} must be hexadecimal (for example the output of "
                              "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
                              ) from None
        if len(secret) < 16:
            raise SecretError(f"{SECRET_ENV} is too short: give at least 32 hex digits")
        return secret
    path = Path(path)
    if not path.exists() and create:
        # Written whole under another name, then linked into place: a grader that
        # starts at the same moment reads either nothing or the whole secret.
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another grader made it first: read theirs
        finally:
            draft.unlink()
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except (OSError, ValueError) as error:
        raise SecretError(f"cannot read the judge's secret {path}: {error}. Delete the file to "
                          f"make a new one (earlier grades are unaffected), or set "
                          f"{SECRET_ENV}") from None
    if len(secret) < 16:
        raise SecretError(f"the judge's secret {path} is too short: delete it to make a new one")
    return secret


def seeds_for(secret: bytes, assignment: str, student: str) -> Callable[[int], int]:
    """A plan's public seed -> the seed the judge uses for this submission."""
    def derive(seed: int) -> int:
        message = f"{assignment}\0{student}\0{seed}".encode()
        digest = hmac.new(secret, message, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    return derive
