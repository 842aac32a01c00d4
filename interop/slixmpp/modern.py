#!/usr/bin/python3
"""Scenarios for what today's clients expect, driven with slixmpp's plugins.

Each scenario connects slixmpp clients (two resources of one account and
a contact) to the server given on the command line, prints one "ok: ..."
line per check and "PASS <scenario>", and exits 0; on the first failed
check it prints "FAIL <scenario>: <what went wrong>" and exits 1.

Usage:
    modern.py --host 127.0.0.1 --port 5222 --domain localhost SCENARIO
"""

import asyncio
import io
import sys

import checks
from checks import STEP_TIMEOUT, Failure, expect, ok, with_clients


class Client(checks.Client):
    """A slixmpp client with the plugins of a current IM client."""

    def __init__(self, args, jid, password, name=None, extra_plugins=()):
        super().__init__(jid, password, ("xep_0030", "xep_0199", "xep_0280", "xep_0297", "xep_0191", "xep_0313",
                                         "xep_0352", "xep_0359") + tuple(extra_plugins), name=name)
        self.args = args
        self.messages = asyncio.Queue()
        self.carbons = asyncio.Queue()
        self.arrivals = asyncio.Queue()  # presence and messages, in order
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("presence", self._on_presence)
        self.add_event_handler("carbon_received", lambda m: self.carbons.put_nowait(("received", m)))
        self.add_event_handler("carbon_sent", lambda m: self.carbons.put_nowait(("sent", m)))

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal", "error") and msg["body"]:
            self.messages.put_nowait(msg)
        self.arrivals.put_nowait(msg)

    def _on_presence(self, pres):
        if pres["from"].bare != self.boundjid.bare:
            self.arrivals.put_nowait(pres)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def next_message(self, what):
        msg = await expect(self.messages.get(), what)
        if msg["type"] == "error":
            raise Failure("%s got an error instead of %s: %s" % (self.name, what, msg["error"]["condition"]))
        return msg

    async def next_carbon(self, what):
        return await expect(self.carbons.get(), what)

    async def sync(self):
        """Wait until the server handled everything sent so far."""
        await self.iq("ping", self["xep_0199"].send_ping(self.args.domain, timeout=STEP_TIMEOUT))


def jid(args, local):
    return "%s@%s" % (local, args.domain)


async def no_more(client, queue, what):
    """Check that nothing else arrived in queue once the server is idle."""
    await client.sync()
    await asyncio.sleep(0.3)
    if not queue.empty():
        raise Failure("%s got an unexpected %s: %s" % (client.name, what, queue.get_nowait()))


