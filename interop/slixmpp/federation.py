#!/usr/bin/python3
"""Federation scenarios: two slixmpp clients on two different servers.

Client A logs in to server A, client B to server B; what they exchange
crosses the servers' server-to-server (s2s) link. Each scenario prints
"ok: ..." lines for the checks it made and "info: ..." lines for what it
observed, then "PASS <scenario>", or "FAIL <scenario>: <what went
wrong>" at the first failed check. "all" runs every scenario in order
(continuing after a failure); the exit status is 1 if any failed.

Both clients use STARTTLS and accept any server certificate: the servers
use throwaway certificates, and these scenarios test federation, not the
client's PKI.

Usage:
    federation.py --a-host 127.0.0.21 --a-domain pr.test \\
                  --b-host 127.0.0.22 --b-domain ej.test SCENARIO

Run with --help to list the scenarios and options.
"""

import argparse
import asyncio
import logging
import sys

import checks
from checks import Failure, info, ok, token, with_clients
from slixmpp.exceptions import IqError, IqTimeout

# How long to wait for any single expected event. Generous: the first
# stanza to a domain waits for the s2s link to be set up and authenticated.
STEP_TIMEOUT = 20


async def expect(fut, what, timeout=STEP_TIMEOUT):
    """Wait for fut, failing with a message naming what was expected."""
    return await checks.expect(fut, what, timeout)


# How long one scenario may take in all.
SCENARIO_TIMEOUT = 120


class Side:
    """One end of the federation: a server and an account on it."""

    def __init__(self, name, host, port, domain, user, password, muc=None):
        self.name, self.host, self.port = name, host, port
        self.domain, self.user, self.password = domain, user, password
        self.muc = muc  # the server's group chat service, if any

    @property
    def jid(self):
        return "%s@%s" % (self.user, self.domain)


class Inbox:
    """Received stanzas of one kind; expect() takes the first that
    matches, leaving the others for later checks."""

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

    async def expect(self, match, what, timeout=STEP_TIMEOUT):
        return await expect(self._take(match), what, timeout)


# Every client made: slixmpp leaves tasks pending after a disconnect, and
# asyncio complains loudly when such a task is garbage-collected; they are
# cancelled when the script ends.
CLIENTS = []


class Client(checks.Client):
    """A slixmpp client that records what the checks need."""

    def __init__(self, side, status=None):
        super().__init__("%s/%s" % (side.jid, "fed-" + token()), side.password,
                         ("xep_0030", "xep_0045", "xep_0092", "xep_0199", "xep_0203"),
                         name="%s (%s)" % (side.jid, side.name))
        CLIENTS.append(self)
        self.side = side
        self.status = status
        # Subscription requests are answered by the scenarios themselves.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False

        self.messages = Inbox()
        self.presences = Inbox()
        self.groupchat = Inbox()
        self.roompresences = Inbox()  # xep_0045 keeps room presence from "presence"

        self.add_event_handler("message", self.messages.put)
        # slixmpp's "message" event is only for messages with a body; an
        # error that does not echo the original (Prosody's) only makes a
        # "message_error" event.
        self.add_event_handler("message_error", self._on_message_error)
        self.add_event_handler("presence", self.presences.put)
        self.add_event_handler("groupchat_message", self.groupchat.put)
        self.add_event_handler("groupchat_presence", self.roompresences.put)

    def _on_message_error(self, msg):
        if not msg["body"]:
            self.messages.put(msg)

    async def start(self):
        """Log in with STARTTLS, get the roster, send available presence."""
        self.connect((self.side.host, self.side.port), use_ssl=False, force_starttls=True)
        await self.wait_started()
        await self.iq("roster get", self.get_roster(timeout=STEP_TIMEOUT))
        self.send_presence(pstatus=self.status)
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def iq_error(self, what, coro):
        """Await an iq that must fail; returns the error condition."""
        try:
            await coro
        except IqError as e:
            return e.iq["error"]["condition"]
        except IqTimeout:
            raise Failure("%s: %s: no answer (an error was expected)" % (self.name, what)) from None
        raise Failure("%s: %s: answered with a result (an error was expected)" % (self.name, what))

    async def message_from(self, sender, what, body=None):
        """The next non-error message from sender (a full JID string)."""
        def match(m):
            if m["type"] == "error" and m["from"].bare == sender.split("/")[0]:
                raise Failure("%s got an error message instead of %s: %s" % (
                    self.name, what, m["error"]["condition"]))
            return m["type"] != "error" and str(m["from"]) == sender and (body is None or m["body"] == body)
        return await self.messages.expect(match, what)

    async def has_subscription(self, contact, want):
        async def poll():
            while not (contact in self.client_roster and self.client_roster[contact]["subscription"] in want):
                await asyncio.sleep(0.1)
        await expect(poll(), "%s's roster to show %s with subscription %s" % (self.name, contact, "/".join(want)))


