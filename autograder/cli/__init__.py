"""The instructor's command line (``python -m autograder``)."""