async def scenario_carbons(args):
    """XEP-0280: two resources of alice with carbons, and bob."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    desk = Client(args, alice + "/desk", args.password, name="alice/desk")
    phone = Client(args, alice + "/phone", args.password, name="alice/phone")
    b = Client(args, bob + "/pc", args.peer_password, name="bob")

    async def body():
        for c in (desk, phone):
            await c.iq("enable carbons", c["xep_0280"].enable(timeout=STEP_TIMEOUT))
        ok("both of alice's resources enabled carbons")
        for c in (desk, phone, b):
            c.send_presence()
            await c.sync()

        b.send_message(mto=alice + "/desk", mbody="to your desk", mtype="chat")
        msg = await desk.next_message("bob's message at the desk")
        ok("the desk got %r" % msg["body"])
        direction, carbon = await phone.next_carbon("a received carbon at the phone")
        fwd = carbon["carbon_received"]
        if direction != "received" or fwd["body"] != "to your desk" or carbon["from"].full != alice:
            raise Failure("the phone got a %s carbon from %s of %r" % (direction, carbon["from"], fwd["body"]))
        ok("the phone got a received carbon of %r from %s" % (fwd["body"], fwd["from"]))

        desk.send_message(mto=bob, mbody="from my desk", mtype="chat")
        msg = await b.next_message("alice's reply")
        ok("bob got %r" % msg["body"])
        direction, carbon = await phone.next_carbon("a sent carbon at the phone")
        fwd = carbon["carbon_sent"]
        if direction != "sent" or fwd["body"] != "from my desk" or fwd["to"].bare != bob:
            raise Failure("the phone got a %s carbon of %r to %s" % (direction, fwd["body"], fwd["to"]))
        ok("the phone got a sent carbon of %r to %s" % (fwd["body"], fwd["to"]))

        m = desk.make_message(mto=bob, mbody="just between us", mtype="chat")
        m.enable("carbon_private")
        m.send()
        msg = await b.next_message("the private message")
        ok("bob got the private message %r" % msg["body"])
        await no_more(phone, phone.carbons, "carbon of a private message")
        await no_more(desk, desk.carbons, "carbon of its own message")
        ok("no carbons of the private message, nor to the sender")

        await phone.iq("disable carbons", phone["xep_0280"].disable(timeout=STEP_TIMEOUT))
        b.send_message(mto=alice + "/desk", mbody="after disable", mtype="chat")
        await desk.next_message("the message after the phone disabled carbons")
        await no_more(phone, phone.carbons, "carbon after disabling")
        ok("no carbons after disabling")
    await with_clients([desk, phone, b], body)


async def scenario_mam(args):
    """XEP-0313: a new device pages through the archive with XEP-0059."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    desk = Client(args, alice + "/desk", args.password, name="alice/desk")
    b = Client(args, bob + "/pc", args.peer_password, name="bob")
    total = 23
    sent = ["message %02d" % i for i in range(total)]

    async def converse():
        for c in (desk, b):
            c.send_presence()
            await c.sync()
        ids = []
        for text in sent:
            desk.send_message(mto=bob, mbody=text, mtype="chat")
        for text in sent:
            msg = await b.next_message("alice's %r" % text)
            if msg["body"] != text:
                raise Failure("bob got %r, expected %r" % (msg["body"], text))
            sid = msg["stanza_id"]
            if str(sid["by"]) != bob or not sid["id"]:
                raise Failure("message without bob's archive ID: %s" % msg)
            ids.append(sid["id"])
        ok("bob got %d messages, each with an archive ID by %s" % (total, bob))
        await desk.sync()

        got = []
        async for m in b["xep_0313"].iterate(with_jid=alice, rsm={"max": 5}):
            got.append((m["mam_result"]["id"], m["mam_result"]["forwarded"]["stanza"]["body"]))
        if [g[1] for g in got] != sent:
            raise Failure("bob's archive in pages of 5: %r" % [g[1] for g in got])
        if [g[0] for g in got] != ids:
            raise Failure("archive IDs differ from the delivered stanza IDs")
        ok("bob's archive in pages of 5 holds every message once, in order, under its stanza ID")

        got = []
        async for m in b["xep_0313"].iterate(with_jid=alice, reverse=True, rsm={"max": 7}):
            got.append(m["mam_result"]["forwarded"]["stanza"]["body"])
        if got != list(reversed(sent)):
            raise Failure("bob's archive paged backwards: %r" % got)
        ok("paging backwards from the last page returns every message once")

    await with_clients([desk, b], converse)

    # A device that was never online fetches alice's side of it.
    tablet = Client(args, alice + "/tablet", args.password, name="alice/tablet")

    async def catch_up():
        got = []
        async for m in tablet["xep_0313"].iterate(with_jid=bob, rsm={"max": 10}):
            fwd = m["mam_result"]["forwarded"]
            got.append(fwd["stanza"]["body"])
            if not fwd["delay"]["stamp"]:
                raise Failure("archived message without a delay stamp")
        if got != sent:
            raise Failure("alice's archive from a new device: %r" % got)
        ok("a new device of alice's finds all %d messages she sent" % total)
    await with_clients([tablet], catch_up)