async def wait_gone(pinger, full_jid):
    """Wait until pinging full_jid (a session that ended) gets an error:
    its server has noticed that the session is gone."""
    async def poll():
        while True:
            try:
                await pinger["xep_0199"].send_ping(full_jid, timeout=5)
            except IqError as e:
                return e.iq["error"]["condition"]
            except IqTimeout:
                pass
            await asyncio.sleep(0.2)
    return await expect(poll(), "the servers to notice that %s is gone" % full_jid)


async def stop_and_wait_gone(c, observer):
    full = c.boundjid.full
    await c.stop()
    cond = await wait_gone(observer, full)
    ok("%s logged out (a ping to %s now gets %s)" % (c.name, full, cond))


# --- building blocks ---------------------------------------------------------

async def unsubscribe_all(a, b):
    """Remove a and b from each other's rosters if they are there."""
    for c, other in ((a, b), (b, a)):
        if other.side.jid in c.client_roster and c.client_roster[other.side.jid]["subscription"] != "remove":
            await c.iq("roster remove", c.update_roster(other.side.jid, subscription="remove", timeout=STEP_TIMEOUT))

    async def gone(c, contact):
        while contact in c.client_roster and c.client_roster[contact]["subscription"] not in ("none", "remove"):
            await asyncio.sleep(0.1)
    for c, other in ((a, b), (b, a)):
        await expect(gone(c, other.side.jid), "%s to drop %s from its roster" % (c.name, other.side.jid))


async def subscribe_one_way(a, b):
    """a asks b for a subscription; b approves it."""
    a.send_presence(pto=b.side.jid, ptype="subscribe")
    req = await b.presences.expect(
        lambda p: p["type"] == "subscribe" and p["from"].bare == a.side.jid,
        "%s to get the subscription request from %s" % (b.name, a.side.jid))
    ok("%s got a subscription request from %s" % (b.name, req["from"]))
    b.send_presence(pto=a.side.jid, ptype="subscribed")
    await a.presences.expect(
        lambda p: p["type"] == "subscribed" and p["from"].bare == b.side.jid,
        "%s to get the approval from %s" % (a.name, b.side.jid))
    ok("%s got the approval from %s" % (a.name, b.side.jid))


async def subscribe_both(a, b):
    await subscribe_one_way(a, b)
    await subscribe_one_way(b, a)
    await a.has_subscription(b.side.jid, ("both",))
    await b.has_subscription(a.side.jid, ("both",))
    ok("both rosters show subscription 'both'")


def subscribed_both(a, b):
    return all(o.side.jid in c.client_roster and c.client_roster[o.side.jid]["subscription"] == "both"
               for c, o in ((a, b), (b, a)))


async def ensure_subscribed(a, b):
    if subscribed_both(a, b):
        ok("%s and %s are already subscribed to each other" % (a.side.jid, b.side.jid))
        return
    await unsubscribe_all(a, b)
    await subscribe_both(a, b)


async def check_presence_status(sender, receiver):
    """sender sends presence with a fresh status; receiver gets it."""
    status = "status of %s %s" % (sender.side.user, token())
    sender.send_presence(pstatus=status)
    p = await receiver.presences.expect(
        lambda p: p["type"] in ("available", "") and str(p["from"]) == sender.boundjid.full and p["status"] == status,
        "%s to get the presence of %s with status %r" % (receiver.name, sender.boundjid.full, status))
    ok("%s got available presence from %s with status %r" % (receiver.name, p["from"], p["status"]))


