#!/usr/bin/python3
"""Group chat flows (XEP-0045) driven by slixmpp's xep_0045 plugin.

Two slixmpp clients use a parley group-chat service the way a desktop
client does. Scenarios, named on the command line ("muc" if none is):

  muc          the first creates a room and configures it through the
               room configuration form, the second joins, they exchange
               groupchat messages, the first changes the subject, the
               second sends a private message through the room and leaves
  self-ping    MUC self-ping (XEP-0410): the service answers a ping to
               one's own occupant JID without asking the client, passes
               pings to others on, and answers not-acceptable once the
               client has left
  occupant-id  occupant IDs (XEP-0421) through slixmpp's xep_0421 plugin:
               on presence, messages and history, the same across a
               nickname change and a rejoin, different between users

For each scenario the script prints one "ok: ..." line per check and
"PASS <scenario>" at the end, or "FAIL <scenario>: <what went wrong>" on
the first failed check, and exits 1 if any failed.

The server's certificate is self-signed, so certificate verification is
turned off: this tests the protocol, not the PKI.

Usage:
    muc.py --host 127.0.0.1 --port 5222 --domain localhost \\
        --muc-domain conference.localhost [options]
"""

import argparse
import asyncio
import logging
import sys

import checks
from checks import STEP_TIMEOUT, Failure, expect, ok, with_clients
from slixmpp.exceptions import IqError, IqTimeout, PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_SID = "urn:xmpp:sid:0"
NS_SELF_PING = "http://jabber.org/protocol/muc#self-ping-optimization"
NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"

class Client(checks.Client):
    """A slixmpp client with the MUC plugin that queues what it receives."""

    def __init__(self, args, jid, password, room):
        super().__init__(jid, password, ("xep_0030", "xep_0045", "xep_0199", "xep_0203", "xep_0421"))
        self.args = args
        self.room = room
        # Who sent this client pings (xep_0199 answers them).
        self.pinged_by = []
        self.register_handler(Callback("Count pings", StanzaPath("iq@type=get/ping"),
                                       lambda iq: self.pinged_by.append(iq["from"].full)))

        self.groupchat = asyncio.Queue()
        self.subjects = asyncio.Queue()
        self.private = asyncio.Queue()
        self.online = asyncio.Queue()
        self.offline = asyncio.Queue()

        self.add_event_handler("groupchat_message", self.groupchat.put_nowait)
        self.add_event_handler("groupchat_subject", self.subjects.put_nowait)
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("muc::%s::got_online" % room, self.online.put_nowait)
        self.add_event_handler("muc::%s::got_offline" % room, self.offline.put_nowait)

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal", "error") and msg["from"].bare == self.room:
            self.private.put_nowait(msg)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        self.send_presence()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def join(self, nick):
        try:
            return await self["xep_0045"].join_muc_wait(self.room, nick, maxstanzas=10, timeout=STEP_TIMEOUT)
        except PresenceError as e:
            raise Failure("%s: joining %s as %s: %s" % (
                self.name, self.room, nick, e.presence["error"]["condition"])) from None
        except asyncio.TimeoutError:
            raise Failure("%s: joining %s as %s: no self-presence and subject within %ds" % (
                self.name, self.room, nick, STEP_TIMEOUT)) from None

    async def next(self, queue, what, match=lambda _: True):
        while True:
            item = await expect(queue.get(), "%s to get %s" % (self.name, what))
            if match(item):
                return item

    async def create(self, nick):
        """Create the room and accept its default configuration."""
        pres, _, _, _ = await self.join(nick)
        if 201 not in pres["muc"]["status_codes"]:
            raise Failure("%s: %s existed already" % (self.name, self.room))
        form = await self.iq("get the room configuration", self["xep_0045"].get_room_config(self.room, timeout=STEP_TIMEOUT))
        await self.iq("submit the room configuration", self["xep_0045"].set_room_config(self.room, form, timeout=STEP_TIMEOUT))
        return pres

    async def ping_error(self, jid):
        """Ping jid; return the error condition, "" for a result."""
        try:
            await self["xep_0199"].send_ping(jid, timeout=STEP_TIMEOUT)
        except IqError as e:
            return e.iq["error"]["condition"]
        except IqTimeout:
            raise Failure("%s: no answer to a ping to %s" % (self.name, jid)) from None
        return ""

    async def disco_features(self, jid):
        info = await self.iq("disco#info of %s" % jid, self["xep_0030"].get_info(
            jid=jid, local=False, timeout=STEP_TIMEOUT))
        return set(info["disco_info"]["features"])


