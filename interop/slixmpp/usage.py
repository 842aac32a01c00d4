#!/usr/bin/python3
"""What usage accounting sees of a slixmpp conversation.

Two resources of one account and a contact log in with slixmpp and chat
the way IM clients do: messages with bodies, typing notifications
(XEP-0085) and delivery receipts (XEP-0184) that slixmpp's plugins send
on their own. The script prints one "ok: ..." line per check and
"PASS <scenario>" and exits 0; on a failed check it prints "FAIL
<scenario>: <what went wrong>" and exits 1. The test that runs it then
reads the counts with `parley usage`.

Usage:
    usage.py --host 127.0.0.1 --port 5222 --domain localhost chat
"""

import asyncio
import sys

import checks
from checks import STEP_TIMEOUT, Failure, expect, ok, with_clients


class Client(checks.Client):
    """A slixmpp client that sends chat states and asks for receipts."""

    def __init__(self, args, jid, password, name):
        super().__init__(jid, password, ("xep_0030", "xep_0085", "xep_0184", "xep_0199"), name=name)
        self.args = args
        self["xep_0184"].auto_request = True  # every message with a body asks for a receipt
        self.bodies = asyncio.Queue()
        self.receipts = asyncio.Queue()
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("receipt_received", lambda m: self.receipts.put_nowait(m["receipt"]))

    def _on_message(self, msg):
        if msg["type"] == "error":
            self.bodies.put_nowait(msg)
        elif msg["body"]:
            self.bodies.put_nowait(msg)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def body(self, what):
        msg = await expect(self.bodies.get(), what)
        if msg["type"] == "error":
            raise Failure("%s got an error instead of %s: %s" % (self.name, what, msg["error"]["condition"]))
        return msg

    async def sync(self):
        """Wait until the server handled everything sent so far."""
        await self.iq("ping", self["xep_0199"].send_ping(self.args.domain, timeout=STEP_TIMEOUT))


async def scenario_chat(args):
    """alice (desk and phone) and bob: 3 messages one way, 2 the other,
    with typing notifications and receipts around them."""
    alice, bob = "%s@%s" % (args.user, args.domain), "%s@%s" % (args.peer, args.domain)
    desk = Client(args, alice + "/desk", args.password, name="alice/desk")
    phone = Client(args, alice + "/phone", args.password, name="alice/phone")
    b = Client(args, bob + "/pc", args.peer_password, name="bob")

    async def body():
        for c in (desk, phone, b):
            c.send_presence()
            await c.sync()
        for i in range(3):
            m = desk.make_message(mto=bob, mtype="chat")
            m["chat_state"] = "composing"
            m.send()
            text = "message %d from alice %s" % (i, checks.token())
            desk.send_message(mto=bob, mbody=text, mtype="chat")
            got = await b.body("alice's message %d" % i)
            if got["body"] != text:
                raise Failure("bob got %r, not %r" % (got["body"], text))
            await expect(desk.receipts.get(), "bob's receipt for message %d" % i)
        ok("bob got alice's 3 messages, and alice his receipts")
        for i in range(2):
            text = "reply %d from bob %s" % (i, checks.token())
            b.send_message(mto=alice, mbody=text, mtype="chat")
            for c in (desk, phone):
                got = await c.body("bob's reply %d at %s" % (i, c.name))
                if got["body"] != text:
                    raise Failure("%s got %r, not %r" % (c.name, got["body"], text))
            await expect(b.receipts.get(), "a receipt for bob's reply %d" % i)
        ok("both of alice's resources got bob's 2 replies")
        m = b.make_message(mto=alice, mtype="chat")
        m["chat_state"] = "paused"
        m.send()
        for c in (desk, phone, b):
            await c.sync()
        ok("the server handled every stanza")
    await with_clients([desk, phone, b], body)


SCENARIOS = {"chat": scenario_chat}


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:]))
