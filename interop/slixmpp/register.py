#!/usr/bin/python3
"""In-band registration (XEP-0077) with slixmpp's xep_0077 plugin: new
accounts registered on the stream before logging in, with the legacy
fields or with the data form and an invitation token, password changes
and account removal.

Each scenario prints one "ok: ..." line per check and "PASS <scenario>",
and exits 0; on the first failed check it prints "FAIL <scenario>: <what
went wrong>" and exits 1.

Usage:
    register.py --host 127.0.0.1 --port 5222 --domain localhost [--token T] SCENARIO
"""

import asyncio
import sys

import checks
from checks import STEP_TIMEOUT, Failure, expect, ok, token
from slixmpp.exceptions import IqError


class Registrar(checks.Client):
    """A client that registers its account on the stream before logging
    in, filling the form the server sends with fill(form_iq, request)."""

    def __init__(self, args, local, password, fill, name=None):
        super().__init__("%s@%s" % (local, args.domain), password,
                         ("xep_0030", "xep_0004", "xep_0066", "xep_0077"), name=name or local)
        self.args = args
        self.fill = fill
        self.form = None
        # True once registered, else the error condition of the refusal.
        self.registered = self.loop.create_future()
        self.add_event_handler("register", self._on_register)
        # slixmpp 1.8 holds back every stanza but resource binding until
        # the session starts, its own registration requests included,
        # which then never leave; let them through until registered.
        self._always_send_everything = True

    async def _on_register(self, form_iq):
        self.form = form_iq
        req = self.Iq()
        req["type"] = "set"
        try:
            self.fill(form_iq, req)
            await req.send(timeout=STEP_TIMEOUT)
        except IqError as e:
            self.registered.set_result(e.iq["error"]["condition"])
            return
        except Failure as e:
            self.registered.set_result(str(e))
            return
        finally:
            self._always_send_everything = False
        self.registered.set_result(True)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()


class User(checks.Client):
    """A client that logs in to an existing account."""

    def __init__(self, args, local, password, name=None):
        super().__init__("%s@%s" % (local, args.domain), password,
                         ("xep_0030", "xep_0004", "xep_0066", "xep_0077"), name=name or local)
        self.args = args
        self.gone = self.loop.create_future()
        self.add_event_handler("disconnected", self._on_gone)

    def _on_gone(self, _reason):
        if not self.gone.done():
            self.gone.set_result(True)

    async def start(self):
        self.connect((self.args.host, self.args.port), force_starttls=True)
        await self.wait_started()


def legacy_fields(local, password):
    def fill(_form_iq, req):
        req["register"]["username"] = local
        req["register"]["password"] = password
    return fill


def data_form(local, password, tok):
    """Answer with the data form, the token in its token field."""
    def fill(form_iq, req):
        fields = form_iq["register"]["form"].get_fields()
        if "token" not in fields:
            raise Failure("the registration form has no token field: %s" % form_iq)
        x = req["register"]["form"]
        x["type"] = "submit"
        x.add_field(var="FORM_TYPE", ftype="hidden", value="jabber:iq:register")
        x.add_field(var="username", value=local)
        x.add_field(var="password", value=password)
        x.add_field(var="token", value=tok)
    return fill


async def register(args, local, password, fill, want=True):
    """Register local, expecting want: True, or the condition of the
    refusal (then the login that follows fails too)."""
    c = Registrar(args, local, password, fill)
    try:
        await c.start()
    except Failure:
        if want is True:
            got = c.registered.result() if c.registered.done() else "no registration"
            raise Failure("registering %s: %s" % (local, got)) from None
    got = await expect(c.registered, "the answer to the registration of %s" % local)
    if got != want:
        raise Failure("registering %s: got %s, want %s" % (local, got, want))
    return c


async def cannot_login(args, local, password, what):
    c = User(args, local, password)
    try:
        await c.start()
    except Failure:
        ok(what)
        return
    await c.stop()
    raise Failure("%s logged in with %s" % (local, password))


async def scenario_open(args):
    """Open registration with the legacy fields, a password change and the
    removal of the account."""
    local = "newbie" + token()
    c = await register(args, local, "first-password", legacy_fields(local, "first-password"))
    if c.form["register"]["form"].get_fields().get("token") is not None:
        raise Failure("open registration asks for a token")
    ok("registered %s with the legacy fields, and logged in as %s" % (local, c.boundjid.full))
    await c.iq("password change", c["xep_0077"].change_password("second-password"))
    ok("changed the password")
    await c.stop()

    await cannot_login(args, local, "first-password", "the old password no longer logs in")
    u = User(args, local, "second-password")
    await u.start()
    ok("the new password logs in")
    other = User(args, local, "second-password", name=local + "/other")
    await other.start()
    await u.iq("account removal", u["xep_0077"].cancel_registration())
    ok("removed the account")
    await expect(u.gone, "the removed account's stream to end")
    await expect(other.gone, "the removed account's other stream to end")
    ok("both streams of the removed account ended")
    await cannot_login(args, local, "second-password", "the removed account no longer logs in")

    await register(args, args.user, "taken-password", legacy_fields(args.user, "taken-password"), want="conflict")
    ok("a taken username is refused with conflict")
    short = "short" + token()
    await register(args, short, "short", legacy_fields(short, "short"), want="not-acceptable")
    ok("a short password is refused with not-acceptable")


async def scenario_invite(args):
    """Registration that needs an invitation: refused without a token,
    accepted with one in the data form, refused when the token is used
    again."""
    local = "invited" + token()
    await register(args, local, "invited-password", legacy_fields(local, "invited-password"), want="not-allowed")
    ok("registration without a token is refused with not-allowed")
    c = await register(args, local, "invited-password", data_form(local, "invited-password", args.token))
    ok("registered %s with the token in the data form, and logged in" % local)
    await c.stop()
    again = "again" + token()
    await register(args, again, "again-password", data_form(again, "again-password", args.token), want="forbidden")
    ok("the used token is refused with forbidden")
    print("registered: %s" % local, flush=True)


SCENARIOS = {"open": scenario_open, "invite": scenario_invite}


def arguments(p):
    p.add_argument("--token", default="", help="invitation token (scenario invite)")


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:], arguments))
