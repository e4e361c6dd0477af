"""The one record of scores: the gradebook, late work, which tests graded
what, nbgrader's API in this process.
"""
