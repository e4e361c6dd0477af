"""The fork server: kernels forked from a warm, sandboxed parent instead of
started cold (root only; see ``server``).
"""
