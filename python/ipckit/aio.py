"""asyncio helpers: await messages and connections without threads.

Every channel has a descriptor that is readable when a receive (or an
accept) would not block; these helpers wait for it on the running loop and
then take the message without blocking. Readiness can be spurious (another
process may take the message first on a shared queue): they wait again.

    async with ... :
        msg = await ipckit.aio.recv(chan)
        async for msg in ipckit.aio.messages(chan): ...
"""
import asyncio

from ._errors import WouldBlock


async def _readable(fd):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready():
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _wait_for(chan, take, timeout):
    async def run():
        while True:
            try:
                return take()
            except WouldBlock:
                pass
            await _readable(chan.fileno())
    if timeout is None:
        return await run()
    return await asyncio.wait_for(run(), timeout)


async def recv(chan, timeout=None):
    """The next message as bytes (PeerGone when the peer has gone)."""
    return await _wait_for(chan, lambda: chan.recv(0), timeout)


async def recvmsg(chan, timeout=None, **kw):
    """The next message as a Message (with metadata)."""
    return await _wait_for(chan, lambda: chan.recvmsg(0, **kw), timeout)


async def recv_view(chan, timeout=None):
    """The next ring message in place (a MessageView)."""
    return await _wait_for(chan, lambda: chan.recv_view(0), timeout)


async def accept(listener, timeout=None):
    """The next connection on a unix:/tcp: listener."""
    return await _wait_for(listener, lambda: listener.accept(0), timeout)


async def send(chan, data, timeout=None, **kw):
    """Send without blocking the loop: retried with a short, growing pause
    while the channel is full (the descriptor tells only of input)."""
    async def run():
        pause = 0.0001
        while True:
            try:
                return chan.send(data, 0, **kw)
            except WouldBlock:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.01)
    if timeout is None:
        return await run()
    return await asyncio.wait_for(run(), timeout)


async def request(chan, data, timeout=None):
    """A ?proto=req channel: send a request and await its reply (a Message;
    .status is what the server attached). On timeout the request stays
    outstanding until the channel's next request replaces it."""
    async def run():
        await send(chan, data)
        return await recvmsg(chan)
    if timeout is None:
        return await run()
    return await asyncio.wait_for(run(), timeout)


async def messages(chan):
    """``async for msg in ipckit.aio.messages(chan):`` until the peer has
    gone."""
    while True:
        try:
            yield await recv(chan)
        except BrokenPipeError:
            return
