"""What parley's slixmpp scripts share: failed checks, progress lines,
bounded waits, and starting and stopping clients around a scenario.

Each script imports it from its own directory (Python puts a script's
directory first on the module path).
"""

import asyncio
import uuid


class Failure(Exception):
    """A check failed; the message says which and why."""


def ok(msg):
    print("ok: " + msg, flush=True)


def info(msg):
    print("info: " + msg, flush=True)


def token():
    """A short random string that makes names and texts unique."""
    return uuid.uuid4().hex[:10]


async def expect(fut, what, timeout):
    """Wait for fut, failing with a message naming what was expected."""
    try:
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        raise Failure("timed out after %ds waiting for %s" % (timeout, what)) from None


async def with_clients(clients, body):
    """Start clients in order, run body, and always disconnect them."""
    started = []
    try:
        for c in clients:
            await c.start()
            started.append(c)
        await body()
    finally:
        for c in started:
            try:
                await c.stop()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