async def scenario_csi(args):
    """XEP-0352: an inactive phone gets presence late, messages at once."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    phone = Client(args, alice + "/phone", args.password, name="alice/phone")
    b = Client(args, bob + "/pc", args.peer_password, name="bob")

    async def body():
        if not phone["xep_0352"].enabled:
            raise Failure("the server does not offer client state indication")
        phone.send_presence()
        await phone.sync()
        b.send_presence()
        pres = await expect(phone.arrivals.get(), "bob's presence while active")
        ok("active: got %s's presence at once" % pres["from"])
        phone["xep_0352"].send_inactive()
        await phone.sync()
        for show in ("away", "dnd"):
            b.send_presence(pshow=show)
        await b.sync()
        # Not no_more(): the phone's own ping would let held presence out
        # ahead of its answer.
        await asyncio.sleep(0.5)
        if not phone.arrivals.empty():
            raise Failure("presence reached the inactive phone: %s" % phone.arrivals.get_nowait())
        ok("inactive: bob's presence changes are held")
        b.send_message(mto=alice + "/phone", mbody="are you there?", mtype="chat")
        first = await expect(phone.arrivals.get(), "the held presence")
        second = await expect(phone.arrivals.get(), "the message")
        if first.name != "presence" or first["show"] != "dnd":
            raise Failure("first after the message was sent: %s" % first)
        if second.name != "message" or second["body"] != "are you there?":
            raise Failure("second: %s" % second)
        ok("a message arrives at once, after only the latest held presence (%s)" % first["show"])
        b.send_presence(pshow="chat")
        await b.sync()
        await asyncio.sleep(0.3)
        if not phone.arrivals.empty():
            raise Failure("presence reached the inactive phone: %s" % phone.arrivals.get_nowait())
        phone["xep_0352"].send_active()
        pres = await expect(phone.arrivals.get(), "the held presence on active")
        if pres["show"] != "chat":
            raise Failure("on active got %s" % pres)
        ok("active again: the held presence arrives")
    await with_clients([phone, b], body)


async def scenario_blocking(args):
    """XEP-0191: alice blocks bob, then unblocks him."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    a = Client(args, alice + "/pc", args.password, name="alice")
    b = Client(args, bob + "/pc", args.peer_password, name="bob")

    async def expect_error(c, condition, what):
        msg = await expect(c.messages.get(), what)
        if msg["type"] != "error" or msg["error"]["condition"] != condition:
            raise Failure("%s got %s instead of a %s error" % (c.name, msg, condition))

    async def body():
        for c in (a, b):
            c.send_presence()
            await c.sync()
        blocked = await a.iq("block list", a["xep_0191"].get_blocked(timeout=STEP_TIMEOUT))
        if blocked["blocklist"]["items"]:
            raise Failure("a new account has a block list: %s" % blocked["blocklist"]["items"])
        await a.iq("block", a["xep_0191"].block([bob], timeout=STEP_TIMEOUT))
        blocked = await a.iq("block list", a["xep_0191"].get_blocked(timeout=STEP_TIMEOUT))
        items = {str(j) for j in blocked["blocklist"]["items"]}
        if items != {bob}:
            raise Failure("block list after blocking bob: %s" % items)
        ok("alice blocked %s" % bob)
        b.send_message(mto=alice + "/pc", mbody="let me in", mtype="chat")
        await expect_error(b, "service-unavailable", "an error for writing to alice")
        await no_more(a, a.messages, "message from the blocked contact")
        ok("bob's message did not reach alice; bob got service-unavailable")
        a.send_message(mto=bob, mbody="go away", mtype="chat")
        await expect_error(a, "not-acceptable", "an error for writing to the blocked contact")
        await no_more(b, b.messages, "message from alice")
        ok("alice cannot write to the contact she blocked")
        await a.iq("unblock", a["xep_0191"].unblock([bob], timeout=STEP_TIMEOUT))
        b.send_message(mto=alice + "/pc", mbody="hello again", mtype="chat")
        msg = await a.next_message("bob's message after unblocking")
        if msg["body"] != "hello again":
            raise Failure("alice got %r" % msg["body"])
        ok("after unblocking, bob's message arrives")
    await with_clients([a, b], body)


async def scenario_sm(args):
    """XEP-0198: the phone's connection breaks mid-conversation and the
    session resumes: every message arrives exactly once."""
    alice, bob = jid(args, args.user), jid(args, args.peer)
    phone = Client(args, alice + "/phone", args.password, name="alice/phone", extra_plugins=("xep_0198",))
    b = Client(args, bob + "/pc", args.peer_password, name="bob")
    enabled = phone.loop.create_future()
    phone.add_event_handler("sm_enabled", lambda e: enabled.done() or enabled.set_result(e))
    resumed = asyncio.Event()
    phone.add_event_handler("session_resumed", lambda e: resumed.set())

    async def body():
        await expect(enabled, "stream management to be enabled")
        if not phone["xep_0198"].sm_id:
            raise Failure("the server offered no resumption")
        ok("stream management enabled with resumption")
        phone.send_presence()
        await phone.sync()
        for i in range(3):
            b.send_message(mto=alice + "/phone", mbody="before %d" % i, mtype="chat")
        got = [(await phone.next_message("message %d" % i))["body"] for i in range(3)]
        ok("the phone got %s" % got)

        # The connection breaks: no closing tag, the socket just goes.
        phone.abort()
        await asyncio.sleep(0.5)
        for i in range(3):
            b.send_message(mto=alice + "/phone", mbody="during %d" % i, mtype="chat")
        await b.sync()
        ok("bob wrote three more while the phone was away")

        phone.connect((args.host, args.port), force_starttls=True)
        await expect(resumed.wait(), "the session to be resumed")
        ok("the session resumed")
        got = [(await phone.next_message("a message held for the phone"))["body"] for _ in range(3)]
        if got != ["during 0", "during 1", "during 2"]:
            raise Failure("after resuming the phone got %s" % got)
        await no_more(phone, phone.messages, "message (a duplicate)")
        ok("after resuming: %s, nothing lost, nothing twice" % got)
        b.send_message(mto=alice + "/phone", mbody="after", mtype="chat")
        if (await phone.next_message("a message after resuming"))["body"] != "after":
            raise Failure("the resumed session lost a new message")
        ok("new messages reach the resumed session")
    await with_clients([phone, b], body)


