"""Running a submission's notebook: nbgrader's preprocessor in the sandbox
(``preprocessor``) and the self-check's direct runner (``direct``).
"""