# --- scenarios ---------------------------------------------------------------

async def scenario_subscribe(sa, sb):
    """A and B subscribe to each other; each sees the other's presence."""
    a, b = Client(sa), Client(sb)

    async def body():
        if any(o.side.jid in c.client_roster for c, o in ((a, b), (b, a))):
            await unsubscribe_all(a, b)
            ok("removed the contacts left from an earlier run")
        await subscribe_both(a, b)
        await check_presence_status(a, b)
        await check_presence_status(b, a)
    await with_clients([a, b], body)


async def scenario_message(sa, sb):
    """A sends B a chat message; B answers."""
    a, b = Client(sa), Client(sb)

    async def body():
        text = "hello %s, from %s (%s)" % (sb.user, sa.user, token())
        # To B's full JID: a message to the bare JID could reach B's
        # session of the previous scenario if its server has not yet
        # noticed that it ended (the offline scenario covers bare JIDs).
        a.send_message(mto=b.boundjid.full, mbody=text, mtype="chat")
        m = await b.message_from(a.boundjid.full, "the message from %s" % a.boundjid.full, text)
        ok("%s got %r from %s" % (b.name, m["body"], m["from"]))
        reply = "hello %s, from %s (%s)" % (sa.user, sb.user, token())
        b.send_message(mto=m["from"], mbody=reply, mtype="chat")
        m = await a.message_from(b.boundjid.full, "the reply from %s" % b.boundjid.full, reply)
        ok("%s got %r from %s" % (a.name, m["body"], m["from"]))
    await with_clients([a, b], body)


async def iq_towards(c, other):
    """Pings, disco#info and software version from c towards other's side."""
    dom = other.side.domain
    await c.iq("ping %s" % dom, c["xep_0199"].send_ping(dom, timeout=STEP_TIMEOUT))
    ok("%s: ping to %s answered" % (c.name, dom))
    full = other.boundjid.full
    await c.iq("ping %s" % full, c["xep_0199"].send_ping(full, timeout=STEP_TIMEOUT))
    ok("%s: ping to %s answered" % (c.name, full))
    iq = await c.iq("disco#info of %s" % dom, c["xep_0030"].get_info(
        jid=dom, local=False, cached=False, timeout=STEP_TIMEOUT))
    ids = sorted("%s/%s" % (i[0], i[1]) for i in iq["disco_info"]["identities"])
    ok("%s: disco#info of %s: identities %s, %d features" % (
        c.name, dom, ", ".join(ids), len(iq["disco_info"]["features"])))
    iq = await c.iq("software version of %s" % dom, c["xep_0092"].get_version(dom, timeout=STEP_TIMEOUT))
    v = iq["software_version"]
    ok("%s: %s runs %s %s" % (c.name, dom, v["name"], v["version"]))


async def both_ways(sa, sb, towards):
    """Log a client in on each side and run towards(a, b), then
    towards(b, a)."""
    a, b = Client(sa), Client(sb)

    async def body():
        await towards(a, b)
        await towards(b, a)
    await with_clients([a, b], body)


async def scenario_iq(sa, sb):
    """Pings (server and client), disco#info and version across, both ways."""
    await both_ways(sa, sb, iq_towards)


