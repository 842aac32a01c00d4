"""What parley's slixmpp scripts share: failed checks, progress lines,
bounded waits, and starting and stopping clients around a scenario.

Each script imports it from its own directory (Python puts a script's
directory first on the module path).
"""

import argparse
import asyncio
import logging
import ssl
import sys
import uuid

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


class Failure(Exception):
    """A check failed; the message says which and why."""


def ok(msg):
    print("ok: " + msg, flush=True)


def info(msg):
    print("info: " + msg, flush=True)


def token():
    """A short random string that makes names and texts unique."""
    return uuid.uuid4().hex[:10]


# How long to wait for any single expected event, unless a script says.
STEP_TIMEOUT = 15


async def expect(fut, what, timeout=STEP_TIMEOUT):
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


class Client(slixmpp.ClientXMPP):
    """The base of the scripts' clients: any server certificate accepted
    (test servers use throwaway ones), the given plugins registered, and
    `started`, a future that settles when the session starts or logging in
    fails."""

    def __init__(self, jid, password, plugins, name=None, **kwargs):
        super().__init__(jid, password, **kwargs)
        self.name = name or jid
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        for plugin in plugins:
            self.register_plugin(plugin)
        self.started = self.loop.create_future()
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("failed_all_auth", self._on_failed_auth)
        self.add_event_handler("connection_failed", self._on_connection_failed)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("disconnected", self._on_disconnected)

    def _fail_start(self, why):
        if not self.started.done():
            self.started.set_exception(Failure("%s: %s" % (self.name, why)))

    def _on_session_start(self, _event):
        if not self.started.done():
            self.started.set_result(True)

    def _on_failed_auth(self, _event):
        self._fail_start("authentication failed with every mechanism tried")

    def _on_connection_failed(self, err):
        self._fail_start("connection failed: %s" % err)

    def _on_stream_error(self, err):
        self._fail_start("stream error %s" % err["condition"])

    def _on_disconnected(self, reason):
        self._fail_start("disconnected before the session started (%s)" % reason)

    async def wait_started(self):
        """Wait until the session started; a failed login fails the check."""
        await expect(self.started, "%s to log in" % self.name, 30)

    async def stop(self):
        self.del_event_handler("disconnected", self._on_disconnected)
        await asyncio.wait_for(self.disconnect(wait=5), 10)

    async def iq(self, what, coro):
        """Await an iq; an error or no answer fails the check."""
        try:
            return await coro
        except IqError as e:
            raise Failure("%s: %s: answered with error %s (%s)" % (
                self.name, what, e.iq["error"]["condition"], e.iq["error"]["text"])) from None
        except IqTimeout:
            raise Failure("%s: %s: no answer" % (self.name, what)) from None


def run_scenarios(scenarios, limit, before=None):
    """Run scenarios, a list of (name, make) where make() returns the
    scenario's coroutine, one after the other on a new event loop, each
    within limit seconds. Each ends with a line "PASS <name>" or
    "FAIL <name>: <what went wrong>"; before(name), if given, runs first.
    Returns the names of the scenarios that failed."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    failed = []
    try:
        for name, make in scenarios:
            if before:
                before(name)
            why = None
            try:
                loop.run_until_complete(asyncio.wait_for(make(), limit))
            except Failure as e:
                why = str(e)
            except asyncio.TimeoutError:
                why = "did not finish within %ds" % limit
            except Exception as e:  # noqa: BLE001 - report, do not stop the others
                why = "%s: %s" % (type(e).__name__, e)
            if why is None:
                print("PASS %s" % name, flush=True)
            else:
                print("FAIL %s: %s" % (name, why), flush=True)
                failed.append(name)
    finally:
        # Let slixmpp's background tasks end quietly.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
    return failed


def command_line(doc, scenarios, add_arguments=None):
    """Return the argument parser every script shares: the server's
    address and domain, the accounts, --debug, then the script's own
    arguments (add_arguments(parser)) and the scenario name."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="server address (default %(default)s)")
    p.add_argument("--port", type=int, default=5222, help="client STARTTLS port (default %(default)s)")
    p.add_argument("--domain", default="localhost", help="XMPP domain (default %(default)s)")
    p.add_argument("--user", default="alice", help="first account's localpart")
    p.add_argument("--password", default="alice-pw", help="first account's password")
    p.add_argument("--peer", default="bob", help="second account's localpart")
    p.add_argument("--peer-password", default="bob-pw", help="second account's password")
    p.add_argument("--debug", action="store_true", help="log the XML exchanged")
    if add_arguments:
        add_arguments(p)
    p.add_argument("scenario", choices=sorted(scenarios), help="what to run")
    return p


def main(doc, scenarios, argv, add_arguments=None, limit=50):
    """Parse argv, run the chosen scenario of scenarios (name -> async
    function of the parsed arguments) and return the exit status."""
    args = command_line(doc, scenarios, add_arguments).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    failed = run_scenarios([(args.scenario, lambda: scenarios[args.scenario](args))], limit)
    return 1 if failed else 0
