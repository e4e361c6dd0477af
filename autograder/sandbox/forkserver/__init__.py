"""The fork server: kernels forked from a warm, sandboxed parent instead of
started cold (root only; see ``server``, the server's process; ``client``, the
grader's side; ``syscalls``, the Linux calls both make; ``registry``, this
process's servers).
"""
