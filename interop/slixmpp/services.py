#!/usr/bin/python3
"""Scenarios for the server's own services, driven with slixmpp: ad-hoc
commands (XEP-0050 plugin), contact addresses in the server's disco#info
(XEP-0030 and XEP-0128 plugins) and external service discovery (XEP-0215,
for which slixmpp 1.8.3 has no plugin: raw iqs).

The server must have the accounts --user (a plain user) and --peer (in
server.admins), the [contact] addresses of scenario_serverinfo and the
[[external_services]] of scenario_extdisco. Each scenario prints one
"ok: ..." line per check and "PASS <scenario>", and exits 0; on the first
failed check it prints "FAIL <scenario>: <what went wrong>" and exits 1.

Usage:
    services.py --host 127.0.0.1 --port 5222 --domain localhost SCENARIO
"""

import asyncio
import base64
import hashlib
import hmac
import sys
import time
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from slixmpp.exceptions import IqError

import checks
from checks import STEP_TIMEOUT, Failure, expect, ok, with_clients

COMMANDS = "http://jabber.org/protocol/commands"
EXTDISCO = "urn:xmpp:extdisco:2"
DATA = "jabber:x:data"


class Client(checks.Client):
    def __init__(self, args, jid, password, name=None):
        super().__init__(jid, password, ("xep_0004", "xep_0030", "xep_0050", "xep_0128"), name=name)
        self.args = args

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()
        ok("%s logged in as %s" % (self.name, self.boundjid.full))


def jid(args, local):
    return "%s@%s" % (local, args.domain)


def values(form, var):
    """The values of a form's field, read from its XML."""
    for field in form.xml.findall("{%s}field" % DATA):
        if field.get("var") == var:
            return [v.text or "" for v in field.findall("{%s}value" % DATA)]
    return None


class Flow:
    """Runs a command with the XEP-0050 plugin's workflow: each response
    settles a future."""

    def __init__(self, client, node):
        self.client = client
        self.node = node
        self.session = {"next": self._on_result, "error": self._on_error}
        self.responses = asyncio.Queue()

    def _on_result(self, iq, session):
        self.responses.put_nowait(iq)

    def _on_error(self, iq, session):
        self.responses.put_nowait(iq)

    async def response(self, what):
        iq = await expect(self.responses.get(), what)
        if iq["type"] == "error":
            raise Failure("%s: %s: error %s (%s)" % (self.client.name, what, iq["error"]["condition"], iq["error"]["text"]))
        return iq

    async def start(self, what):
        self.client["xep_0050"].start_command(self.client.args.domain, self.node, self.session)
        return await self.response(what)

    async def step(self, direction, what, form=None):
        self.session["payload"] = form
        if direction == "complete":
            self.client["xep_0050"].complete_command(self.session)
        elif direction == "cancel":
            self.client["xep_0050"].cancel_command(self.session)
        else:
            self.client["xep_0050"].continue_command(self.session, direction)
        return await self.response(what)


def submit(client, **fields):
    form = client["xep_0004"].make_form(ftype="submit")
    for var, value in fields.items():
        form.add_field(var=var, value=value)
    return form


def actions(iq):
    a = iq["command"].xml.find("{%s}actions" % COMMANDS)
    if a is None:
        return None, None
    return ",".join(child.tag.split("}")[1] for child in a), a.get("execute")


