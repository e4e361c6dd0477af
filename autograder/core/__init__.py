"""The foundations every layer may use: the course manifest, the cell rules,
reason codes, the course lock, process trees, Ctrl-C, versions, safe text
and running nbgrader; and, above them, the result model (one graded
submission, typed) that every layer above passes on.
"""
