#!/usr/bin/python3
"""End-to-end scenarios that drive a parley server with slixmpp.

Each scenario connects one or more slixmpp clients to the server given on
the command line, checks what an ordinary XMPP client relies on, prints one
"ok: ..." line per check and "PASS <scenario>", and exits 0. On the first
failed check it prints "FAIL <scenario>: <what went wrong>" and exits 1.

The server's certificate is self-signed, so certificate verification is
turned off: these scenarios test the protocol, not the PKI.

Usage:
    scenarios.py --addr 127.0.0.1:5222 --domain localhost SCENARIO [options]

Run with --help to list the scenarios and their options.
"""

import asyncio
import sys

import checks
from checks import STEP_TIMEOUT, Failure, expect, info, ok, with_clients
from slixmpp.exceptions import IqError

NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_VERSION = "jabber:iq:version"

class Client(checks.Client):
    """A slixmpp client that records what the checks need."""

    def __init__(self, args, jid, password, mech=None, direct_tls=False):
        super().__init__(jid, password, ("xep_0030", "xep_0092", "xep_0199", "xep_0203"), sasl_mech=mech)
        self.args = args
        self.direct_tls = direct_tls
        if args.no_channel_binding:
            self._hide_channel_binding()
        # Answer presence subscription requests like a typical client.
        self.roster.auto_authorize = True
        self.roster.auto_subscribe = False

        self.messages = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.subscribed = asyncio.Queue()
        self.mech_used = None

        self.add_event_handler("message", self._on_message)
        self.add_event_handler("presence_available", self._on_presence)
        self.add_event_handler("presence_subscribed", self._on_subscribed)
        self.add_event_handler("auth_success", self._on_auth_success)

    def _hide_channel_binding(self):
        """Act like a client without channel binding support.

        slixmpp only knows the tls-unique channel binding. When it has one
        it always claims channel binding support ("y" flag) even with a
        mechanism without -PLUS, which a server offering -PLUS must refuse
        (RFC 5802 section 6): hiding it lets plain SCRAM be tested.
        """
        mechs = self["feature_mechanisms"]
        default = mechs.sasl_callback

        def credentials(required, optional):
            creds = default(required, optional)
            creds.pop("channel_binding", None)
            return creds
        mechs.sasl_callback = credentials

    def _on_auth_success(self, _event):
        mech = self["feature_mechanisms"].mech
        self.mech_used = mech.name if mech is not None else None

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal", "error"):
            self.messages.put_nowait(msg)

    def _on_presence(self, pres):
        self.presences.put_nowait(pres)

    def _on_subscribed(self, pres):
        self.subscribed.put_nowait(pres)

    async def start(self):
        host, port = self.args.host, self.args.direct_port if self.direct_tls else self.args.port
        self.connect((host, port), use_ssl=self.direct_tls, force_starttls=not self.direct_tls)
        await self.wait_started()
        ok("%s logged in as %s (%s, SASL %s)" % (
            self.name, self.boundjid.full,
            "direct TLS" if self.direct_tls else "STARTTLS", self.mech_used))

    async def next_message(self, what, want_from=None):
        while True:
            msg = await expect(self.messages.get(), what)
            if msg["type"] == "error":
                raise Failure("%s got an error message instead of %s: %s" % (
                    self.name, what, msg["error"]["condition"]))
            if want_from is None or msg["from"].bare == want_from:
                return msg

def jid(args, local):
    return "%s@%s" % (local, args.domain)


# --- scenarios -------------------------------------------------------------

async def scenario_login(args):
    """Log in (STARTTLS or direct TLS, any or a given SASL mechanism) and out."""
    c = Client(args, jid(args, args.user), args.password, mech=args.mech, direct_tls=args.direct_tls)

    async def body():
        if args.mech and c.mech_used != args.mech:
            raise Failure("asked for SASL %s but %s was used" % (args.mech, c.mech_used))
    await with_clients([c], body)
    ok("logged out")


