"""Code that runs inside the student's kernel: the tamper guard, the figure
backend and matplotlib's lighter start.
"""
