#!/usr/bin/python3
"""A file transfer between two slixmpp clients through parley's SOCKS5
bytestreams proxy (XEP-0065), with slixmpp's own xep_0065 plugin.

alice finds the proxy in her server's service discovery items, offers bob
a bytestream through it, and once bob has connected to the proxy, connects
herself, activates the bytestream and sends SIZE random bytes. bob answers
with the SHA-256 of what he received, which alice checks. Prints one
"ok: ..." line per step and "PASS", or "FAIL: <why>" and exits 1.

The server's certificate is self-signed, so certificate verification is
turned off: this tests the protocol, not the PKI.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import ssl
import sys

import slixmpp

STEP_TIMEOUT = 30


class Failure(Exception):
    """A check failed; the message says which and why."""


def ok(msg):
    print("ok: " + msg, flush=True)


async def expect(fut, what, timeout=STEP_TIMEOUT):
    try:
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        raise Failure("timed out after %ds waiting for %s" % (timeout, what)) from None


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, name):
        super().__init__(jid, password)
        self.name = name
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0065", {"auto_accept": True})
        self.started = self.loop.create_future()
        self.received = bytearray()
        self.data = asyncio.Queue()
        self.stream = self.loop.create_future()
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_all_auth", lambda _: self._fail("authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self._fail("connection failed: %s" % e))
        self.add_event_handler("socks5_stream", self._on_stream)
        self.add_event_handler("socks5_data", self._on_data)

    def _on_start(self, _event):
        if not self.started.done():
            self.started.set_result(True)
        self.send_presence()

    def _fail(self, why):
        if not self.started.done():
            self.started.set_exception(Failure("%s: %s" % (self.name, why)))

    def _on_stream(self, conn):
        if not self.stream.done():
            self.stream.set_result(conn)

    def _on_data(self, data):
        self.data.put_nowait(bytes(data))


async def run(args):
    alice = Client("%s@%s/desk" % (args.user, args.domain), args.password, "alice")
    bob = Client("%s@%s/pc" % (args.peer, args.domain), args.peer_password, "bob")
    for c in (alice, bob):
        c.connect((args.host, args.port), force_starttls=True)
    try:
        for c in (alice, bob):
            await expect(c.started, "%s to log in" % c.name)
        ok("alice and bob logged in")

        proxies = await expect(alice["xep_0065"].discover_proxies(timeout=STEP_TIMEOUT), "proxy discovery")
        if args.proxy not in proxies:
            raise Failure("the proxy %s is not among the discovered proxies %s" % (args.proxy, proxies))
        host, port = proxies[args.proxy]
        ok("found the proxy %s at %s:%s" % (args.proxy, host, port))

        # Initiator side: offer, connect, activate (slixmpp's handshake).
        sock = await expect(alice["xep_0065"].handshake(bob.boundjid, timeout=STEP_TIMEOUT), "the bytestream")
        if sock is None:
            raise Failure("the bytestream handshake failed")
        await expect(bob.stream, "bob's side of the bytestream")
        ok("bytestream activated")

        payload = os.urandom(args.size)
        want = hashlib.sha256(payload).hexdigest()

        async def receive():
            got = bytearray()
            while len(got) < len(payload):
                got += await bob.data.get()
            return bytes(got)

        receiving = asyncio.ensure_future(receive())
        for i in range(0, len(payload), 65536):
            await sock.write(payload[i:i + 65536])
        got = await expect(receiving, "bob to receive %d bytes" % len(payload))
        if got != payload:
            raise Failure("bob received %d bytes that differ from the %d sent" % (len(got), len(payload)))
        ok("bob received %d bytes intact" % len(got))

        conn = bob.stream.result()
        await conn.write(hashlib.sha256(got).hexdigest().encode())
        answer = bytearray()
        while len(answer) < 64:
            answer += await expect(alice.data.get(), "bob's answer")
        if answer.decode() != want:
            raise Failure("alice got the digest %r, want %r" % (answer.decode(), want))
        ok("alice received bob's answer through the proxy")
        sock.transport.close()
    finally:
        for c in (alice, bob):
            try:
                await asyncio.wait_for(c.disconnect(wait=2), 5)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--domain", default="localhost")
    p.add_argument("--proxy", required=True, help="the proxy's JID")
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="alice-pw")
    p.add_argument("--peer", default="bob")
    p.add_argument("--peer-password", default="bob-pw")
    p.add_argument("--size", type=int, default=3 << 20, help="bytes to send")
    p.add_argument("--debug", action="store_true", help="log the XML exchanged")
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(run(args), 90))
    except Failure as e:
        print("FAIL: %s" % e, flush=True)
        return 1
    except asyncio.TimeoutError:
        print("FAIL: did not finish within 90s", flush=True)
        return 1
    finally:
        # Let slixmpp's background tasks end quietly.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