async def offline_one_way(sa, sb):
    """sb's client logs out; sa's writes to it; sb's logs in and gets it
    with a XEP-0203 delay."""
    a, b = Client(sa), Client(sb)
    text = "while you were away, %s (%s)" % (sb.user, token())

    async def send():
        await stop_and_wait_gone(b, a)
        a.send_message(mto=sb.jid, mbody=text, mtype="chat")
        # The ping travels the same s2s link after the message: once B's
        # server answers it, it has stored the message (or bounced it).
        await a.iq("ping %s" % sb.domain, a["xep_0199"].send_ping(sb.domain, timeout=STEP_TIMEOUT))
        for m in a.messages.items:
            if m["type"] == "error":
                raise Failure("the message to offline %s bounced: %s" % (sb.jid, m["error"]["condition"]))
        ok("%s sent a message to offline %s" % (a.name, sb.jid))
    await with_clients([a, b], send)

    b2 = Client(sb)

    async def receive():
        def match(m):
            return m["type"] != "error" and m["from"].bare == sa.jid and m["body"] == text
        m = await b2.messages.expect(match, "the offline message from %s" % sa.jid)
        if not m.get_plugin("delay", check=True) or m["delay"]["stamp"] is None:
            raise Failure("the offline message has no XEP-0203 delay: %s" % m)
        ok("%s got %r from %s, delayed: stamp %s, from %r" % (
            b2.name, m["body"], m["from"], m["delay"]["stamp"].isoformat(), str(m["delay"]["from"])))
    await with_clients([b2], receive)


async def scenario_offline(sa, sb):
    """Messages to an offline contact are stored and delivered with a delay."""
    await offline_one_way(sa, sb)
    await offline_one_way(sb, sa)


async def unavailable_one_way(sa, sb):
    a, b = Client(sa), Client(sb)

    async def body():
        await ensure_subscribed(a, b)
        full = b.boundjid.full
        await b.stop()
        p = await a.presences.expect(
            lambda p: p["type"] == "unavailable" and str(p["from"]) == full,
            "%s to get unavailable presence from %s" % (a.name, full))
        ok("%s got unavailable presence from %s" % (a.name, p["from"]))
    await with_clients([a, b], body)


async def scenario_unavailable(sa, sb):
    """When B logs out, A (subscribed to B) gets its unavailable presence."""
    await unavailable_one_way(sa, sb)
    await unavailable_one_way(sb, sa)


async def errors_towards(c, other):
    """c writes to a user that does not exist on the other side, and sends
    an iq to a resource that does not exist there: both get errors."""
    dom = other.side.domain
    nobody = "nobody-%s@%s" % (token(), dom)
    c.send_message(mto=nobody, mbody="is anybody there?", mtype="chat")
    m = await c.messages.expect(
        lambda m: m["type"] == "error" and m["from"].bare == nobody,
        "%s to get an error for its message to %s" % (c.name, nobody))
    cond = m["error"]["condition"]
    info("%s: a message to non-existent %s: error %s (type %s) from %s" % (
        c.name, nobody, cond, m["error"]["type"], m["from"]))
    if cond not in ("service-unavailable", "item-not-found"):
        raise Failure("a message to non-existent %s got error %s, want service-unavailable or item-not-found" % (
            nobody, cond))
    ok("%s: a message to non-existent %s bounced with %s" % (c.name, nobody, cond))

    full = "%s/no-such-resource-%s" % (other.side.jid, token())
    cond = await c.iq_error("ping %s" % full, c["xep_0199"].send_ping(full, timeout=STEP_TIMEOUT))
    info("%s: an iq to non-existent %s: error %s" % (c.name, full, cond))
    ok("%s: an iq to non-existent %s got error %s" % (c.name, full, cond))

    full = "%s/no-such-resource" % nobody
    cond = await c.iq_error("ping %s" % full, c["xep_0199"].send_ping(full, timeout=STEP_TIMEOUT))
    info("%s: an iq to non-existent %s: error %s" % (c.name, full, cond))
    ok("%s: an iq to non-existent %s got error %s" % (c.name, full, cond))


async def scenario_errors(sa, sb):
    """Stanzas to non-existent users and resources across get errors."""
    await both_ways(sa, sb, errors_towards)


