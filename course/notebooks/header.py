from course.authoring import NotebookBuilder

notebook = NotebookBuilder(id_prefix="header-")
notebook.markdown(r"""
# Build your own TensorFlow

*The miniflow course.* In six assignments you build `miniflow`, a small
neural-network library, and use it to read handwritten digits.

**Running the tests.** Run the notebook top to bottom (*Run > Run All Cells*
in JupyterLab). After each exercise, run its test cell: no output means the
visible tests passed. An error message says what is wrong: its first line
names what to fix, the lines below it which value and which element. A test
cell calls one named check, such as `checks.test_mul_backward(Mul)`; run
`checks.test_mul_backward?` in a cell of your own to read what it tests. When you
are stuck, `check_gradients` from `miniflow` compares your gradients with
numerical ones and says where they differ.

**Run All and Validate.** *Run All* stops at the first test cell that fails,
so the cells after it (and their figures) do not run until that test passes:
fix the first failure first. nbgrader's *Validate* button runs the whole
notebook from a fresh start and lists every test cell that fails, each with
its error's first lines, or says that all the tests pass.

**Submitting.** Save the notebook under its original name (do not rename or
copy it), then *Kernel > Restart Kernel and Run All Cells* once to be sure it
runs from a fresh start. Submit that notebook through your course's
submission page. Grading runs hidden tests of the same kind as the visible
ones; each cell may run for at most 30 seconds.

**Honour code.** Write your solutions yourself. You may discuss ideas with
others, but do not share or copy code, and do not import miniflow's reference
implementation of the node you are asked to write: the grader checks, and it
scores zero.
""")