async def scenario_bad_password(args):
    """A wrong password must be refused."""
    c = Client(args, jid(args, args.user), args.password + "-wrong", mech=args.mech)
    try:
        await c.start()
    except Failure as e:
        ok("wrong password refused (%s)" % e)
        c.disconnect(wait=0)
        return
    await c.stop()
    raise Failure("logged in with a wrong password")


async def scenario_roster(args):
    """Get the roster, add a contact, subscribe; the contact approves."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    a = Client(args, alice, args.password)
    b = Client(args, bob, args.peer_password)

    async def body():
        for c in (a, b):
            await c.iq("roster get", c.get_roster(timeout=STEP_TIMEOUT))
            ok("%s got its roster (%d items)" % (c.name, len(c.client_roster)))
            c.send_presence()
        await a.iq("roster set", a.update_roster(bob, name="Bob", groups=["Colleagues"], timeout=STEP_TIMEOUT))
        item = a.client_roster[bob]
        if item["name"] != "Bob" or "Colleagues" not in item["groups"]:
            raise Failure("roster item after the set: name=%r groups=%r" % (item["name"], item["groups"]))
        ok("added %s to the roster" % bob)
        a.send_presence_subscription(pto=bob, ptype="subscribe")
        pres = await expect(a.subscribed.get(), "%s to approve the subscription" % bob)
        ok("subscription approved by %s" % pres["from"])

        async def has_sub(c, contact, want):
            while c.client_roster[contact]["subscription"] not in want:
                await asyncio.sleep(0.1)
        await expect(has_sub(a, bob, ("to", "both")), "a roster push to alice with subscription 'to'")
        ok("alice's roster shows subscription %r to %s" % (a.client_roster[bob]["subscription"], bob))
        await expect(has_sub(b, alice, ("from", "both")), "a roster push to bob with subscription 'from'")
        ok("bob's roster shows subscription %r from %s" % (b.client_roster[alice]["subscription"], alice))
        # The contact is online: the server sends its presence after approval.
        while True:
            p = await expect(a.presences.get(), "available presence from %s" % bob)
            if p["from"].bare == bob:
                ok("got available presence from %s" % p["from"])
                break
        # The item is stored: another session of the same account, with no
        # roster version cached, gets it in the full roster.
        a2 = Client(args, alice, args.password)

        async def again():
            await a2.iq("roster get", a2.get_roster(timeout=STEP_TIMEOUT))
            if bob not in a2.client_roster:
                raise Failure("a second session's roster does not list %s: %s" % (bob, list(a2.client_roster)))
            sub = a2.client_roster[bob]["subscription"]
            if sub not in ("to", "both"):
                raise Failure("a second session's roster lists %s with subscription %r" % (bob, sub))
            ok("a second session's roster lists %s with subscription %r" % (bob, sub))
        await with_clients([a2], again)
    await with_clients([a, b], body)


async def scenario_chat(args):
    """Two clients send presence and exchange chat messages."""
    a = Client(args, jid(args, args.user), args.password)
    b = Client(args, jid(args, args.peer), args.peer_password)
    alice, bob = jid(args, args.user), jid(args, args.peer)

    async def body():
        for c in (a, b):
            c.send_presence(pstatus="ready")
        ok("both sent presence")
        a.send_message(mto=bob, mbody="hello bob", mtype="chat")
        msg = await b.next_message("the message from %s" % alice, alice)
        if msg["body"] != "hello bob":
            raise Failure("bob got body %r" % msg["body"])
        ok("bob got %r from %s" % (msg["body"], msg["from"]))
        b.send_message(mto=msg["from"], mbody="hello alice", mtype="chat")
        msg = await a.next_message("the reply from %s" % bob, bob)
        if msg["body"] != "hello alice":
            raise Failure("alice got body %r" % msg["body"])
        ok("alice got %r from %s" % (msg["body"], msg["from"]))
    await with_clients([a, b], body)


async def scenario_ping(args):
    """XEP-0199: the server answers a ping with a result."""
    c = Client(args, jid(args, args.user), args.password)

    async def body():
        # Not xep_0199.ping(): it counts an error from the own server as
        # success. A ping must get a result.
        await c.iq("ping", c["xep_0199"].send_ping(args.domain, timeout=STEP_TIMEOUT))
        ok("the server answered the ping")
    await with_clients([c], body)


async def scenario_disco(args):
    """XEP-0030: the server's disco#info names it and lists its features."""
    c = Client(args, jid(args, args.user), args.password)

    async def body():
        iq = await c.iq("disco#info", c["xep_0030"].get_info(
            jid=args.domain, local=False, cached=False, timeout=STEP_TIMEOUT))
        info = iq["disco_info"]
        identities = info["identities"]
        features = set(info["features"])
        if not any(i[0] == "server" and i[1] == "im" for i in identities):
            raise Failure("no server/im identity in %r" % (identities,))
        ok("identities: %r" % (sorted(identities),))
        for f in (NS_DISCO_INFO, NS_PING, NS_VERSION):
            if f not in features:
                raise Failure("feature %s not advertised; features: %s" % (f, sorted(features)))
        ok("features: %s" % ", ".join(sorted(features)))
    await with_clients([c], body)