def occupant_id(stanza, what):
    """The occupant ID of a stanza; none fails the check."""
    oid = stanza["occupant-id"]["id"]
    if not oid:
        raise Failure("%s has no occupant ID: %s" % (what, stanza))
    return oid


async def scenario_muc(args):
    room = "%s@%s" % (args.room, args.muc_domain)
    alice_jid = "%s@%s" % (args.user, args.domain)
    bob_jid = "%s@%s" % (args.peer, args.domain)
    a = Client(args, alice_jid, args.password, room)
    b = Client(args, bob_jid, args.peer_password, room)

    async def body():
        # Alice creates the room; it is locked until she configures it.
        pres, subject, occupants, _ = await a.join("Alice")
        codes = pres["muc"]["status_codes"]
        if 201 not in codes or 110 not in codes:
            raise Failure("the creator's self-presence has status codes %s, want 110 and 201" % sorted(codes))
        if pres["muc"]["affiliation"] != "owner" or pres["muc"]["role"] != "moderator":
            raise Failure("the creator is %s/%s, want owner/moderator" % (pres["muc"]["affiliation"], pres["muc"]["role"]))
        ok("alice created %s (status %s) as %s" % (room, sorted(codes), pres["muc"]["affiliation"]))
        form = await a.iq("get the room configuration", a["xep_0045"].get_room_config(room, timeout=STEP_TIMEOUT))
        fields = form.get_fields()
        for var in ("muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_whois"):
            if var not in fields:
                raise Failure("the configuration form lacks %s: %s" % (var, sorted(fields)))
        form.set_values({"muc#roomconfig_roomname": "Interop room"})
        await a.iq("submit the room configuration", a["xep_0045"].set_room_config(room, form, timeout=STEP_TIMEOUT))
        ok("alice configured the room through its %d-field form" % len(fields))

        # Bob joins and sees Alice; Alice sees Bob.
        pres, subject, occupants, _ = await b.join("Bob")
        if 110 not in pres["muc"]["status_codes"] or 201 in pres["muc"]["status_codes"]:
            raise Failure("bob's self-presence has status codes %s" % sorted(pres["muc"]["status_codes"]))
        nicks = sorted(p["from"].resource for p in occupants)
        if "Alice" not in nicks:
            raise Failure("bob's join listed occupants %s, without Alice" % nicks)
        ok("bob joined and saw occupants %s" % nicks)
        p = await a.next(a.online, "bob's presence", lambda p: p["from"].resource == "Bob")
        ok("alice saw %s join as %s" % (p["from"], p["muc"]["role"]))

        # Groupchat both ways; the sender gets its own message reflected,
        # with a stanza ID assigned by the room.
        a.send_message(mto=room, mbody="hello bob", mtype="groupchat")
        for c in (a, b):
            m = await c.next(c.groupchat, "alice's message", lambda m: m["body"] == "hello bob")
            if m["from"].full != room + "/Alice":
                raise Failure("%s got alice's message from %s" % (c.name, m["from"]))
            sid = m.xml.find("{%s}stanza-id" % NS_SID)
            if sid is None or sid.get("by") != room or not sid.get("id"):
                raise Failure("%s got alice's message without a stanza-id by the room: %s" % (c.name, m))
        ok("both got alice's groupchat message from %s/Alice with a stanza-id" % room)
        b.send_message(mto=room, mbody="hi alice", mtype="groupchat")
        m = await a.next(a.groupchat, "bob's message", lambda m: m["body"] == "hi alice")
        ok("alice got %r from %s" % (m["body"], m["from"]))

        # Alice changes the subject.
        a["xep_0045"].set_subject(room, "Interop testing")
        m = await b.next(b.subjects, "the new subject", lambda m: m["subject"] == "Interop testing")
        if m["from"].full != room + "/Alice":
            raise Failure("the subject change came from %s" % m["from"])
        ok("bob saw the subject change to %r by %s" % (m["subject"], m["from"].resource))

        # Bob writes to Alice privately through the room.
        b.send_message(mto=room + "/Alice", mbody="just between us", mtype="chat")
        m = await a.next(a.private, "bob's private message", lambda m: m["body"] == "just between us")
        if m["from"].full != room + "/Bob" or m["type"] != "chat":
            raise Failure("the private message came as %s from %s" % (m["type"], m["from"]))
        ok("alice got bob's private message from %s" % m["from"])

        # The service lists the public room with its occupant count.
        iq = await a.iq("disco#items of the service", a["xep_0030"].get_items(
            jid=args.muc_domain, local=False, timeout=STEP_TIMEOUT))
        listed = {str(i[0]): i[2] for i in iq["disco_items"]["items"]}
        if listed.get(room) != "Interop room (2)":
            raise Failure("the service lists %s" % listed)
        ok("the service lists %s as %r" % (room, listed[room]))

        # Bob leaves; Alice sees him go.
        b["xep_0045"].leave_muc(room, "Bob", msg="bye")
        p = await a.next(a.offline, "bob leaving", lambda p: p["from"].resource == "Bob")
        if p["type"] != "unavailable" or p["muc"]["role"] != "none":
            raise Failure("bob's leaving presence: %s" % p)
        ok("alice saw bob leave (%r)" % p["status"])

    await with_clients([a, b], body)


