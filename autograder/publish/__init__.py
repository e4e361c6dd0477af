"""What instructors and students read: feedback pages, the class report,
grades.csv, the roster, and notebooks sanitised for formgrader.
"""