async def room_with_guest(owner, guest):
    """owner creates a room on its own server's group chat service; guest,
    from the other server, joins it over federation; they talk; guest
    leaves."""
    room = "fed-%s@%s" % (token(), owner.side.muc)
    muc = owner["xep_0045"]
    await expect(muc.join_muc_wait(room, "Owner", maxstanzas=0, timeout=STEP_TIMEOUT),
                 "%s to create %s" % (owner.name, room))
    # Accept the default configuration, which unlocks a new room
    # (XEP-0045 10.1.2) wherever the service locks new rooms.
    form = await owner.iq("get the configuration of %s" % room, muc.get_room_config(room, timeout=STEP_TIMEOUT))
    form["type"] = "submit"
    await owner.iq("submit the configuration of %s" % room, muc.set_room_config(room, form, timeout=STEP_TIMEOUT))
    ok("%s created %s" % (owner.name, room))

    await expect(guest["xep_0045"].join_muc_wait(room, "Guest", maxstanzas=0, timeout=STEP_TIMEOUT),
                 "%s to join %s" % (guest.name, room))
    await owner.roompresences.expect(lambda p: str(p["from"]) == room + "/Guest" and p["type"] != "unavailable",
                                 "%s to see Guest join" % owner.name)
    ok("%s joined %s across the federation" % (guest.name, room))

    for sender, nick, receiver in ((owner, "Owner", guest), (guest, "Guest", owner)):
        text = "groupchat from %s (%s)" % (nick, token())
        sender.send_message(mto=room, mbody=text, mtype="groupchat")
        for c in (receiver, sender):
            await c.groupchat.expect(lambda m: str(m["from"]) == room + "/" + nick and m["body"] == text,
                                     "%s to get %r from %s/%s" % (c.name, text, room, nick))
        ok("%s's groupchat message reached both occupants" % nick)

    guest["xep_0045"].leave_muc(room, "Guest", msg="bye")
    await owner.roompresences.expect(lambda p: str(p["from"]) == room + "/Guest" and p["type"] == "unavailable",
                                 "%s to see Guest leave" % owner.name)
    ok("%s saw %s leave" % (owner.name, guest.name))
    muc.leave_muc(room, "Owner")


async def scenario_muc(sa, sb):
    """Group chat across: a room on each side's service with a guest from the other side."""
    a, b = Client(sa), Client(sb)

    async def body():
        ran = False
        for owner, guest in ((a, b), (b, a)):
            if owner.side.muc:
                await room_with_guest(owner, guest)
                ran = True
        if not ran:
            raise Failure("no group chat service given (--a-muc, --b-muc)")
    await with_clients([a, b], body)


SCENARIOS = {
    "subscribe": scenario_subscribe,
    "message": scenario_message,
    "iq": scenario_iq,
    "offline": scenario_offline,
    "unavailable": scenario_unavailable,
    "errors": scenario_errors,
    "muc": scenario_muc,
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for side, user in (("a", "alice"), ("b", "bob")):
        S = side.upper()
        p.add_argument("--%s-host" % side, required=True, help="server %s's address" % S)
        p.add_argument("--%s-port" % side, type=int, default=5222,
                       help="server %s's STARTTLS port (default %%(default)s)" % S)
        p.add_argument("--%s-domain" % side, required=True, help="server %s's XMPP domain" % S)
        p.add_argument("--%s-user" % side, default=user, help="the localpart at %s (default %%(default)s)" % S)
        p.add_argument("--%s-password" % side, default=user + "-pw",
                       help="its password (default %(default)s)")
        p.add_argument("--%s-muc" % side, help="server %s's group chat service domain" % S)
    p.add_argument("--debug", action="store_true", help="log the XML exchanged")
    p.add_argument("scenario", choices=list(SCENARIOS) + ["all"], help="what to run")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    sa = Side("A", args.a_host, args.a_port, args.a_domain, args.a_user, args.a_password, args.a_muc)
    sb = Side("B", args.b_host, args.b_port, args.b_domain, args.b_user, args.b_password, args.b_muc)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    if args.scenario == "all" and not (sa.muc or sb.muc):
        names.remove("muc")  # no group chat service to test
    failed = checks.run_scenarios(
        [(name, lambda name=name: SCENARIOS[name](sa, sb)) for name in names], SCENARIO_TIMEOUT,
        before=lambda name: print("=== %s: %s" % (name, SCENARIOS[name].__doc__.strip()), flush=True))
    if len(names) > 1:
        print("%d of %d scenarios passed%s" % (
            len(names) - len(failed), len(names), "; failed: " + " ".join(failed) if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
