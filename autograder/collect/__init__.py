"""Taking submissions in from an LMS archive, a folder or nbgrader's
exchange, as data: nothing a student names or writes is trusted.
"""
