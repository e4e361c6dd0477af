"""Every grading kernel in bubblewrap, with limits a watchdog enforces
(``manager``), the child that sets the limits before the kernel starts
(``child``), what a kernel may see (``visible``), Unix-socket kernels
(``kernels``) and the fork server (``forkserver/``).
"""
