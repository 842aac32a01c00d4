#!/usr/bin/env python3
"""Render the JSON lines of bench/compare.sh as a markdown table.

usage: render.py RESULTS.jsonl [--mode M] [--date D] [--machine M] [--cert C]
                 [--servers a,b,c] [--version NAME=TEXT ...] [--command C]
                 [--elapsed SECONDS] [--fd-limit N]

Each input line is one parley-bench run with a "case" field added by
compare.sh, or a placeholder {"case", "server", "na": why} / {"failed": why}.

WebSocket cases (ws-chat, ws-idle-N) also show the same server's figure
from their TCP twin (chat-sat, idle-N) and the ratio of the two;
chat-sat-archive (parley with its compliance archive on) shows chat-sat's
figure, what the archive adds to each message's server CPU, and the
archive's size and verification speed. With compare.sh -rounds N, the
lines of rounds 2..N carry "round": their section shows the median of
each figure over the rounds, and a note lists the rounds.
"""

import argparse
import json
import statistics
import sys

NAMES = {"parley": "parley", "prosody": "Prosody", "ejabberd": "ejabberd"}

# Rows of a case: (field, label, better), better being "high", "low" or
# None (no ratio column); ratios are always parley / peer.
LOGIN_ROWS = [
    ("logins_per_cpu_s", "logins per server CPU-second", "high"),
    ("logins_per_s", "logins per second", "high"),
    ("p99_ms", "login time p99, ms", "low"),
]
IDLE_ROWS = [
    ("rss_per_conn_kib", "server memory per connection, KiB", "low"),
    ("rss_after_kib", "server RSS with them, MiB", "low"),
]
CHAT_RATE_ROWS = [
    ("offered", "offered messages per second", None),
    ("msgs_per_s", "messages per second delivered", "high"),
    ("msgs_per_cpu_s", "messages per server CPU-second", "high"),
    ("p50_ms", "latency p50, ms", "low"),
    ("p99_ms", "latency p99, ms", "low"),
    ("p999_ms", "latency p99.9, ms", "low"),
    ("lost", "messages lost", None),
]
MUC_ROWS = [
    ("deliveries_per_cpu_s", "deliveries per server CPU-second", "high"),
    ("deliveries_per_s", "deliveries per second", "high"),
    ("p99_ms", "latency p99, ms", "low"),
]
PEP_ROWS = [
    ("notifications_per_cpu_s", "notifications per server CPU-second", "high"),
    ("notifications_per_s", "notifications per second", "high"),
    ("publishes_per_s", "publishes per second", "high"),
    ("p50_ms", "notification latency p50, ms", "low"),
    ("p99_ms", "notification latency p99, ms", "low"),
    ("lost", "notifications lost", None),
    ("duplicates", "notifications that arrived twice", None),
    ("misdirected", "notifications to resources without +notify", None),
]
# Rows of the WebSocket cases. "tcp:FIELD" is FIELD of the same server's
# run of the TCP twin case; "ws/tcp:FIELD" is the ratio of the two.
WS_CHAT_ROWS = [
    ("msgs_per_cpu_s", "messages per server CPU-second", "high"),
    ("tcp:msgs_per_cpu_s", "the same over TCP (chat-sat)", None),
    ("ws/tcp:msgs_per_cpu_s", "WebSocket ÷ TCP, messages per server CPU-second", None),
    ("msgs_per_s", "messages per second", "high"),
    ("p99_ms", "latency p99, ms", "low"),
]

# Rows of chat-sat-archive: "twin:FIELD" is FIELD of chat-sat (the archive
# off), "cost:FIELD" the server CPU per message with it on ÷ off − 1.
ARCHIVE_ROWS = [
    ("msgs_per_cpu_s", "messages per server CPU-second, archive on", None),
    ("twin:msgs_per_cpu_s", "the same with the archive off (chat-sat)", None),
    ("cost:msgs_per_cpu_s", "server CPU per message, archive on ÷ off − 1", None),
    ("msgs_per_s", "messages per second", None),
    ("p99_ms", "latency p99, ms", None),
    ("archive_records", "records in the archive (warm-ups, drains and earlier rounds included)", None),
    ("archive_bytes_per_msg", "archive bytes per message (segment files ÷ records)", None),
    ("verify_records_per_s", "`parley archive verify`, records per second", None),
    ("verify_s", "`parley archive verify`, seconds", None),
]
# The most the archive may add to a message's server CPU.
ARCHIVE_BUDGET = 0.25


