"""A submission that cannot be graded is named, with the reason in the student's terms."""

from __future__ import annotations

import pytest

from autograder.core.manifest import load_manifest
from autograder.core.reasons import Reason
from autograder.pipeline.prepare import prepare_submission

FIRST = load_manifest().assignments[0]


@pytest.mark.parametrize("text, said", [
    ('{"cells": [\n{"source": "unfinished', "(Unterminated string starting at: line 2)"),
    ('{"cells": [1 2]}', "(Expecting ',' delimiter: line 1)"),
])
def test_a_truncated_notebook_says_where_json_stopped_making_sense(tmp_path, text, said):
    folder = tmp_path / "ann" / FIRST.name
    folder.mkdir(parents=True)
    (folder / FIRST.notebook_file).write_text(text, encoding="utf-8")
    prepared = prepare_submission(folder, FIRST)
    assert prepared.notebook is None and prepared.code == Reason.NOT_JSON
    assert said in prepared.reason, prepared.reason
    assert " at at " not in prepared.reason
