"""The client of a sandboxed kernel: it waits for the kernel without idling, and a kernel
that broke its end of the heartbeat cannot hang it.

``SandboxKernelManager`` (``autograder.sandbox.manager``) hands out this client.
"""

from __future__ import annotations

import time

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import HBChannel
from traitlets import Type

__all__ = ["SandboxKernelClient"]


class _BoundedHeartbeat(HBChannel):
    """The heartbeat, but a kernel that broke its end cannot hang us while we stop."""

    def _create_socket(self) -> None:
        super()._create_socket()
        self.socket.sndtimeo = 2000  # type: ignore[union-attr]
        self.socket.rcvtimeo = 2000  # type: ignore[union-attr]

    async def _async_run(self) -> None:
        import zmq

        try:
            await super()._async_run()
        except zmq.ZMQError:
            self._beating = False  # the kernel no longer answers: it counts as dead


class SandboxKernelClient(AsyncKernelClient):
    hb_channel_class = Type(_BoundedHeartbeat)  # type: ignore[assignment]

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        """Wait until the kernel answers on its shell channel and IOPub delivers.

        jupyter_client's own wait then listens to IOPub until it has been
        silent for 0.2 s, to drop what the kernel said as it started: 0.2 s
        of nothing per notebook (a fifth of grading one, with a forked
        kernel). Here what IOPub already holds is dropped without waiting for
        more; anything from the start-up that arrives later is not a reply to
        any request of the notebook's, and nbclient ignores it.
        """
        from queue import Empty

        from jupyter_client.utils import ensure_async

        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                # IOPub is connected once it delivers anything: the kernel's
                # welcome to a new subscriber, or the status of this request.
                try:
                    await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await ensure_async(self.iopub_channel.get_msg(timeout=0))
            except Empty:
                break

    wait_for_ready = _async_wait_for_ready