def ws_idle_rows(n):
    return [
        ("rss_per_conn_kib", "server memory per WebSocket connection, KiB", "low"),
        ("tcp:rss_per_conn_kib", f"server memory per TCP connection (idle-{n}), KiB", None),
        ("ws/tcp:rss_per_conn_kib", "WebSocket ÷ TCP, memory per connection", None),
        ("rss_after_kib", "server RSS with them, MiB", "low"),
    ]


FIXED = {
    "login-scram": ("Login, SCRAM-SHA-1", LOGIN_ROWS),
    "login-plain": ("Login, PLAIN", LOGIN_ROWS),
    "presence": ("Presence storm", [
        ("presences_per_cpu_s", "presences per server CPU-second", "high"),
        ("presences_per_s", "presences per second", "high"),
        ("complete_s", "time until every presence arrived, s", "low"),
    ]),
    "chat-sat": ("One-to-one chat, closed loop (saturation)", [
        ("msgs_per_cpu_s", "messages per server CPU-second", "high"),
        ("msgs_per_s", "messages per second", "high"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    "resume": ("Resume storm: every session's connection cut, all resumed at once", [
        ("resumes_per_cpu_s", "resumes per server CPU-second", "high"),
        ("resumes_per_s", "resumes per second", "high"),
        ("p99_ms", "resume time p99, ms", "low"),
    ]),
    "chat-sat-archive": ("One-to-one chat with parley's compliance archive on, closed loop (saturation)",
                         ARCHIVE_ROWS),
    "ws-chat": ("One-to-one chat over WebSocket, closed loop (saturation)", WS_CHAT_ROWS),
    "chat-own": ("One-to-one chat at half of each server's own saturation rate",
                 CHAT_RATE_ROWS),
    "chat-rate": ("One-to-one chat at half of parley's saturation rate", CHAT_RATE_ROWS),
}


def describe(case):
    """Title and rows of a case name, or None."""
    if case in FIXED:
        return FIXED[case]
    if case.startswith("ws-idle-") and case[len("ws-idle-"):].isdigit():
        n = int(case[len("ws-idle-"):])
        return (f"Idle WebSocket connections, {n:,}", ws_idle_rows(n))
    kind, _, n = case.partition("-")
    if n.isdigit():
        n = int(n)
        if kind == "idle":
            return (f"Idle connections, {n:,}", IDLE_ROWS)
        if kind == "muc":
            return (f"Group chat, rooms of {n:,} occupants", MUC_ROWS)
        if kind == "pep":
            return (f"Personal eventing: one publish to {n:,} contacts' +notify resources", PEP_ROWS)
    return None


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, Ratio):
        return f"{v:.2g}×" if v < 0.1 else f"{v:.2f}×"
    if isinstance(v, Percent):
        return f"{v * 100:+.1f}%"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    a = abs(v)
    if a >= 99.95:
        return f"{v:,.0f}"
    if a >= 9.995:
        return f"{v:.1f}"
    if a >= 0.9995 or a == 0:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Ratio(float):
    """A ratio shown as 0.62×."""


class Percent(float):
    """A fraction shown as +23.4%."""


def ratio(p, q):
    if not isinstance(p, (int, float)) or not isinstance(q, (int, float)):
        return "–"
    if q == 0:
        return "–" if p == 0 else "∞"
    r = p / q
    return f"{r:.2g}×" if r < 0.1 else f"{r:.2f}×"


LATENCY = ("p50_ms", "p99_ms", "p999_ms")


def tcp_twin(case):
    """The case a case is shown beside (a WebSocket case's TCP twin, the
    archive case's run without the archive), or None."""
    if case in ("ws-chat", "chat-sat-archive"):
        return "chat-sat"
    if case.startswith("ws-"):
        return case[len("ws-"):]
    return None


def measured(rec):
    return rec is not None and "na" not in rec and "failed" not in rec


def value(rec, field, twin=None):
    """field of rec; "tcp:F", "twin:F", "ws/tcp:F" and "cost:F" read F of
    the twin's record too."""
    if field.startswith(("tcp:", "twin:")):
        f = field.partition(":")[2]
        return value(twin, f) if measured(twin) else None
    if field.startswith("cost:"):
        # F is work per CPU-second: CPU per unit of work with rec ÷ with
        # the twin, less one (over several rounds: the median of each
        # round's, see merge_rounds).
        if "cost" in rec:
            return Percent(rec["cost"])
        f = field[len("cost:"):]
        w, t = value(rec, f), value(twin, f) if measured(twin) else None
        if not isinstance(w, (int, float)) or not isinstance(t, (int, float)) or w == 0:
            return None
        return Percent(t / w - 1)
    if field.startswith("ws/tcp:"):
        f = field[len("ws/tcp:"):]
        w, t = value(rec, f), value(twin, f) if measured(twin) else None
        if not isinstance(w, (int, float)) or not isinstance(t, (int, float)) or t == 0:
            return None
        return Ratio(w / t)
    if field == "offered":
        p = rec.get("params")
        return p.get("rate") if isinstance(p, dict) else None
    if field in LATENCY and 0 in (rec.get("delivered"), rec.get("deliveries"), rec.get("notifications")):
        return None  # nothing arrived: no latency to show
    v = rec.get(field)
    if field == "rss_after_kib" and isinstance(v, (int, float)):
        return v / 1024
    if isinstance(v, int) and not isinstance(v, bool) and field not in ("lost", "offered", "misdirected", "duplicates"):
        return float(v)  # a measurement that happens to be whole
    return v


def merge_rounds(recs, rounds, case, server):
    """The records of case and of its twin for server over every round
    (round 1 in recs, the others in rounds), merged into one each: the
    median of every number, and for case the median of the rounds'
    costs ("cost"). Returns (merged, merged twin, [(round, twin, rec)])
    or None when there is one round."""
    twin = tcp_twin(case)
    pairs = [(1, recs.get((twin, server)), recs.get((case, server)))]
    ons = {r.get("round"): r for r in rounds.get((case, server), [])}
    offs = {r.get("round"): r for r in rounds.get((twin, server), [])}
    pairs += [(k, offs.get(k), ons[k]) for k in sorted(ons)]
    pairs = [(k, off, on) for k, off, on in pairs if measured(off) and measured(on)]
    if len(pairs) < 2:
        return None

    def median_of(rs):
        out = dict(rs[-1])
        for key, v in rs[-1].items():
            vs = [r.get(key) for r in rs]
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vs):
                out[key] = statistics.median(vs)
        out.pop("round", None)
        return out

    on = median_of([p[2] for p in pairs])
    off = median_of([p[1] for p in pairs])
    costs = [value(p[2], "cost:msgs_per_cpu_s", p[1]) for p in pairs]
    on["cost"] = statistics.median(c for c in costs if c is not None)
    on["rounds"] = len(pairs)
    return on, off, pairs


def params_text(runs):
    """The parameters of one case's runs [(server, record)]: the shared
    ones, then those that differ between servers (rate, sources)."""
    ps = [(s, r["params"]) for s, r in runs if isinstance(r.get("params"), dict)]
    if not ps:
        return ""
    keys = [k for k in ps[0][1] if k != "sources"]
    same = [k for k in keys if all(p.get(k) == ps[0][1][k] for _, p in ps)]
    text = ", ".join(f"{k} {ps[0][1][k]}" for k in same)
    for k in keys:
        if k not in same:
            text += f"; {k} " + ", ".join(f"{p.get(k)} ({NAMES.get(s, s)})" for s, p in ps)
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--mode", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--machine", default="")
    ap.add_argument("--cert", default="")
    ap.add_argument("--servers", default="parley,prosody,ejabberd")
    ap.add_argument("--version", action="append", default=[])
    ap.add_argument("--command", default="")
    ap.add_argument("--elapsed", default="")
    ap.add_argument("--fd-limit", default="20,000")
    a = ap.parse_args()

    recs, rounds, order = {}, {}, []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("round", 1) > 1:
                rounds.setdefault((r.get("case"), r.get("server")), []).append(r)
                continue
            recs[(r.get("case"), r.get("server"))] = r
            if r.get("case") not in order and describe(r.get("case")):
                order.append(r.get("case"))
    servers = [s for s in a.servers.split(",") if s]
    versions = dict(v.split("=", 1) for v in a.version)
    peers = [s for s in servers if s != "parley"]
    show_ratio = "parley" in servers

    out = []
    w = out.append
    title = "parley, Prosody and ejabberd compared"
    w(f"# {title}" + (f" ({a.mode} run)" if a.mode else ""))
    w("")
    if a.date:
        w(f"- Date: {a.date}")
    if a.machine:
        w(f"- Machine: {a.machine}")
    for s in servers:
        if s in versions:
            w(f"- {NAMES.get(s, s)}: {versions[s]}")
    if a.cert:
        w(f"- Certificate: {a.cert}")
    if a.command:
        w(f"- Command: `{a.command}`")
    if a.elapsed:
        w(f"- Measuring took {a.elapsed} s (building, start-up and account creation not included)")
    w("")
    w("Figures per server CPU-second divide the work done by the CPU time")
    w("(user + system) that the server process used in the measured phase:")
    w("they are the fair figures on a small shared machine where the load")
    w("generator competes with the server for the same cores. Ratios are")
    w("parley ÷ peer: above 1 means parley does more work (throughput rows)")
    w("or takes more time or memory (latency and memory rows).")
    w("")

    head = ["Figure"] + [NAMES.get(s, s) for s in servers]
    if show_ratio:
        head += [f"parley ÷ {NAMES.get(p, p)}" for p in peers]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))

    notes = []
    # Cases measured in rounds: the merged records and their twins'.
    merged, twins = {}, {}
    for case in order:
        for s in servers:
            m = merge_rounds(recs, rounds, case, s)
            if m is None:
                continue
            merged[(case, s)], twins[(case, s)] = m[0], m[1]
            title = describe(case)[0]
            notes.append(f"{title}, {NAMES.get(s, s)}: the median of {len(m[2])} rounds, each "
                         f"{tcp_twin(case)} then {case}; messages per server CPU-second off → on, cost per round: "
                         + "; ".join(f"{fmt(value(off, 'msgs_per_cpu_s'))} → {fmt(value(on, 'msgs_per_cpu_s'))}, "
                                     f"{fmt(value(on, 'cost:msgs_per_cpu_s', off))}" for _, off, on in m[2]) + ".")
    for case in order:
        title, rows = describe(case)
        n = max((m["rounds"] for k, m in merged.items() if k[0] == case), default=0)
        if n:
            title += f", median of {n} rounds"
        present = [merged.get((case, s), recs.get((case, s))) for s in servers]
        w("| **" + title + "** |" + " |" * (len(head) - 1))
        for field, label, better in rows:
            cells, vals = [], {}
            for s, r in zip(servers, present):
                if r is None:
                    cells.append("–")
                elif "na" in r:
                    cells.append("n/a")
                elif "failed" in r:
                    cells.append("failed")
                else:
                    v = value(r, field, twins.get((case, s), recs.get((tcp_twin(case), s))))
                    vals[s] = v
                    cells.append(fmt(v))
            if show_ratio:
                for p in peers:
                    cells.append(ratio(vals.get("parley"), vals.get(p)) if better else "")
            w(f"| {label} | " + " | ".join(cells) + " |")
        for s, r in zip(servers, present):
            if not r:
                continue
            if "na" in r:
                notes.append(f"{title}, {NAMES.get(s, s)}: n/a, {r['na']}.")
            elif "failed" in r:
                notes.append(f"{title}, {NAMES.get(s, s)}: the run failed ({r['failed']}).")
            else:
                if r.get("errors"):
                    n = r["errors"]
                    notes.append(f"{title}, {NAMES.get(s, s)}: {n} error{'' if n == 1 else 's'} during the run.")
                if r.get("timed_out"):
                    notes.append(f"{title}, {NAMES.get(s, s)}: the run hit its time limit while measuring.")
                if r.get("misdirected"):
                    notes.append(f"{title}, {NAMES.get(s, s)}: {r['misdirected']} notifications reached "
                                 "resources whose capabilities lack +notify.")
                if r.get("verify_failed"):
                    notes.append(f"{title}, {NAMES.get(s, s)}: `parley archive verify` failed "
                                 f"({r['verify_failed']}).")
                if case == "chat-sat-archive":
                    cost = value(r, "cost:msgs_per_cpu_s", twins.get((case, s), recs.get((tcp_twin(case), s))))
                    if isinstance(cost, float):
                        verdict = "within" if cost <= ARCHIVE_BUDGET else "over"
                        notes.append(f"{title}: the archive adds {cost * 100:+.1f}% server CPU per message, "
                                     f"{verdict} the budget of +{ARCHIVE_BUDGET * 100:.0f}%.")
                if r.get("incomplete_users"):
                    notes.append(f"{title}, {NAMES.get(s, s)}: {r['incomplete_users']} users did not get "
                                 "every contact's presence.")

    w("")
    w("Parameters of each case:")
    w("")
    for case in order:
        title = describe(case)[0]
        runs = [(s, recs[(case, s)]) for s in servers if (case, s) in recs]
        text = params_text(runs)
        if text:
            scen = next(r.get("scenario", "") for _, r in runs)
            w(f"- {title}: `{scen}` with {text}")
    w("")
    w("Idle connections stop at 10,000: every process here, servers and")
    w(f"generator alike, has a hard limit of {a.fd_limit} open files, so")
    w("50,000 connections cannot be held on this machine.")
    if notes:
        w("")
        w("Notes:")
        w("")
        for n in notes:
            w(f"- {n}")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
