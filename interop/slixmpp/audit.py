#!/usr/bin/python3
"""Scenarios for the audit log, driven with slixmpp.

Each scenario prints one "ok: ..." line per check and "PASS <scenario>",
and exits 0; on the first failed check it prints "FAIL <scenario>: <what
went wrong>" and exits 1. What the server recorded is checked by the Go
test that runs the script.

Usage:
    audit.py --host 127.0.0.1 --port 5222 --domain localhost SCENARIO
"""

import sys

import checks
from checks import Failure, ok


async def scenario_wrong_passwords(args):
    """A client tries to log in several times, each time with a wrong
    password; every attempt is refused."""
    for i in range(args.attempts):
        password = "%s-wrong-%d" % (args.password, i)
        c = checks.Client("%s@%s" % (args.user, args.domain), password, (), name="attempt %d" % (i + 1))
        c.connect((args.host, args.port), force_starttls=True)
        try:
            await c.wait_started()
        except Failure as e:
            ok("%s refused (%s)" % (c.name, e))
            c.disconnect(wait=0)
            continue
        await c.stop()
        raise Failure("%s logged in with a wrong password" % c.name)


SCENARIOS = {
    "wrong-passwords": scenario_wrong_passwords,
}


def add_arguments(p):
    p.add_argument("--attempts", type=int, default=5, help="how many logins to try (default %(default)s)")


if __name__ == "__main__":
    sys.exit(checks.main(__doc__, SCENARIOS, sys.argv[1:], add_arguments))