async def scenario_commands(args):
    """XEP-0050: the command list per user, a one-stage command, the
    admin's two-stage command forward, back and to completion, cancel, a
    stale session and a forbidden command."""
    user = Client(args, jid(args, args.user) + "/pc", args.password, name=args.user)
    admin = Client(args, jid(args, args.peer) + "/pc", args.peer_password, name=args.peer + " (admin)")

    async def body():
        listed = {}
        for c in (user, admin):
            iq = await c.iq("list commands", c["xep_0050"].get_commands(args.domain, timeout=STEP_TIMEOUT))
            listed[c] = [item[1] for item in iq["disco_items"]["items"]]
        if "uptime" not in listed[user] or "online-users" in listed[user]:
            raise Failure("the user's command list: %s" % listed[user])
        if "uptime" not in listed[admin] or "online-users" not in listed[admin]:
            raise Failure("the admin's command list: %s" % listed[admin])
        ok("the user sees %s, the admin %s" % (listed[user], listed[admin]))

        flow = Flow(user, "uptime")
        iq = await flow.start("the uptime command")
        notes = iq["command"]["notes"]
        if iq["command"]["status"] != "completed" or not notes or notes[0][0] != "info":
            raise Failure("uptime: %s" % iq)
        ok("uptime completed at once: %r" % notes[0][1])

        try:
            await user["xep_0050"].send_command(args.domain, "online-users", timeout=STEP_TIMEOUT)
            raise Failure("the user ran the admin's command")
        except IqError as e:
            if e.iq["error"]["condition"] != "forbidden":
                raise Failure("the admin's command for a user: %s" % e.iq["error"]["condition"]) from None
        ok("the admin's command is forbidden to the user")

        flow = Flow(admin, "online-users")
        iq = await flow.start("stage 1 of online-users")
        if iq["command"]["status"] != "executing" or actions(iq) != ("next", "next"):
            raise Failure("stage 1: %s" % iq)
        if args.domain not in [o["value"] for o in iq["command"]["form"].get_fields()["domain"]["options"]]:
            raise Failure("stage 1 does not offer %s: %s" % (args.domain, iq))
        ok("stage 1 asks for the domain, session %s" % iq["command"]["sessionid"])
        iq = await flow.step("next", "stage 2", submit(admin, domain=args.domain))
        if actions(iq) != ("prev,complete", "complete"):
            raise Failure("stage 2 actions: %s" % (actions(iq),))
        count = values(iq["command"]["form"], "count")
        if count != ["2"]:
            raise Failure("stage 2 counts %s online users, want 2: %s" % (count, iq))
        ok("stage 2 says 2 users are online and allows prev and complete")
        iq = await flow.step("prev", "back to stage 1")
        if values(iq["command"]["form"], "domain") != [args.domain] or actions(iq) != ("next", "next"):
            raise Failure("prev: %s" % iq)
        ok("prev went back to stage 1 with the domain filled in")
        await flow.step("next", "stage 2 again", submit(admin, domain=args.domain))
        iq = await flow.step("complete", "the online users", submit(admin, max_items="none"))
        if iq["command"]["status"] != "completed":
            raise Failure("complete: %s" % iq)
        online = sorted(values(iq["command"]["form"], "onlineuserjids"))
        want = sorted([jid(args, args.user), jid(args, args.peer)])
        if online != want:
            raise Failure("online users %s, want %s" % (online, want))
        ok("completed with the online users %s" % online)
        stale = iq["command"]["sessionid"]
        try:
            await admin["xep_0050"].send_command(args.domain, "online-users", action="next", sessionid=stale,
                                                 timeout=STEP_TIMEOUT)
            raise Failure("the completed session went on")
        except IqError as e:
            err = e.iq["error"]
            if err["condition"] != "not-allowed" or err.xml.find("{%s}session-expired" % COMMANDS) is None:
                raise Failure("a completed session: %s" % e.iq) from None
        ok("the completed session's id is refused as expired")

        flow = Flow(admin, "online-users")
        await flow.start("another session")
        iq = await flow.step("cancel", "cancel")
        if iq["command"]["status"] != "canceled":
            raise Failure("cancel: %s" % iq)
        ok("cancel ended the session")
        try:
            await admin["xep_0050"].send_command(args.domain, "online-users", action="next", sessionid="made-up",
                                                 timeout=STEP_TIMEOUT)
            raise Failure("a made-up session id was taken")
        except IqError as e:
            err = e.iq["error"]
            if err["condition"] != "bad-request" or err.xml.find("{%s}bad-sessionid" % COMMANDS) is None:
                raise Failure("a made-up session id: %s" % e.iq) from None
        ok("a made-up session id is refused with bad-sessionid")
    await with_clients([user, admin], body)