async def scenario_version(args):
    """XEP-0092: the server tells its name and version."""
    c = Client(args, jid(args, args.user), args.password)

    async def body():
        iq = await c.iq("software version", c["xep_0092"].get_version(args.domain, timeout=STEP_TIMEOUT))
        v = iq["software_version"]
        if not v["name"] or not v["version"]:
            raise Failure("empty software version: name=%r version=%r" % (v["name"], v["version"]))
        ok("server software: %s %s (%s)" % (v["name"], v["version"], v["os"]))
    await with_clients([c], body)


async def scenario_offline(args):
    """Alice writes to offline bob; bob logs in later and gets it, delayed."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    a = Client(args, alice, args.password)
    body_text = "while you were away"

    async def send():
        a.send_presence()
        a.send_message(mto=bob, mbody=body_text, mtype="chat")
        # Stanzas are handled in order: once the server answers this, the
        # message has been dealt with (stored, or bounced).
        try:
            await a["xep_0199"].send_ping(args.domain, timeout=STEP_TIMEOUT)
        except IqError:
            pass
        try:
            msg = a.messages.get_nowait()
        except asyncio.QueueEmpty:
            msg = None
        if msg is not None and msg["type"] == "error":
            raise Failure("the message to offline %s bounced: %s" % (bob, msg["error"]["condition"]))
        ok("alice sent a message to offline %s" % bob)
    await with_clients([a], send)

    b = Client(args, bob, args.peer_password)

    async def receive():
        b.send_presence()
        msg = await b.next_message("the offline message from %s" % alice, alice)
        if msg["body"] != body_text:
            raise Failure("bob got body %r" % msg["body"])
        delay = msg["delay"]
        if not msg.get_plugin("delay", check=True) or delay["stamp"] is None:
            raise Failure("the offline message has no XEP-0203 delay stamp: %s" % msg)
        ok("bob got %r stamped %s by %s" % (msg["body"], delay["stamp"].isoformat(), delay["from"]))
        if delay["from"] and delay["from"].full != args.domain:
            raise Failure("delay from %r, want the server %r" % (str(delay["from"]), args.domain))
    await with_clients([b], receive)


SCENARIOS = {
    "login": scenario_login,
    "bad-password": scenario_bad_password,
    "roster": scenario_roster,
    "chat": scenario_chat,
    "ping": scenario_ping,
    "disco": scenario_disco,
    "version": scenario_version,
    "offline": scenario_offline,
}


def add_arguments(p):
    p.add_argument("--direct-port", type=int, default=5223, help="direct TLS port (default %(default)s)")
    p.add_argument("--mech", help="SASL mechanism to use (default: the strongest offered)")
    p.add_argument("--no-channel-binding", action="store_true",
                   help="behave like a client without SCRAM channel binding support")
    p.add_argument("--direct-tls", action="store_true", help="connect with direct TLS (XEP-0368)")


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:], add_arguments))
