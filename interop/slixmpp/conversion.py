#!/usr/bin/python3
"""Bookmarks and avatars written one way and read another, as clients of
different generations do, driven with slixmpp's XEP-0048 (private
storage), XEP-0060, XEP-0084, XEP-0054 and XEP-0153 plugins: the server
converts them (XEP-0411, XEP-0402 compatibility, XEP-0398).

Two contacts (alice and bob, subscribed to each other) connect to the
server given on the command line; the script prints one "ok: ..." line
per check and "PASS conversion", and exits 0; on the first failed check
it prints "FAIL conversion: <what went wrong>" and exits 1.

Usage:
    conversion.py --host 127.0.0.1 --port 5222 --domain localhost conversion
"""

import asyncio
import hashlib
import sys
import xml.etree.ElementTree as ET

import checks
from checks import Failure, expect, ok, token, with_clients

BOOKMARKS = "urn:xmpp:bookmarks:1"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
VCARD_UPDATE = "vcard-temp:x:update"

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


class Client(checks.Client):
    """A slixmpp client with the bookmark, pubsub and avatar plugins. It
    does not load XEP-0153, whose plugin puts a hash in presence itself:
    the server must."""

    def __init__(self, args, jid, password, name, extra=()):
        super().__init__(jid, password, ("xep_0004", "xep_0030", "xep_0048", "xep_0049", "xep_0054",
                                         "xep_0060", "xep_0084", "xep_0163", "xep_0223") + tuple(extra), name=name)
        self.args = args
        self.presences = asyncio.Queue()
        self.add_event_handler("presence_available", self.presences.put_nowait)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        self.send_presence()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))

    async def presence_from(self, bare, status):
        """The next presence of bare with status (others are skipped)."""
        while True:
            p = await expect(self.presences.get(), "%s to get presence from %s" % (self.name, bare))
            if p["from"].bare == bare and p["status"] == status:
                return p


def jid(args, local):
    return "%s@%s" % (local, args.domain)


def options(client, **fields):
    form = client["xep_0004"].stanza.Form()
    form["type"] = "submit"
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    for var, value in fields.items():
        form.add_field(var="pubsub#" + var, value=value)
    return form


async def scenario_conversion(args):
    alice_jid, bob_jid = jid(args, args.user), jid(args, args.peer)
    alice = Client(args, alice_jid + "/desk", args.password, "alice")
    bob = Client(args, bob_jid + "/phone", args.peer_password, "bob", extra=("xep_0153",))

    async def body():
        info = await alice.iq("disco#info of the account", alice["xep_0030"].get_info(jid=alice_jid))
        features = info["disco_info"]["features"]
        for f in ("urn:xmpp:bookmarks-conversion:0", "urn:xmpp:pep-vcard-conversion:0", BOOKMARKS + "#compat"):
            if f not in features:
                raise Failure("account does not advertise %s: %s" % (f, features))
        ok("the account advertises the conversions")

        # XEP-0402 publish, XEP-0048 read from private storage.
        room, pw = "tea-%s@conference.example" % token(), token()
        conf = ET.fromstring("<conference xmlns='%s' name='Tea' autojoin='true'><nick>al</nick>"
                             "<password>%s</password></conference>" % (BOOKMARKS, pw))
        await alice.iq("publish XEP-0402 bookmark", alice["xep_0060"].publish(
            None, BOOKMARKS, id=room, payload=conf,
            options=options(alice, persist_items="true", access_model="whitelist", max_items="max",
                            send_last_published_item="never")))
        got = await alice.iq("get private bookmarks", alice["xep_0048"].get_bookmarks(method="xep_0049"))
        confs = got["private"]["bookmarks"]["conferences"]
        found = [c for c in confs if c["jid"] == room]
        if not found:
            raise Failure("private bookmarks lack %s: %s" % (room, got))
        c = found[0]
        if c["name"] != "Tea" or c["nick"] != "al" or c["password"] != pw or not c["autojoin"]:
            raise Failure("private bookmark fields: name=%r nick=%r password=%r autojoin=%r" % (
                c["name"], c["nick"], c["password"], c["autojoin"]))
        ok("a XEP-0402 bookmark reads back from private storage with its fields")

        # XEP-0048 in private storage, read as XEP-0402 items.
        legacy = alice["xep_0048"].stanza.Bookmarks()
        legacy.add_conference(room, "al", name="Tea", autojoin=True, password=pw)
        other = "work-%s@conference.example" % token()
        legacy.add_conference(other, "alice", name="Work")
        await alice.iq("store private bookmarks", alice["xep_0048"].set_bookmarks(legacy, method="xep_0049"))
        got = await alice.iq("get XEP-0402 bookmarks", alice["xep_0060"].get_items(None, BOOKMARKS))
        ids = sorted(it["id"] for it in got["pubsub"]["items"])
        if ids != sorted([room, other]):
            raise Failure("XEP-0402 items %s, want %s" % (ids, sorted([room, other])))
        work = [it for it in got["pubsub"]["items"] if it["id"] == other][0].xml.find("{%s}conference" % BOOKMARKS)
        if work is None or work.get("name") != "Work" or work.findtext("{%s}nick" % BOOKMARKS) != "alice":
            raise Failure("converted bookmark: %s" % got)
        legacy = alice["xep_0048"].stanza.Bookmarks()
        legacy.add_conference(other, "alice", name="Work")
        await alice.iq("remove a private bookmark", alice["xep_0048"].set_bookmarks(legacy, method="xep_0049"))
        got = await alice.iq("get XEP-0402 bookmarks", alice["xep_0060"].get_items(None, BOOKMARKS))
        if [it["id"] for it in got["pubsub"]["items"]] != [other]:
            raise Failure("after removal, XEP-0402 items %s" % [it["id"] for it in got["pubsub"]["items"]])
        ok("bookmarks stored in private storage are XEP-0402 items, removals too")

        # XEP-0084 publish, XEP-0054 read by a contact.
        data = PNG
        avatar_id = hashlib.sha1(data).hexdigest()
        await alice.iq("publish avatar data", alice["xep_0084"].publish_avatar(data))
        await alice.iq("publish avatar metadata", alice["xep_0084"].publish_avatar_metadata(
            [{"id": avatar_id, "type": "image/png", "bytes": len(data), "width": "1", "height": "1"}]))
        got = await bob.iq("get alice's vCard", bob["xep_0054"].get_vcard(alice_jid))
        photo = got["vcard_temp"]["PHOTO"]
        if photo["BINVAL"] != data or photo["TYPE"] != "image/png":
            raise Failure("vCard photo: type %r, %d bytes" % (photo["TYPE"], len(photo["BINVAL"] or b"")))
        ok("a XEP-0084 avatar reads back from alice's vCard")

        # XEP-0153: the contact sees the hash in alice's next presence.
        status = "with avatar " + token()
        alice.send_presence(pstatus=status)
        p = await bob.presence_from(alice_jid, status)
        if p["vcard_temp_update"]["photo"] != avatar_id:
            raise Failure("presence photo %r, want %s" % (p["vcard_temp_update"]["photo"], avatar_id))
        ok("bob saw alice's avatar hash in her presence")

    await with_clients([alice, bob], body)


SCENARIOS = {"conversion": scenario_conversion}


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:]))
