"""Taking submissions in from an LMS archive, a folder or nbgrader's
exchange, as data: nothing a student names or writes is trusted.

One job a module, from the bottom up:

* ``report``: ``CollectReport``, what one collect placed, skipped and
  refused, with names shown escaped and sizes in words;
* ``holding``: the course held while a collect writes, as a grading run
  holds it;
* ``files``: the caps (``MAX_*``) and reading without trusting: names
  checked, files opened through descriptors without following links,
  copies bounded as they are read;
* ``lms``: an LMS's names for students (Canvas, Moodle) mapped to the roster's ids;
* ``archives``: ``collect``, from an LMS zip or tar or a folder;
* ``exchange``: ``collect_exchange``, from nbgrader's exchange;
* ``submit``: the students' end of the exchange on a hub, ``PrivateSubmit``
  (loaded by nbgrader in each student's server, not by collect).
"""

from autograder.collect.archives import LMS_LATE, collect
from autograder.collect.exchange import EXCHANGE_CLOCK_SLACK, collect_exchange, exchange_root
from autograder.collect.files import (
    MAX_ARCHIVE_BYTES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_MEMBERS,
    MAX_NAME_BYTES,
    MAX_TOTAL_BYTES,
)
from autograder.collect.report import MAX_REPORT_LINES, CollectReport

__all__ = ["EXCHANGE_CLOCK_SLACK", "LMS_LATE", "MAX_ARCHIVE_BYTES", "MAX_DEPTH",
           "MAX_FILE_BYTES", "MAX_MEMBERS", "MAX_NAME_BYTES", "MAX_REPORT_LINES",
           "MAX_TOTAL_BYTES", "CollectReport", "collect", "collect_exchange", "exchange_root"]
