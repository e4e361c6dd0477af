"""Doing the work: the worker pool, one submission in a worker, the Dask
cluster, the journal of an interrupted run.
"""
