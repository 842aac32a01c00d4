#!/usr/bin/python3
"""Personal eventing (XEP-0163) as clients use it, driven with slixmpp's
XEP-0060, XEP-0163, XEP-0115, XEP-0084, XEP-0172 and XEP-0223 plugins.

Two contacts (alice and bob, subscribed to each other) and a stranger
(carol) connect to the server given on the command line; the script
prints one "ok: ..." line per check and "PASS pep", and exits 0; on the
first failed check it prints "FAIL pep: <what went wrong>" and exits 1.

Usage:
    pep.py --host 127.0.0.1 --port 5222 --domain localhost --stranger carol pep
"""

import asyncio
import base64
import sys
import xml.etree.ElementTree as ET

import checks
from checks import Failure, expect, ok, token, with_clients
from slixmpp.exceptions import IqError

NS_AXOLOTL = "eu.siacs.conversations.axolotl"
DEVICELIST = NS_AXOLOTL + ".devicelist"
OMEMO2_DEVICES = "urn:xmpp:omemo:2:devices"
OMEMO2_BUNDLES = "urn:xmpp:omemo:2:bundles"
BOOKMARKS = "urn:xmpp:bookmarks:1"
NICK = "http://jabber.org/protocol/nick"
AVATAR_META = "urn:xmpp:avatar:metadata"
PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"


class Client(checks.Client):
    """A slixmpp client with the PEP plugins, interested in the nodes of
    OMEMO, avatars, nicknames and bookmarks."""

    def __init__(self, args, jid, password, name):
        super().__init__(jid, password, ("xep_0004", "xep_0030", "xep_0060", "xep_0115", "xep_0163",
                                         "xep_0084", "xep_0172", "xep_0223", "xep_0048", "xep_0199"), name=name)
        self.args = args
        self.events = asyncio.Queue()
        self.add_event_handler("pubsub_publish", lambda m: self.events.put_nowait(("publish", m)))
        self.add_event_handler("pubsub_retract", lambda m: self.events.put_nowait(("retract", m)))

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        # Interests beyond those the avatar and nick plugins register,
        # in the capabilities of the first presence.
        self["xep_0163"].add_interest([DEVICELIST, OMEMO2_DEVICES, BOOKMARKS])
        await self["xep_0115"].update_caps(broadcast=False)
        self.send_presence()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def notification(self, node, kind="publish", what=None):
        """The next notification of node (others are skipped)."""
        what = what or "%s of %s" % (kind, node)
        while True:
            got, msg = await expect(self.events.get(), "%s to get %s" % (self.name, what))
            if got == kind and msg["pubsub_event"]["items"]["node"] == node:
                return msg

    async def none(self, node, wait=1.0):
        """Check that no notification of node comes."""
        await asyncio.sleep(wait)
        while not self.events.empty():
            _, msg = self.events.get_nowait()
            if msg["pubsub_event"]["items"]["node"] == node:
                raise Failure("%s got an unexpected notification of %s" % (self.name, node))


def jid(args, local):
    return "%s@%s" % (local, args.domain)


def options(client, **fields):
    """A publish-options form."""
    form = client["xep_0004"].stanza.Form()
    form["type"] = "submit"
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    for var, value in fields.items():
        form.add_field(var="pubsub#" + var, value=value)
    return form


def payload(xml):
    return ET.fromstring(xml)


def item_payload(msg):
    return msg["pubsub_event"]["items"]["item"]["payload"]


async def refused(coro, condition, app=None):
    """Await an iq that must fail with condition (and a pubsub#errors
    app condition); return the error stanza."""
    try:
        await coro
    except IqError as e:
        got = e.iq["error"]["condition"]
        if got != condition:
            raise Failure("error %s, want %s" % (got, condition)) from None
        if app and e.iq.xml.find(".//{%s}%s" % (PUBSUB_ERRORS, app)) is None:
            raise Failure("error %s without %s" % (got, app)) from None
        return e.iq
    raise Failure("succeeded, want %s" % condition)