async def scenario_self_ping(args):
    room = "%s-ping@%s" % (args.room, args.muc_domain)
    a = Client(args, "%s@%s" % (args.user, args.domain), args.password, room)
    b = Client(args, "%s@%s" % (args.peer, args.domain), args.peer_password, room)

    async def body():
        for jid in (args.muc_domain, room):
            if NS_SELF_PING not in await a.disco_features(jid):
                raise Failure("%s does not advertise %s" % (jid, NS_SELF_PING))
        ok("the service and the room advertise the self-ping optimization")
        await b.join("Bob")
        ok("bob joined %s" % room)

        # The room answers bob's self-ping without asking his client.
        own = room + "/Bob"
        cond = await b.ping_error(own)
        if cond:
            raise Failure("bob's self-ping was answered with %s" % cond)
        await asyncio.sleep(0.3)
        if own in b.pinged_by:
            raise Failure("the self-ping was passed on to bob's client")
        ok("the service answered bob's self-ping itself")

        # A ping to another occupant reaches that occupant's client.
        cond = await b.ping_error(room + "/Alice")
        if cond or own not in a.pinged_by:
            raise Failure("bob's ping to alice: %r, alice was pinged by %s" % (cond, a.pinged_by))
        ok("bob's ping to alice's occupant JID was passed on to her client and answered")

        # Out of the room, the self-ping says to join again.
        b["xep_0045"].leave_muc(room, "Bob")
        await a.next(a.offline, "bob leaving", lambda p: p["from"].resource == "Bob")
        cond = await b.ping_error(own)
        if cond != "not-acceptable":
            raise Failure("bob's self-ping after leaving: %r, want not-acceptable" % cond)
        ok("after leaving, bob's self-ping gets not-acceptable")
        await b.join("Bob")
        if await b.ping_error(own):
            raise Failure("bob's self-ping after joining again failed")
        ok("bob joined again and his self-ping is answered")

    async def run():
        await a.create("Alice")
        await body()

    await with_clients([a, b], run)


