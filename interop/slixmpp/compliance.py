#!/usr/bin/python3
"""A conversation for the compliance archive: slixmpp clients on parley
and on a federated server.

alice and bob log in to server A (parley, with its group chat service),
carol to server B (a federated server). They talk the way people do, and
each message is checked to have reached whom it was for:

  - alice and bob chat one to one (one message each way);
  - alice and carol chat across the federation (one message each way);
  - alice opens a room on A's group chat service, bob and carol (over
    the federation) join it, and each sends a groupchat message, which
    every occupant gets;
  - carol writes to alice privately through the room.

Every message sent is printed as a line "sent: {json}" with its label,
from, to, type, id and body, for the test that then reads the archive
with `parley archive export`. The script prints "ok: ..." lines for its
checks and "PASS conversation", or "FAIL conversation: <what went
wrong>" and exits 1.

Usage:
    compliance.py --a-host 127.0.0.1 --a-port 5222 --a-domain a.test \\
        --muc conference.a.test --b-host 127.0.0.42 --b-domain b.test \\
        --token T conversation
"""

import argparse
import asyncio
import json
import logging
import sys

import checks
from checks import Failure, ok, with_clients

# Generous: the first stanza to a domain waits for the s2s link.
STEP_TIMEOUT = 20


async def expect(fut, what):
    return await checks.expect(fut, what, STEP_TIMEOUT)


class Inbox:
    """Received messages; take() waits for the first that matches,
    leaving the others for later checks."""

    def __init__(self):
        self.items = []
        self.changed = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self.changed.set()

    async def _take(self, match):
        while True:
            for i, item in enumerate(self.items):
                if match(item):
                    return self.items.pop(i)
            self.changed.clear()
            await self.changed.wait()

    async def take(self, match, what):
        return await expect(self._take(match), what)


class Client(checks.Client):
    """A slixmpp client with the MUC plugin that keeps what it receives."""

    def __init__(self, host, port, jid, password, nick):
        super().__init__(jid + "/archive-" + checks.token()[:6], password,
                         ("xep_0030", "xep_0045", "xep_0199"), name=jid)
        self.host, self.port, self.nick = host, port, nick
        self.inbox = Inbox()
        # slixmpp's "message" event is for every message with a body,
        # groupchat ones included; errors without one come only as
        # "message_error".
        self.add_event_handler("message", self.inbox.put)
        self.add_event_handler("message_error", self._on_message_error)

    def _on_message_error(self, msg):
        if not msg["body"]:
            self.inbox.put(msg)

    async def start(self):
        self.connect((self.host, self.port), use_ssl=False, force_starttls=True)
        await self.wait_started()
        self.send_presence()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def got(self, sender, body, mtype, what):
        """Wait for a message of type mtype from sender (a full JID) with
        body; an error message from the same bare JID fails the check."""
        def match(m):
            if m["type"] == "error" and m["from"].bare == sender.split("/")[0]:
                raise Failure("%s got an error instead of %s: %s" % (self.name, what, m["error"]["condition"]))
            return m["type"] == mtype and m["from"].full == sender and m["body"] == body
        return await self.inbox.take(match, "%s to get %s" % (self.name, what))

    async def sync(self, domain):
        """Wait until the server handled everything sent so far."""
        await self.iq("ping %s" % domain, self["xep_0199"].send_ping(domain, timeout=STEP_TIMEOUT))


def send(client, label, to, body, mtype):
    """Send a message and print what was sent."""
    m = client.make_message(mto=to, mbody=body, mtype=mtype)
    m.send()
    print("sent: " + json.dumps({"label": label, "from": client.boundjid.full, "to": to,
                                 "type": mtype, "id": m["id"], "body": body}), flush=True)


async def scenario_conversation(args):
    tok = args.token
    alice = Client(args.a_host, args.a_port, "alice@" + args.a_domain, "alice-pw", "Alice")
    bob = Client(args.a_host, args.a_port, "bob@" + args.a_domain, "bob-pw", "Bob")
    carol = Client(args.b_host, args.b_port, "carol@" + args.b_domain, "carol-pw", "Carol")
    room = "standup-%s@%s" % (tok, args.muc)

    async def body():
        # One to one on parley.
        text = "lunch at noon, bob? %s" % tok
        send(alice, "alice-bob", bob.boundjid.bare, text, "chat")
        await bob.got(alice.boundjid.full, text, "chat", "alice's chat message")
        text = "noon works, alice %s" % tok
        send(bob, "bob-alice", alice.boundjid.full, text, "chat")
        await alice.got(bob.boundjid.full, text, "chat", "bob's reply")
        ok("alice and bob chatted one to one")

        # Across the federation, both ways.
        text = "hello carol, the contract is signed %s" % tok
        send(alice, "alice-carol", carol.boundjid.full, text, "chat")
        await carol.got(alice.boundjid.full, text, "chat", "alice's message across the federation")
        text = "great news, alice %s" % tok
        send(carol, "carol-alice", alice.boundjid.full, text, "chat")
        await alice.got(carol.boundjid.full, text, "chat", "carol's reply across the federation")
        ok("alice and carol chatted across the federation")

        # A room on parley's service with a federated occupant.
        occupants = (alice, bob, carol)
        for c in occupants:
            try:
                await c["xep_0045"].join_muc_wait(room, c.nick, maxstanzas=0, timeout=STEP_TIMEOUT)
            except asyncio.TimeoutError:
                raise Failure("%s could not join %s as %s" % (c.name, room, c.nick)) from None
            ok("%s joined %s as %s" % (c.name, room, c.nick))
        for c, text in ((alice, "good morning team %s" % tok),
                        (bob, "morning! the build is green %s" % tok),
                        (carol, "hello from the partner side %s" % tok)):
            send(c, "room-" + c.nick.lower(), room, text, "groupchat")
            for r in occupants:
                await r.got(room + "/" + c.nick, text, "groupchat", "%s's groupchat message" % c.nick)
            ok("every occupant got %s's groupchat message" % c.nick)

        # A private message through the room, from the federated occupant.
        text = "psst alice, a word in private %s" % tok
        send(carol, "room-pm-carol-alice", room + "/Alice", text, "chat")
        await alice.got(room + "/Carol", text, "chat", "carol's private message through the room")
        ok("alice got carol's private message from %s/Carol" % room)

        for c in occupants:
            c["xep_0045"].leave_muc(room, c.nick)
        for c, domain in ((alice, args.a_domain), (bob, args.a_domain), (carol, args.b_domain)):
            await c.sync(domain)
        ok("the servers handled every stanza")

    await with_clients([alice, bob, carol], body)


SCENARIOS = {"conversation": scenario_conversation}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a-host", required=True, help="parley's client address")
    p.add_argument("--a-port", type=int, default=5222, help="parley's STARTTLS port")
    p.add_argument("--a-domain", required=True, help="parley's domain (accounts alice and bob)")
    p.add_argument("--muc", required=True, help="parley's group chat service")
    p.add_argument("--b-host", required=True, help="the federated server's client address")
    p.add_argument("--b-port", type=int, default=5222, help="its STARTTLS port")
    p.add_argument("--b-domain", required=True, help="its domain (account carol)")
    p.add_argument("--token", default=checks.token(), help="makes the room and the texts unique")
    p.add_argument("--debug", action="store_true", help="log the XML exchanged")
    p.add_argument("scenario", choices=sorted(SCENARIOS), help="what to run")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    failed = checks.run_scenarios([(args.scenario, lambda: SCENARIOS[args.scenario](args))], 120)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
