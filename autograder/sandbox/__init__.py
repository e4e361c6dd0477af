"""Every grading kernel in bubblewrap, with limits a watchdog enforces.

The kernel manager (``manager``, the sandbox's one interface) and its parts:
its command line and bubblewrap's arguments (``command``), starting the
kernel or forking it (``launch``), the watchdog (``watchdog``), its client
(``client``). Below them: the fork server (``forkserver/``), what a kernel
may see (``files``, ``visible``), what its processes hold (``measure``),
whether bubblewrap works (``bubblewrap``), the child that sets the limits
before the kernel starts (``child``) and Unix-socket kernels (``kernels``).
"""
