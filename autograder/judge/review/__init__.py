"""Static review: read the code a student controls, in the parent, before it runs.

The submitted file cannot change after submission, so what it says is
evidence no kernel can rewrite. Every cell the student controls (solution
cells, and any cell they added or edited, except the locked cells nbgrader
puts back) is parsed, and what a backpropagation exercise never needs is
flagged with its line:

* imports other than numpy, math, miniflow and a few harmless helpers;
* the modules and names that reach into the interpreter or the machine
  (``sys``, ``builtins``, ``gc``, ``ctypes``, ``inspect``, ``importlib``,
  ``os``, ``subprocess``, ``signal``, ``threading``, ``get_ipython``,
  ``exec``, ``eval``, ``compile``, ``__import__``, ``settrace``...);
* changing an imported module (``np.allclose = ...``, ``mf.Linear = ...``)
  or an object's identity (``__module__``, ``__class__``, ``__code__``...);
* **delegation to the reference**: subclassing, aliasing, importing under its
  own name, or calling miniflow's implementation of the exercise under test,
  also when it is reached by a name the review can work out from pieces
  (``getattr(mf, "Lin" + "ear")``, ``mf.__dict__["Linear"]``,
  ``sys.modules["miniflow"]``, ``operator.attrgetter("nodes.Linear")(mf)``,
  ``functools.reduce(getattr, ...)``, ``importlib.import_module("mini" +
  "flow")``...);
* **obfuscated reach** (rule ``obfuscation``): the machinery that reaches
  miniflow, or any code, by names or bytes the review cannot read: a module's
  ``__dict__``, ``vars()`` of a module, ``sys.modules``, ``importlib``,
  ``__import__``, ``getattr`` with a computed name on a module,
  ``operator.attrgetter``/``methodcaller`` aimed at a module or at miniflow's
  names, ``functools.reduce(getattr, ...)``, code run from strings (``exec``,
  ``eval``, ``compile``, however reached), functions built by hand
  (``types.FunctionType``), ``marshal``, and pickles read back (``pickle``,
  ``dill``, ``joblib``, ``copyreg``, ``np.load(..., allow_pickle=True)``);
  a module such as ``sys`` reached through another one's attributes (``warnings.sys``);
* a solution whose code is (nearly) miniflow's own, with how similar.

The review has a budget (``review_within``, what grading uses: ``budget``): it reads at
most ``REVIEW_CHARS`` characters of code, in a process forked for it that is
stopped after ``REVIEW_SECONDS``. A 12 MB notebook once held the grader's own
process for minutes. A review that runs out keeps what it found so far and
adds a flag (rule ``unreviewed``) asking the instructor to read the notebook
by hand; the submission is graded as usual. A normal notebook's review is the
same as without a budget.

Only delegation inside the exercise's own solution cell, naming the
reference plainly (a name, or attributes of one), costs points (its test
cells score zero): there the rule cannot misfire, since a class that
inherits the reference or a function that calls it is the reference.
Delegation reached by reflection is named, and the judge's verdict on what
the code does scores it. The rest is evidence for the instructor: the grade
table, ``grades.csv``, the class report and ``python -m autograder flags``
show it.

The review's modules: ``flags`` (what it finds), ``names`` (what a cell's names
stand for), ``reader`` (the rules, one cell at a time), ``submission`` (a whole
notebook), ``budget`` (in a process of its own, on a clock; the review server
that ``python -m autograder.judge.review`` runs).
"""

from autograder.judge.review.budget import review_within, start_review_server
from autograder.judge.review.flags import Flag, Review
from autograder.judge.review.submission import review_submission

__all__ = ["Flag", "Review", "review_submission", "review_within", "start_review_server"]
