#!/usr/bin/python3
"""An external component (XEP-0114) written with slixmpp's ComponentXMPP.

The component connects to parley's component listener and authenticates
with its secret; a slixmpp client user then talks to it the way users talk
to gateways and bots. The scenarios print one "ok: ..." line per check and
"PASS <scenario>", or "FAIL <scenario>: <what went wrong>" on the first
failed check; the script exits 1 if a scenario failed.

Scenarios:
    echo        the component answers a user's message with an echo and
                the user's disco#info with its identity and features; it
                asks the server for its disco#info; once it has gone,
                the user's requests to it bounce with service-unavailable
    bad-secret  a component with a wrong secret is refused with a
                not-authorized stream error

The server's certificate is self-signed, so the client does not verify
it: this tests the protocol, not the PKI.

Usage:
    component.py --host 127.0.0.1 --port 5222 --component-port 5347 \\
        --domain localhost --component echo.localhost --secret SECRET SCENARIO
"""

import asyncio
import sys

import checks
from checks import Failure, expect, ok
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
# A feature only this component has, so the answer is surely its own.
NS_ECHO = "urn:example:parley:echo"


class Echo(ComponentXMPP):
    """A component that echoes every chat or normal message it gets."""

    def __init__(self, args, secret):
        super().__init__(args.component, secret, args.host, args.component_port)
        self.name = "component %s" % args.component
        self.register_plugin("xep_0030")
        self.started = self.loop.create_future()
        self.refused = self.loop.create_future()
        self.received = asyncio.Queue()
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("connection_failed", self._on_connection_failed)
        self.add_event_handler("message", self._on_message)

    def _on_session_start(self, _event):
        if not self.started.done():
            self.started.set_result(True)

    def _on_stream_error(self, err):
        cond = err["condition"]
        if not self.refused.done():
            self.refused.set_result(cond)
        if not self.started.done():
            self.started.set_exception(Failure("%s: stream error %s (%s)" % (self.name, cond, err["text"])))

    def _on_connection_failed(self, err):
        if not self.started.done():
            self.started.set_exception(Failure("%s: connection failed: %s" % (self.name, err)))

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            self.received.put_nowait(msg)
            msg.reply("echo: %s" % msg["body"]).send()

    async def start(self):
        await self["xep_0030"].add_identity(category="component", itype="generic",
                                            name="parley interop echo", jid=self.boundjid)
        await self["xep_0030"].add_feature(NS_ECHO, jid=self.boundjid)
        self.connect()
        await expect(self.started, "%s to be accepted" % self.name)
        ok("%s connected and authenticated" % self.name)

    async def stop(self):
        await asyncio.wait_for(self.disconnect(wait=5), 10)

    async def iq(self, what, coro):
        """Await an iq; an error or no answer fails the check."""
        return await checks.Client.iq(self, what, coro)


class User(checks.Client):
    """A client user that queues the messages it gets."""

    def __init__(self, args):
        super().__init__("%s@%s" % (args.user, args.domain), args.password, ("xep_0030",))
        self.args = args
        self.messages = asyncio.Queue()
        self.add_event_handler("message", self.messages.put_nowait)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))


async def scenario_echo(args):
    comp = Echo(args, args.secret)
    user = User(args)
    bot = "bot@%s" % args.component

    async def body():
        # A message to a JID at the component, and its echo.
        user.send_message(mto=bot, mbody="hello component", mtype="chat")
        got = await expect(comp.received.get(), "the user's message at the component")
        if got["from"] != user.boundjid or got["body"] != "hello component":
            raise Failure("the component got %r from %s" % (got["body"], got["from"]))
        ok("the component got %r from %s" % (got["body"], got["from"]))
        while True:
            echo = await expect(user.messages.get(), "the echo from %s" % bot)
            if echo["type"] == "error":
                raise Failure("the message to %s bounced: %s" % (bot, echo["error"]["condition"]))
            if echo["from"].bare == bot:
                break
        if echo["body"] != "echo: hello component":
            raise Failure("the echo reads %r" % echo["body"])
        ok("the user got %r from %s" % (echo["body"], echo["from"]))

        # The user's disco#info of the component's domain.
        iq = await user.iq("disco#info of the component", user["xep_0030"].get_info(
            jid=args.component, local=False, cached=False, timeout=checks.STEP_TIMEOUT))
        info = iq["disco_info"]
        if ("component", "generic", None, "parley interop echo") not in info["identities"]:
            raise Failure("the component's identities: %r" % (info["identities"],))
        if NS_ECHO not in info["features"]:
            raise Failure("the component's features lack %s: %s" % (NS_ECHO, info["features"]))
        ok("disco#info of %s: identities %r, features %s" % (
            args.component, sorted(info["identities"]), ", ".join(sorted(info["features"]))))

        # The component's disco#info of the server.
        iq = await comp.iq("disco#info of the server", comp["xep_0030"].get_info(
            jid=args.domain, local=False, cached=False, timeout=checks.STEP_TIMEOUT))
        identities = iq["disco_info"]["identities"]
        if not any(i[0] == "server" and i[1] == "im" for i in identities):
            raise Failure("the server told the component identities %r" % (identities,))
        ok("the server answered the component's disco#info: %r" % (sorted(identities),))

        # Once the component has gone, requests to it bounce.
        await comp.stop()
        ok("the component disconnected")
        try:
            await user["xep_0030"].get_info(jid=args.component, local=False, cached=False,
                                            timeout=checks.STEP_TIMEOUT)
        except IqError as e:
            cond = e.iq["error"]["condition"]
            if cond != "service-unavailable":
                raise Failure("disco#info of the gone component: error %s, want service-unavailable" % cond)
            ok("disco#info of the gone component: %s" % cond)
        except IqTimeout:
            raise Failure("disco#info of the gone component: no answer") from None
        else:
            raise Failure("disco#info of the gone component was answered")

    async def stop_component_too():
        try:
            await body()
        finally:
            if comp.is_connected():
                await comp.stop()

    await comp.start()
    await checks.with_clients([user], stop_component_too)


async def scenario_bad_secret(args):
    comp = Echo(args, args.secret + "-wrong")
    comp.connect()
    cond = await expect(comp.refused, "a stream error for the wrong secret")
    if comp.started.done() and not comp.started.exception():
        raise Failure("the component was accepted with a wrong secret")
    if cond != "not-authorized":
        raise Failure("stream error %s, want not-authorized" % cond)
    ok("the wrong secret was refused with %s" % cond)
    comp.disconnect(wait=0)


SCENARIOS = {
    "echo": scenario_echo,
    "bad-secret": scenario_bad_secret,
}


def add_arguments(p):
    p.add_argument("--component-port", type=int, default=5347, help="component port (default %(default)s)")
    p.add_argument("--component", default="echo.localhost", help="the component's domain (default %(default)s)")
    p.add_argument("--secret", required=True, help="the component's secret")


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:], add_arguments))