async def scenario_upload(args):
    """XEP-0363: alice finds the upload service from her domain, uploads
    a file and sends bob the link (XEP-0066); bob downloads exactly what
    she uploaded. A file over the limit is refused with the limit."""
    import aiohttp
    from slixmpp.exceptions import IqError

    alice, bob = jid(args, args.user), jid(args, args.peer)
    a = Client(args, alice + "/desk", args.password, name="alice", extra_plugins=("xep_0363", "xep_0066"))
    b = Client(args, bob + "/pc", args.peer_password, name="bob", extra_plugins=("xep_0066",))

    async def body():
        # The plugin's own discovery (get_info_from_domain) fails on
        # this Python (asyncio.wait given coroutines), so the service is
        # found with disco#items and disco#info, as a client does.
        up = a["xep_0363"]
        items = await a["xep_0030"].get_items(jid=args.domain, timeout=STEP_TIMEOUT)
        for item in items["disco_items"]["items"]:
            info = await a["xep_0030"].get_info(jid=item[0], timeout=STEP_TIMEOUT)
            if ("store", "file") in [(i[0], i[1]) for i in info["disco_info"]["identities"]] and \
                    "urn:xmpp:http:upload:0" in info["disco_info"]["features"]:
                up.upload_service = info["from"]
                for form in info["disco_info"].iterables:
                    if form["values"].get("FORM_TYPE") == ["urn:xmpp:http:upload:0"]:
                        up.max_file_size = int(form["values"]["max-file-size"])
        if up.upload_service is None or up.max_file_size != 1000000:
            raise Failure("no upload service with max-file-size 1000000 in the server's disco items")
        ok("found %s accepting files up to %d bytes" % (up.upload_service, up.max_file_size))
        data = bytes(range(256)) * 400 + checks.token().encode()
        url = await expect(a["xep_0363"].upload_file("notes-%s.bin" % checks.token(), size=len(data),
                                                     content_type="application/octet-stream",
                                                     input_file=io.BytesIO(data), timeout=STEP_TIMEOUT),
                           "the upload")
        ok("alice uploaded %d bytes to %s" % (len(data), a["xep_0363"].upload_service))
        if not url.startswith("http"):
            raise Failure("the upload's URL is %r" % url)
        msg = a.make_message(mto=bob + "/pc", mbody=url, mtype="chat")
        msg["oob"]["url"] = url
        msg.send()
        got = await b.next_message("the link")
        if got["oob"]["url"] != url:
            raise Failure("bob got %r, not the link" % got["oob"]["url"])
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                fetched = await resp.read()
                if resp.status != 200 or fetched != data:
                    raise Failure("bob's download: HTTP %d, %d bytes" % (resp.status, len(fetched)))
        ok("bob downloaded the same %d bytes" % len(fetched))

        try:
            await a["xep_0363"].request_slot(a["xep_0363"].upload_service, "huge.bin",
                                             a["xep_0363"].max_file_size + 1, timeout=STEP_TIMEOUT)
            raise Failure("a slot beyond max-file-size was granted")
        except IqError as e:
            err = e.iq["error"]
            limit = err.xml.find("{urn:xmpp:http:upload:0}file-too-large/{urn:xmpp:http:upload:0}max-file-size")
            if err["condition"] != "not-acceptable" or limit is None or int(limit.text) != a["xep_0363"].max_file_size:
                raise Failure("too large a file: %s" % e.iq)
        ok("a file over the %d byte limit was refused with the limit" % a["xep_0363"].max_file_size)
    await with_clients([a, b], body)


SCENARIOS = {
    "upload": scenario_upload,
    "blocking": scenario_blocking,
    "sm": scenario_sm,
    "carbons": scenario_carbons,
    "csi": scenario_csi,
    "mam": scenario_mam,
}


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:]))