async def scenario_occupant_id(args):
    room = "%s-ids@%s" % (args.room, args.muc_domain)
    a = Client(args, "%s@%s" % (args.user, args.domain), args.password, room)
    b = Client(args, "%s@%s" % (args.peer, args.domain), args.peer_password, room)

    async def body():
        alice_id = occupant_id(await a.create("Alice"), "alice's self-presence")
        if NS_OCCUPANT_ID not in await a.disco_features(room):
            raise Failure("the room does not advertise %s" % NS_OCCUPANT_ID)
        ok("the room advertises occupant IDs; alice's is %s" % alice_id)

        pres, _, occupants, _ = await b.join("Bob")
        bob_id = occupant_id(pres, "bob's self-presence")
        seen = {p["from"].resource: occupant_id(p, "%s's presence" % p["from"]) for p in occupants}
        if seen.get("Alice") != alice_id or bob_id == alice_id:
            raise Failure("bob's join: alice %s, bob %s, occupants %s" % (alice_id, bob_id, seen))
        p = await a.next(a.online, "bob's presence", lambda p: p["from"].resource == "Bob")
        if occupant_id(p, "bob's presence") != bob_id:
            raise Failure("alice sees bob as %s, bob himself as %s" % (p["occupant-id"]["id"], bob_id))
        ok("both see the same IDs in presence: alice %s, bob %s" % (alice_id, bob_id))

        # A forged occupant ID in a message is replaced by the room's.
        m = b.make_message(mto=room, mbody="signed", mtype="groupchat")
        m["occupant-id"]["id"] = alice_id
        m.send()
        for c in (a, b):
            got = await c.next(c.groupchat, "bob's message", lambda m: m["body"] == "signed")
            ids = got.xml.findall("{%s}occupant-id" % NS_OCCUPANT_ID)
            if len(ids) != 1 or ids[0].get("id") != bob_id:
                raise Failure("%s got bob's message with occupant IDs %s, want only %s" % (
                    c.name, [i.get("id") for i in ids], bob_id))
        ok("bob's message carries his ID, not the one he forged")

        # A nickname change and a rejoin keep the ID.
        b.send_presence(pto=room + "/Robert")
        p = await a.next(a.online, "bob's new nick", lambda p: p["from"].resource == "Robert")
        if occupant_id(p, "bob's presence as Robert") != bob_id:
            raise Failure("after the nickname change bob's ID is %s, was %s" % (p["occupant-id"]["id"], bob_id))
        ok("bob's ID stays %s as Robert" % bob_id)
        b["xep_0045"].leave_muc(room, "Robert")
        await a.next(a.offline, "bob leaving", lambda p: p["from"].resource == "Robert")
        pres, _, _, history = await b.join("Bobby")
        if occupant_id(pres, "bob's self-presence as Bobby") != bob_id:
            raise Failure("after rejoining bob's ID is %s, was %s" % (pres["occupant-id"]["id"], bob_id))
        old = [h for h in history if h["body"] == "signed"]
        if len(old) != 1 or occupant_id(old[0], "the history message") != bob_id:
            raise Failure("the history replayed to bob: %s" % [str(h) for h in history])
        ok("bob rejoined as Bobby with the same ID, and the history carries it")

    await with_clients([a, b], body)


SCENARIOS = {
    "muc": scenario_muc,
    "self-ping": scenario_self_ping,
    "occupant-id": scenario_occupant_id,
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="server address (default %(default)s)")
    p.add_argument("--port", type=int, default=5222, help="STARTTLS port (default %(default)s)")
    p.add_argument("--domain", default="localhost", help="XMPP domain (default %(default)s)")
    p.add_argument("--muc-domain", default="conference.localhost", help="group-chat service (default %(default)s)")
    p.add_argument("--room", default="interop", help="room localpart (default %(default)s)")
    p.add_argument("--user", default="alice", help="first account's localpart")
    p.add_argument("--password", default="alice-pw", help="first account's password")
    p.add_argument("--peer", default="bob", help="second account's localpart")
    p.add_argument("--peer-password", default="bob-pw", help="second account's password")
    p.add_argument("--debug", action="store_true", help="log the XML exchanged")
    p.add_argument("scenarios", nargs="*", metavar="scenario",
                   help="what to run: %s (default muc)" % ", ".join(sorted(SCENARIOS)))
    args = p.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error("unknown scenario %s" % ", ".join(unknown))
    args.scenarios = args.scenarios or ["muc"]
    return args


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    failed = checks.run_scenarios(
        [(name, lambda name=name: SCENARIOS[name](args)) for name in args.scenarios], 50)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