async def scenario_pep(args):
    alice_jid, bob_jid = jid(args, args.user), jid(args, args.peer)
    alice = Client(args, alice_jid + "/desk", args.password, "alice")
    bob = Client(args, bob_jid + "/phone", args.peer_password, "bob")
    carol = Client(args, jid(args, args.stranger) + "/pc", args.stranger_password, "carol")

    async def body():
        ps_a, ps_b, ps_c = alice["xep_0060"], bob["xep_0060"], carol["xep_0060"]

        # XEP-0172: the nickname reaches the contact.
        await alice.iq("publish nick", alice["xep_0172"].publish_nick("Alice " + token()))
        msg = await bob.notification(NICK)
        if not item_payload(msg).findtext("{%s}nick" % NICK, "") and not item_payload(msg).text:
            raise Failure("nick notification without a nick: %s" % msg)
        ok("bob got alice's nickname")
        await carol.none(NICK, 0.5)
        await refused(ps_c.get_items(alice_jid, NICK), "not-authorized", "presence-subscription-required")
        ok("carol, no contact, may not read alice's nickname")

        # XEP-0084: metadata notifies, data is fetched by id.
        data = b"\x89PNG fake avatar " + token().encode()
        await alice.iq("publish avatar data", alice["xep_0084"].publish_avatar(data))
        avatar_id = alice["xep_0084"].generate_id(data)
        await alice.iq("publish avatar metadata", alice["xep_0084"].publish_avatar_metadata(
            [{"id": avatar_id, "type": "image/png", "bytes": len(data)}]))
        msg = await bob.notification(AVATAR_META)
        if msg["pubsub_event"]["items"]["item"]["id"] != avatar_id:
            raise Failure("avatar metadata item %s, want %s" % (msg["pubsub_event"]["items"]["item"]["id"], avatar_id))
        got = await bob.iq("fetch avatar", bob["xep_0084"].retrieve_avatar(alice_jid, avatar_id))
        if got["pubsub"]["items"]["item"]["avatar_data"]["value"] != data:
            raise Failure("avatar data differs")
        ok("bob got alice's avatar metadata and fetched the data")

        # OMEMO (legacy namespace): open device list and bundle, which a
        # stranger can fetch too.
        device = "1%08d" % (int(token(), 16) % 10**8)
        await alice.iq("publish devicelist", ps_a.publish(None, DEVICELIST, id="current",
            payload=payload("<list xmlns='%s'><device id='%s'/></list>" % (NS_AXOLOTL, device)),
            options=options(alice, access_model="open")))
        await alice.iq("publish bundle", ps_a.publish(None, "%s.bundles:%s" % (NS_AXOLOTL, device), id="current",
            payload=payload("<bundle xmlns='%s'><signedPreKeyPublic signedPreKeyId='1'>AAAA</signedPreKeyPublic></bundle>" % NS_AXOLOTL),
            options=options(alice, access_model="open")))
        msg = await bob.notification(DEVICELIST)
        if item_payload(msg).find("{%s}device" % NS_AXOLOTL).get("id") != device:
            raise Failure("device list without the device")
        ok("bob got alice's OMEMO device list")
        got = await carol.iq("stranger fetches bundle", ps_c.get_items(alice_jid, "%s.bundles:%s" % (NS_AXOLOTL, device)))
        if got["pubsub"]["items"]["item"]["id"] != "current":
            raise Failure("bundle item %s" % got["pubsub"]["items"]["item"]["id"])
        ok("carol, a stranger, fetched the open bundle")

        # OMEMO 2: device list with item id current, bundles keyed by
        # device id on one node keeping many.
        await alice.iq("publish omemo 2 devices", ps_a.publish(None, OMEMO2_DEVICES, id="current",
            payload=payload("<devices xmlns='urn:xmpp:omemo:2'><device id='%s'/></devices>" % device),
            options=options(alice, access_model="open")))
        for d in (device, "42"):
            await alice.iq("publish omemo 2 bundle", ps_a.publish(None, OMEMO2_BUNDLES, id=d,
                payload=payload("<bundle xmlns='urn:xmpp:omemo:2'><spk id='1'>AA</spk></bundle>"),
                options=options(alice, access_model="open", max_items="max")))
        await bob.notification(OMEMO2_DEVICES)
        got = await carol.iq("fetch omemo 2 bundle", ps_c.get_items(alice_jid, OMEMO2_BUNDLES, item_ids=["42"]))
        ids = [it["id"] for it in got["pubsub"]["items"]]
        if ids != ["42"]:
            raise Failure("bundle ids %s, want [42]" % ids)
        got = await bob.iq("fetch all omemo 2 bundles", ps_b.get_items(alice_jid, OMEMO2_BUNDLES))
        if sorted(it["id"] for it in got["pubsub"]["items"]) != sorted([device, "42"]):
            raise Failure("bundles kept: %s" % [it["id"] for it in got["pubsub"]["items"]])
        await refused(ps_a.publish(None, OMEMO2_BUNDLES, id="43",
            payload=payload("<bundle xmlns='urn:xmpp:omemo:2'/>"),
            options=options(alice, access_model="presence")), "conflict", "precondition-not-met")
        ok("OMEMO 2 devices and bundles by id; a mismatched publish-options is a precondition conflict")

        # XEP-0402 bookmarks through the XEP-0223 profile: whitelist,
        # one item per room, seen by alice's own client only.
        for room in ("a@conference.example", "b@conference.example"):
            conf = "<conference xmlns='%s' name='%s' autojoin='true'><nick>al</nick></conference>" % (BOOKMARKS, room)
            opts = options(alice, persist_items="true", access_model="whitelist", max_items="max",
                           send_last_published_item="never")
            await alice.iq("publish bookmark", ps_a.publish(None, BOOKMARKS, id=room, payload=payload(conf), options=opts))
            msg = await alice.notification(BOOKMARKS)
            if msg["pubsub_event"]["items"]["item"]["id"] != room:
                raise Failure("bookmark notification for %s" % msg["pubsub_event"]["items"]["item"]["id"])
        await bob.none(BOOKMARKS, 0.5)
        got = await alice.iq("get bookmarks", alice["xep_0223"].retrieve(BOOKMARKS))
        if sorted(it["id"] for it in got["pubsub"]["items"]) != ["a@conference.example", "b@conference.example"]:
            raise Failure("bookmarks: %s" % [it["id"] for it in got["pubsub"]["items"]])
        await refused(ps_b.get_items(alice_jid, BOOKMARKS), "forbidden")
        ok("bookmarks: one item per room, whitelisted, notified to alice only")

        # XEP-0048 bookmarks in PEP (slixmpp's XEP-0048 plugin through
        # XEP-0223), as older clients keep them. The server keeps them
        # together with the XEP-0402 ones: a client creating the legacy
        # node adds its rooms to those.
        legacy = alice["xep_0048"].stanza.Bookmarks()
        legacy.add_conference("old@conference.example", "al", autojoin=True)
        await alice.iq("store legacy bookmarks", alice["xep_0048"].set_bookmarks(legacy, method="xep_0223"))
        got = await alice.iq("get legacy bookmarks", alice["xep_0048"].get_bookmarks(method="xep_0223"))
        confs = got.xml.findall(".//{storage:bookmarks}conference")
        if sorted(c.get("jid") for c in confs) != ["a@conference.example", "b@conference.example", "old@conference.example"]:
            raise Failure("legacy bookmarks: %s" % got)
        await refused(ps_b.get_items(alice_jid, "storage:bookmarks"), "forbidden")
        ok("XEP-0048 bookmarks stored privately through XEP-0223")

        # Retract with notify.
        await alice.iq("retract bookmark", ps_a.retract(None, BOOKMARKS, "a@conference.example", notify=True))
        msg = await alice.notification(BOOKMARKS, "retract")
        ok("retracting a bookmark notified alice")

        # Another user may not publish to alice's nodes.
        await refused(ps_b.publish(alice_jid, NICK, id="current",
            payload=payload("<nick xmlns='%s'>evil</nick>" % NICK)), "forbidden")
        ok("bob may not publish to alice's node")

        # Node configuration with the owner namespace.
        cfg = await alice.iq("get node config", ps_a.get_node_config(None, DEVICELIST))
        form = cfg["pubsub_owner"]["configure"]["form"]
        values = form.get_values()
        form_type = values.get("FORM_TYPE")
        if isinstance(form_type, list):
            form_type = form_type[0] if form_type else None
        if form_type != "http://jabber.org/protocol/pubsub#node_config" or values.get("pubsub#access_model") != "open":
            raise Failure("node configuration: %s" % values)
        ok("devicelist configuration: open access")

        # A new resource of bob gets the last items when it comes online.
        bob2 = Client(args, bob_jid + "/tablet", args.peer_password, "bob/tablet")
        await bob2.start()
        try:
            await bob2.notification(DEVICELIST, what="the last device list")
            await bob2.notification(AVATAR_META, what="the last avatar metadata")
            ok("bob's new resource got the last device list and avatar metadata")
        finally:
            await bob2.stop()

    await with_clients([alice, bob, carol], body)


SCENARIOS = {"pep": scenario_pep}


def arguments(p):
    p.add_argument("--stranger", default="carol", help="an account that is no contact of the others")
    p.add_argument("--stranger-password", default="carol-pw", help="its password")


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:], add_arguments=arguments))