async def scenario_serverinfo(args):
    """XEP-0157 through XEP-0030 and XEP-0128: the contact addresses in the
    server's disco#info."""
    c = Client(args, jid(args, args.user) + "/pc", args.password, name=args.user)

    async def body():
        iq = await c.iq("disco#info of the server", c["xep_0030"].get_info(jid=args.domain, timeout=STEP_TIMEOUT))
        info = iq["disco_info"]
        for feature in (COMMANDS, EXTDISCO):
            if feature not in info["features"]:
                raise Failure("disco#info lacks %s" % feature)
        ok("the server advertises ad-hoc commands and external services")
        forms = [f for f in info["substanzas"]
                 if f.namespace == DATA and values(f, "FORM_TYPE") == ["http://jabber.org/network/serverinfo"]]
        if len(forms) != 1:
            raise Failure("want one serverinfo form: %s" % iq)
        got = {var: values(forms[0], var) for var in ("abuse-addresses", "admin-addresses", "security-addresses", "support-addresses")}
        want = {
            "abuse-addresses": ["mailto:abuse@%s" % args.domain, "xmpp:abuse@%s" % args.domain],
            "admin-addresses": ["xmpp:%s" % jid(args, args.peer)],
            "security-addresses": ["https://%s/security" % args.domain],
            "support-addresses": None,
        }
        if got != want:
            raise Failure("serverinfo fields %s, want %s" % (got, want))
        ok("the serverinfo form lists %s" % got)
    await with_clients([c], body)


def check_credentials(service, user, secret, ttl):
    """A TURN server with use-auth-secret accepts the credentials: the
    password is base64(HMAC-SHA1(secret, username)) and the username's
    expiry, the same as expires, lies ttl ahead."""
    username, password = service.get("username"), service.get("password")
    expiry, _, who = (username or "").partition(":")
    if who != user:
        raise Failure("username %r does not name %s" % (username, user))
    want = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    if password != want:
        raise Failure("password %r, want %r" % (password, want))
    left = int(expiry) - time.time()
    if not ttl - 60 < left <= ttl + 1:
        raise Failure("the credentials expire in %ds, want %ds" % (left, ttl))
    expires = datetime.strptime(service.get("expires"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if int(expires.timestamp()) != int(expiry) or service.get("restricted") != "1":
        raise Failure("expires %s, restricted %s for a username expiring at %s" % (
            service.get("expires"), service.get("restricted"), expiry))


async def scenario_extdisco(args):
    """XEP-0215 with raw iqs: all services, the TURN ones, and credentials
    a TURN server sharing the secret accepts."""
    c = Client(args, jid(args, args.user) + "/phone", args.password, name=args.user)
    user = jid(args, args.user)

    async def ask(payload, what):
        iq = c.make_iq_get(ito=args.domain)
        iq.append(ET.fromstring(payload))
        return await c.iq(what, iq.send(timeout=STEP_TIMEOUT))

    async def body():
        iq = await ask("<services xmlns='%s'/>" % EXTDISCO, "all services")
        services = iq.xml.find("{%s}services" % EXTDISCO).findall("{%s}service" % EXTDISCO)
        got = [(s.get("type"), s.get("host"), s.get("port"), s.get("transport")) for s in services]
        want = [("stun", "stun.%s" % args.domain, "3478", "udp"), ("turn", "turn.%s" % args.domain, "3478", "udp")]
        if got != want:
            raise Failure("services %s, want %s" % (got, want))
        if services[0].get("password") is not None:
            raise Failure("the STUN service has credentials")
        check_credentials(services[1], user, "turn-shared-secret", 3600)
        ok("both services listed, the TURN one with credentials its server accepts")

        iq = await ask("<services xmlns='%s' type='turn'/>" % EXTDISCO, "TURN services")
        services = iq.xml.find("{%s}services" % EXTDISCO).findall("{%s}service" % EXTDISCO)
        if [s.get("type") for s in services] != ["turn"]:
            raise Failure("TURN services: %s" % iq)
        ok("the type filter lists the TURN service only")

        iq = await ask("<credentials xmlns='%s'><service type='turn' host='turn.%s'/></credentials>" % (EXTDISCO, args.domain),
                       "TURN credentials")
        services = iq.xml.find("{%s}credentials" % EXTDISCO).findall("{%s}service" % EXTDISCO)
        if len(services) != 1:
            raise Failure("credentials: %s" % iq)
        check_credentials(services[0], user, "turn-shared-secret", 3600)
        ok("credentials for the TURN service verify")
    await with_clients([c], body)


SCENARIOS = {
    "commands": scenario_commands,
    "serverinfo": scenario_serverinfo,
    "extdisco": scenario_extdisco,
}


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:]))
