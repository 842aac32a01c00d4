#!/usr/bin/env bash
# bench/compare.sh: measure parley, Prosody and ejabberd side by side with
# the project's load generator (cmd/parley-bench) and write a markdown
# table to bench/results/DATE.md. See bench/README.md.
#
#   bash bench/compare.sh [-quick] [-cert rsa|ecdsa] [-profile] [-keep]
#                         [-servers parley,prosody,ejabberd] [-only CASES]
#                         [-archive]
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bash bench/compare.sh [options]

  -quick             smaller parameters: the whole run takes a few minutes
  -cert rsa|ecdsa    certificate key of all three servers: RSA-2048 (default)
                     or ECDSA P-256
  -servers LIST      comma-separated subset of parley,prosody,ejabberd
  -only CASES        comma-separated subset of the cases: login-scram,
                     login-plain, idle-1000, idle-10000 (not with -quick),
                     ws-idle-1000, ws-idle-10000 (not with -quick),
                     presence, muc-10, muc-100, muc-200 (-quick) or
                     muc-500, pep-10, pep-100, chat-sat, chat-sat-archive,
                     ws-chat, chat-own, chat-rate
                     (chat-own and chat-rate need chat-sat), resume (with
                     -modern); ws-idle stands for every ws-idle-N
  -archive           also run chat-sat-archive (as naming it in -only
                     does): parley's chat-sat again with its compliance
                     archive on, then the archive's bytes per message and
                     the speed of "parley archive verify" on it
  -rounds N          with chat-sat-archive: measure parley's chat-sat and
                     chat-sat-archive N times in turn (default 1); the
                     table shows the medians
  -profile           enable parley's pprof listener (127.0.0.1:16060) and
                     save a CPU profile of parley during each chat and
                     pep run and a heap profile while each idle run holds
                     its connections
  -prosody-gc MODE   Prosody's Lua garbage collector: generational (default,
                     about twice as fast as Prosody's own default here) or
                     incremental (Prosody 0.12's default)
  -modern            today's messaging on every server: message archive
                     (XEP-0313) archiving every message, carbons (XEP-0280)
                     and stream management (XEP-0198) on; the chat cases
                     enable carbons (with a second session per user that
                     receives the copies) and stream management with acks
  -ibr               create the Prosody and ejabberd accounts with in-band
                     registration (XEP-0077, slow) instead of writing them
                     into the servers' storage at start-up
  -keep              keep the temporary work directory (configs, logs)
  -out FILE          markdown output (default bench/results/DATE.md)
  -h                 this help

Needs root (or sudo) only to install the Debian packages prosody,
ejabberd, lua-event, lua-unbound, jq and openssl when they are missing.
EOF
}

QUICK=0
MODERN=0
ARCHIVE=0
ROUNDS=1
IBR=0
PROSODY_GC=generational
CERT_TYPE=rsa
PROFILE=0
KEEP=0
SERVERS="parley,prosody,ejabberd"
ONLY=""
OUT=""
CMDLINE="bash bench/compare.sh${*:+ $*}"
while [ $# -gt 0 ]; do
	case $1 in
	-quick | --quick) QUICK=1 ;;
	-modern | --modern) MODERN=1 ;;
	-archive | --archive) ARCHIVE=1 ;;
	-rounds | --rounds)
		ROUNDS=${2:?-rounds needs a number}
		shift
		;;
	-cert | --cert)
		CERT_TYPE=${2:?-cert needs rsa or ecdsa}
		shift
		;;
	-servers | --servers)
		SERVERS=${2:?-servers needs a list}
		shift
		;;
	-only | --only)
		ONLY=${2:?-only needs a list}
		shift
		;;
	-profile | --profile) PROFILE=1 ;;
	-keep | --keep) KEEP=1 ;;
	-ibr | --ibr) IBR=1 ;;
	-prosody-gc | --prosody-gc)
		PROSODY_GC=${2:?-prosody-gc needs generational or incremental}
		shift
		;;
	-out | --out)
		OUT=${2:?-out needs a file}
		shift
		;;
	-h | -help | --help)
		usage
		exit 0
		;;
	*)
		echo "compare.sh: unknown option $1" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done
case $PROSODY_GC in
generational | incremental) ;;
*)
	echo "compare.sh: -prosody-gc must be generational or incremental" >&2
	exit 2
	;;
esac
case $ROUNDS in
'' | *[!0-9]* | 0*)
	echo "compare.sh: -rounds must be a whole number from 1" >&2
	exit 2
	;;
esac
case $CERT_TYPE in
rsa | ecdsa) ;;
*)
	echo "compare.sh: -cert must be rsa or ecdsa" >&2
	exit 2
	;;
esac

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DOMAIN=bench.test
MUC_DOMAIN=conference.bench.test
PASSWORD=bench-pw
declare -A ADDR=([parley]=127.0.0.11 [prosody]=127.0.0.12 [ejabberd]=127.0.0.13)
# XMPP over WebSocket (RFC 7395), plain HTTP on each server's address.
WS_PORT=5280
declare -A WS_URL=([parley]=ws://127.0.0.11:$WS_PORT/xmpp-websocket
	[prosody]=ws://127.0.0.12:$WS_PORT/xmpp-websocket
	[ejabberd]=ws://127.0.0.13:$WS_PORT/ws)
# Client source addresses, one range per server, so that sockets left in
# TIME_WAIT by one server's runs never get in the way of another's.
declare -A SOURCES=([parley]=127.0.1.1-127.0.1.250 [prosody]=127.0.2.1-127.0.2.250 [ejabberd]=127.0.3.1-127.0.3.250)
declare -A PID=()
ALL_SERVERS=(parley prosody ejabberd)
RUN_SERVERS=()
for s in "${ALL_SERVERS[@]}"; do
	case ",$SERVERS," in *",$s,"*) RUN_SERVERS+=("$s") ;; esac
done
if [ ${#RUN_SERVERS[@]} -eq 0 ]; then
	echo "compare.sh: -servers names none of parley,prosody,ejabberd" >&2
	exit 2
fi

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
want() {
	# chat-sat-archive only when asked for: -archive, or named in -only.
	if [ "$1" = chat-sat-archive ]; then
		[ "$ARCHIVE" = 1 ] && return 0
		case ",$ONLY," in *",chat-sat-archive,"*) return 0 ;; esac
		return 1
	fi
	[ -z "$ONLY" ] && return 0
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	# ws-idle: every ws-idle-N case
	case $1 in ws-idle-*) case ",$ONLY," in *",ws-idle,"*) return 0 ;; esac ;; esac
	return 1
}
running() { [[ " ${RUN_SERVERS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- parameters

# USERS accounts user1..userN (password bench-pw) exist on every server.
# MUC_CASES: "OCCUPANTS ROOMS" per group-chat case.
if [ "$QUICK" = 1 ]; then
	MODE=quick
	USERS=1000
	LOGINS=500
	IDLE_CASES=(1000)
	RESUME_CONNS=1000
	CHAT_PAIRS=50 CHAT_DUR=4s CHAT_WARM=1s
	MUC_DUR=4s MUC_WARM=1s
	MUC_CASES=("10 5" "100 1" "200 1")
	PEP_DUR=4s PEP_WARM=1s
	PEP_CASES=("10 5" "100 5")
	PRES_USERS=200 PRES_CONTACTS=10
	RUN_TIMEOUT=3m
else
	MODE=full
	USERS=10000
	LOGINS=5000
	IDLE_CASES=(1000 10000)
	RESUME_CONNS=5000
	CHAT_PAIRS=100 CHAT_DUR=20s CHAT_WARM=3s
	MUC_DUR=15s MUC_WARM=3s
	MUC_CASES=("10 10" "100 2" "500 1")
	PEP_DUR=15s PEP_WARM=3s
	PEP_CASES=("10 10" "100 10")
	PRES_USERS=1000 PRES_CONTACTS=20
	RUN_TIMEOUT=10m
fi
[ "$MODERN" = 1 ] && MODE="$MODE, modern messaging (archive, carbons, stream management)"
CHAT_WINDOW=10
MUC_SENDERS=2
MUC_WINDOW=5
# PEP_CASES: "CONTACTS PUBLISHERS" per personal eventing case. The
# publishers share their contacts; each contact has a +notify resource
# and PEP_QUIET resources without; publishers have PEP_WINDOW publishes
# outstanding. The accounts come after the presence case's, whose
# rosters would otherwise add contacts.
PEP_WINDOW=2
PEP_QUIET=1
PEP_FIRST=$((PRES_USERS + 1))

# Every case name of this run, so that -only cannot name one that would
# silently not run.
CASES=(login-scram login-plain presence chat-sat chat-sat-archive ws-chat chat-own chat-rate resume ws-idle)
for n in "${IDLE_CASES[@]}"; do CASES+=("idle-$n" "ws-idle-$n"); done
for m in "${MUC_CASES[@]}"; do CASES+=("muc-${m%% *}"); done
for m in "${PEP_CASES[@]}"; do CASES+=("pep-${m%% *}"); done
if [ -n "$ONLY" ]; then
	IFS=, read -r -a only_list <<<"$ONLY"
	for c in "${only_list[@]}"; do
		[[ " ${CASES[*]} " == *" $c "* ]] || die "-only: no case $c in this run (cases: ${CASES[*]})"
	done
fi

# ---------------------------------------------------------------- cleanup

WORK=""
cleanup() {
	local rc=$? s p i
	trap - EXIT INT TERM
	for s in "${!PID[@]}"; do
		p=${PID[$s]}
		kill -TERM "$p" 2>/dev/null || continue
	done
	for s in "${!PID[@]}"; do
		p=${PID[$s]}
		for i in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$p" 2>/dev/null; then
			log "$s (pid $p) did not stop in 10 s: killing it"
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then
			log "work directory kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- packages

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root to run: $*"
	fi
}

install_packages() {
	local need=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${need[*]}"
	as_root apt-get update -qq
	# policy-rc.d or not: the packaged services are never used here; each
	# server is started below as our own process with its own config.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

PKGS=(jq openssl curl)
running prosody && PKGS+=(prosody lua-event lua-unbound)
running ejabberd && PKGS+=(ejabberd)
install_packages "${PKGS[@]}"
command -v go >/dev/null || die "go not found (Go 1.26 is needed to build parley)"
command -v python3 >/dev/null || die "python3 not found (renders the table)"

# Every server and the generator may hold more than 10,000 sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)

# ---------------------------------------------------------------- build

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-compare.XXXXXX")
log "work directory $WORK"
cd "$REPO"
log "building parley and parley-bench"
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/parley" ./cmd/parley
go build -o "$WORK/bin/parley-bench" ./cmd/parley-bench
BENCH=$WORK/bin/parley-bench

# ---------------------------------------------------------------- certificate

CERT=$WORK/cert.pem
KEY=$WORK/key.pem
if [ "$CERT_TYPE" = rsa ]; then
	KEYARGS=(-newkey rsa:2048)
	CERT_DESC="RSA-2048, self-signed"
else
	KEYARGS=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
	CERT_DESC="ECDSA P-256, self-signed"
fi
openssl req -x509 "${KEYARGS[@]}" -nodes -sha256 -days 30 \
	-keyout "$KEY" -out "$CERT" -subj "/CN=$DOMAIN" \
	-addext "subjectAltName=DNS:$DOMAIN,DNS:$MUC_DOMAIN" 2>/dev/null
chmod 644 "$KEY" "$CERT"

# ---------------------------------------------------------------- configs

# What -modern adds to each peer's configuration.
PROSODY_MODERN=""
EJABBERD_MODERN=""
if [ "$MODERN" = 1 ]; then
	PROSODY_MODERN='"mam"; "carbons"; "smacks";'
	EJABBERD_MODERN='mod_mam: {default: always}\n  mod_carboncopy: {}\n  mod_stream_mgmt: {max_ack_queue: 10000, resend_on_timeout: if_offline}'
fi

fill() { # TEMPLATE SERVER OUT
	sed -e "s|@DIR@|$WORK/$2|g" -e "s|@ADDR@|${ADDR[$2]}|g" \
		-e "s|@PROSODY_MODERN@|$PROSODY_MODERN|g" -e "s|@EJABBERD_MODERN@|$EJABBERD_MODERN|g" \
		-e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" \
		-e "s|@DOMAIN@|$DOMAIN|g" -e "s|@MUC_DOMAIN@|$MUC_DOMAIN|g" \
		-e "s|@PROSODY_GC@|$PROSODY_GC|g" "$1" >"$3"
}

mkdir -p "$WORK/parley" "$WORK/prosody/data" "$WORK/prosody/certs" \
	"$WORK/ejabberd/spool" "$WORK/ejabberd/logs"

cat >"$WORK/parley/config.toml" <<EOF
[server]
domains = ["$DOMAIN"]

[storage]
sqlite = "$WORK/parley/parley.db"

[tls]
cert = "$CERT"
key = "$KEY"

[c2s]
listen = "${ADDR[parley]}:5222"
direct_tls_listen = ""
max_stanza_size = 1048576

[http]
listen = "${ADDR[parley]}:$WS_PORT"

[muc]
domain = "$MUC_DOMAIN"
lock_new_rooms = false
max_rooms_per_user = 0
max_occupants = 2000
history_length = 0

[muc.default_room]
persistent = false
history = false
logging = false

[log]
level = "warn"
EOF
if [ "$PROFILE" = 1 ]; then
	printf '\n[debug]\npprof_listen = "127.0.0.1:16060"\n' >>"$WORK/parley/config.toml"
fi
if [ "$MODERN" = 1 ]; then
	printf '\n[mam]\nenabled = true\ndefault = "always"\n' >>"$WORK/parley/config.toml"
fi
fill "$BENCH_DIR/prosody.cfg.lua.tmpl" prosody "$WORK/prosody/prosody.cfg.lua"
fill "$BENCH_DIR/ejabberd.yml.tmpl" ejabberd "$WORK/ejabberd/ejabberd.yml"

# ---------------------------------------------------------------- start

port_open() { # ADDR PORT
	timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

wait_listen() { # SERVER
	local s=$1 i
	for i in $(seq 1 120); do
		if ! kill -0 "${PID[$s]}" 2>/dev/null; then
			log "$s exited; its output:"
			tail -n 30 "$WORK/$s/stdout" >&2 || true
			die "$s did not start"
		fi
		port_open "${ADDR[$s]}" 5222 && port_open "${ADDR[$s]}" "$WS_PORT" && return 0
		sleep 0.5
	done
	die "$s does not listen on ${ADDR[$s]}:5222 and :$WS_PORT after 60 s"
}

for s in "${RUN_SERVERS[@]}"; do
	for port in 5222 "$WS_PORT"; do
		port_open "${ADDR[$s]}" "$port" && die "${ADDR[$s]}:$port is already in use"
	done
done

# Accounts: user1..userN with password bench-pw, SCRAM-SHA-1 with 4096
# iterations and a salt of its own each, as parley stores them: the
# generator caches salted passwords per salt, so shared salts would make
# logins to one server cheaper for the generator than to another. parley:
# its own command. Prosody: its internal_hashed account files, written
# before it starts. ejabberd: ejabberd_auth:try_register in the running VM
# (see start_ejabberd). With -ibr the generator creates the peers' accounts
# with in-band registration instead.

# start_SERVER [again]: start SERVER; "again" restarts it on the data it
# has, without creating accounts.
start_parley() {
	local i
	if [ "${1:-}" != again ]; then
		log "parley: creating $USERS accounts (parley adduser -batch)"
		for i in $(seq 1 "$USERS"); do
			printf 'user%d@%s %s\n' "$i" "$DOMAIN" "$PASSWORD"
		done | "$WORK/bin/parley" adduser -config "$WORK/parley/config.toml" -batch >/dev/null
	fi
	"$WORK/bin/parley" serve -config "${PARLEY_CONFIG:-$WORK/parley/config.toml}" >>"$WORK/parley/stdout" 2>&1 &
	PID[parley]=$!
}

prosody_accounts() { # DIR N
	python3 - "$1" "$2" "$PASSWORD" <<'EOF'
import hashlib, hmac, os, sys, uuid
d, n, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
os.makedirs(d, exist_ok=True)
for i in range(1, n + 1):
    salt, it = str(uuid.uuid4()), 4096
    sp = hashlib.pbkdf2_hmac("sha1", pw, salt.encode(), it)
    stored = hashlib.sha1(hmac.new(sp, b"Client Key", "sha1").digest()).hexdigest()
    server = hmac.new(sp, b"Server Key", "sha1").hexdigest()
    with open(os.path.join(d, "user%d.dat" % i), "w") as f:
        f.write('return {\n\t["iteration_count"] = %d;\n\t["stored_key"] = "%s";\n'
                '\t["salt"] = "%s";\n\t["server_key"] = "%s";\n};\n' % (it, stored, salt, server))
EOF
}

start_prosody() {
	if [ "$IBR" = 0 ] && [ "${1:-}" != again ]; then
		log "prosody: writing $USERS account files"
		prosody_accounts "$WORK/prosody/data/${DOMAIN//./%2e}/accounts" "$USERS"
	fi
	# prosody is a Lua script: with -F it stays in the foreground, and the
	# PID of the background job is the Lua interpreter itself.
	prosody -F --config "$WORK/prosody/prosody.cfg.lua" >>"$WORK/prosody/stdout" 2>&1 &
	PID[prosody]=$!
}

start_ejabberd() {
	# Runs in the VM once ejabberd is up: registers user1..userN with
	# SCRAM records made here (ejabberd's own password hashing is plain
	# Erlang, about 20 ms per account); writes the outcome to accounts.done.
	local n=$USERS eval
	[ "$IBR" = 1 ] || [ "${1:-}" = again ] && n=0
	eval=$(
		cat <<EOF
spawn(fun() ->
  H = <<"$DOMAIN">>, P = <<"$PASSWORD">>, N = $n,
  Wait = fun W(0) -> timeout;
             W(K) -> case catch ejabberd_router:is_my_host(H) of
                       true -> ok;
                       _ -> timer:sleep(200), W(K - 1)
                     end
         end,
  Scram = fun() ->
    Salt = crypto:strong_rand_bytes(16),
    SP = crypto:pbkdf2_hmac(sha, P, Salt, 4096, 20),
    CK = crypto:mac(hmac, sha, SP, <<"Client Key">>),
    SK = crypto:mac(hmac, sha, SP, <<"Server Key">>),
    {scram, base64:encode(crypto:hash(sha, CK)), base64:encode(SK), base64:encode(Salt), sha, 4096}
  end,
  R = (catch case N of
    0 -> ok;
    _ ->
      ok = Wait(600),
      lists:foreach(fun(I) ->
          ok = ejabberd_auth:try_register(<<"user", (integer_to_binary(I))/binary>>, H, Scram())
        end, lists:seq(1, N))
  end),
  file:write_file("$WORK/ejabberd/accounts.done", io_lib:format("~p~n", [R]))
end).
EOF
	)
	# ejabberd without ejabberdctl: erl execs beam.smp, so the PID of the
	# background job is the Erlang VM. No distribution (no -sname, no
	# epmd): nothing listens but the c2s and HTTP ports. Schedulers do not
	# busy-wait (+sbwt none), so idle spinning is not counted as ejabberd's
	# CPU time nor taken from the other processes on this shared machine.
	(
		cd "$WORK/ejabberd/spool"
		export ERL_LIBS=/usr/lib/x86_64-linux-gnu
		export EJABBERD_CONFIG_PATH=$WORK/ejabberd/ejabberd.yml
		export EJABBERD_LOG_PATH=$WORK/ejabberd/logs/ejabberd.log
		export ERL_MAX_PORTS=65536
		export ERL_CRASH_DUMP=$WORK/ejabberd/logs/erl_crash.dump
		export ERL_CRASH_DUMP_BYTES=0
		exec erl -noinput +K true +P 1000000 +sbwt none +sbwtdcpu none +sbwtdio none \
			-start_epmd false -mnesia dir "\"$WORK/ejabberd/spool\"" -s ejabberd -eval "$eval"
	) >>"$WORK/ejabberd/stdout" 2>&1 &
	PID[ejabberd]=$!
	if [ "$n" -gt 0 ]; then
		log "ejabberd: registering $n accounts (ejabberd_auth:try_register)"
	fi
}

wait_ejabberd_accounts() {
	local i
	for i in $(seq 1 600); do
		if [ -s "$WORK/ejabberd/accounts.done" ]; then
			grep -qx ok "$WORK/ejabberd/accounts.done" ||
				die "ejabberd: creating accounts failed: $(head -c 300 "$WORK/ejabberd/accounts.done")"
			return 0
		fi
		kill -0 "${PID[ejabberd]}" 2>/dev/null || die "ejabberd exited; see $WORK/ejabberd/stdout"
		sleep 0.5
	done
	die "ejabberd: accounts not created after 300 s"
}

for s in "${RUN_SERVERS[@]}"; do
	log "starting $s on ${ADDR[$s]}:5222 and ${WS_URL[$s]}"
	"start_$s"
	wait_listen "$s"
	[ "$s" = ejabberd ] && wait_ejabberd_accounts
	log "$s listening (pid ${PID[$s]}, $(cat "/proc/${PID[$s]}/comm"))"
done

# stop_server SERVER: stop it (by process id) and wait for it.
stop_server() {
	local s=$1 p=${PID[$1]} i
	kill -TERM "$p" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		log "$s (pid $p) did not stop in 10 s: killing it"
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
	unset "PID[$s]"
}

# fresh_servers: restart every server on its data, so that an idle case
# measures memory on a server that has not held (and freed) connections
# before: a server reuses memory that earlier runs freed (Prosody's Lua
# heap and the C allocator keep it), which would hide part of what the
# case's connections cost.
fresh_servers() {
	local s
	for s in "${RUN_SERVERS[@]}"; do
		stop_server "$s"
		"start_$s" again
		wait_listen "$s"
		log "$s restarted (pid ${PID[$s]})"
	done
	sleep 2
}

# ---------------------------------------------------------------- versions

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
PARLEY_VER=$(go version -m "$WORK/bin/parley" 2>/dev/null | awk '$2 == "vcs.revision" { r = substr($3, 1, 12) } $2 == "vcs.modified" && $3 == "true" { m = "+changes" } END { if (r != "") print "revision " r m; else print "working tree" }')
GO_VER=$(go env GOVERSION)
PROSODY_VER="$(pkgver prosody) (Debian), $(lua5.4 -v 2>&1 | awk '{ print $1, $2 }'), $PROSODY_GC GC"
EJABBERD_VER="$(pkgver ejabberd) (Debian), Erlang/OTP $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' 2>/dev/null)"

# ---------------------------------------------------------------- accounts

RESULTS_DIR=$BENCH_DIR/results
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$RESULTS_DIR/$STAMP.md
mkdir -p "$(dirname "$OUT")"
JSONL=${OUT%.md}.jsonl
: >"$JSONL"

# common SERVER: the flags every run against SERVER shares
common() {
	local s=$1
	printf '%s\n' -addr "${ADDR[$s]}:5222" -ws-url "${WS_URL[$s]}" -domain "$DOMAIN" -server "$s" \
		-pid "${PID[$s]}" -user-format 'user%d' -password "$PASSWORD" \
		-sources "${SOURCES[$s]}" -timeout "$RUN_TIMEOUT"
}

# With -ibr the generator creates the peers' accounts (a login run with
# -register, then one login per account). Otherwise a short login run
# checks that the accounts written at start-up work. Neither is reported.
for s in "${RUN_SERVERS[@]}"; do
	[ "$s" = parley ] && continue
	mapfile -t args < <(common "$s")
	if [ "$IBR" = 1 ]; then
		log "$s: registering $USERS accounts (XEP-0077)"
		args+=(-register -logins "$USERS")
	else
		log "$s: checking the accounts"
		args+=(-logins 100)
	fi
	if ! "$BENCH" "${args[@]}" -clients 20 -users "$USERS" login \
		>"$WORK/$s/accounts.json" 2>"$WORK/$s/accounts.err"; then
		tail -n 20 "$WORK/$s/accounts.err" >&2
		die "$s: the accounts do not work"
	fi
	if [ "$(jq -r '.errors // 0' "$WORK/$s/accounts.json" 2>/dev/null | tail -n 1)" != 0 ]; then
		die "$s: logins failed: $(tail -n 1 "$WORK/$s/accounts.json")"
	fi
done

# ---------------------------------------------------------------- runs

FAILURES=0
PROFILES=()
# ROUND_SUFFIX names the profiles of the later rounds (-rounds).
ROUND_SUFFIX=""

# run CASE SERVER SCENARIO ARGS...: one generator run; its JSON line, with
# "case" added, goes to $JSONL. A failed run is recorded as such.
run() {
	local case=$1 s=$2 scen=$3 out err rc=0 prof="" prof_pid="" why
	shift 3
	out=$WORK/$s/$case.json
	err=$WORK/$s/$case.err
	mapfile -t args < <(common "$s")
	log "$case: $s"
	if [ "$PROFILE" = 1 ] && [ "$s" = parley ] && [ "$scen" = chat ]; then
		prof=${OUT%.md}-parley-$case$ROUND_SUFFIX.pprof
		(
			sleep "${CHAT_WARM%s}"
			curl -fsS -o "$prof" "http://127.0.0.1:16060/debug/pprof/profile?seconds=${CHAT_DUR%s}" || true
		) &
		prof_pid=$!
		PROFILES+=("$prof")
	elif [ "$PROFILE" = 1 ] && [ "$s" = parley ] && [ "$scen" = pep ]; then
		# Its set-up takes a while: the generator says when the warm-up
		# starts.
		prof=${OUT%.md}-parley-$case$ROUND_SUFFIX.pprof
		(
			for i in $(seq 1 1200); do
				grep -q 'warm-up' "$err" 2>/dev/null && break
				sleep 0.1
			done
			sleep "${PEP_WARM%s}"
			curl -fsS -o "$prof" "http://127.0.0.1:16060/debug/pprof/profile?seconds=${PEP_DUR%s}" || true
		) &
		prof_pid=$!
		PROFILES+=("$prof")
	elif [ "$PROFILE" = 1 ] && [ "$s" = parley ] && [ "$scen" = idle ]; then
		# A heap profile once parley holds every connection (the run
		# then waits at least 3 s for its memory to settle).
		prof=${OUT%.md}-parley-$case-heap.pprof
		heap_profile "$prof" "$(idle_port "$@")" "$(idle_conns "$@")" &
		prof_pid=$!
		PROFILES+=("$prof")
	fi
	"$BENCH" "${args[@]}" "$@" "$scen" >"$out" 2>"$err" || rc=$?
	[ -n "$prof_pid" ] && wait "$prof_pid" 2>/dev/null
	tail -n 1 "$out" >"$out.last" 2>/dev/null || true
	if [ "$rc" = 0 ] && jq -e 'type == "object"' "$out.last" >/dev/null 2>&1; then
		jq -c --arg case "$case" '{case: $case} + .' "$out.last" >>"$JSONL"
		jq -r '"    " + ([to_entries[] | select(.value | type != "object") | "\(.key)=\(.value)"] | join(" "))' "$out.last" >&2
	else
		FAILURES=$((FAILURES + 1))
		why=$(grep -v '^\s*$' "$err" 2>/dev/null | tail -n 1 | cut -c1-200)
		log "$case: $s failed (exit $rc): $why"
		jq -nc --arg case "$case" --arg server "$s" --arg scenario "$scen" \
			--arg why "exit $rc: $why" '{case: $case, scenario: $scenario, server: $server, failed: $why}' >>"$JSONL"
	fi
}

# idle_conns ARGS...: the -conns of an idle run; idle_port ARGS...: the
# server port it connects to.
idle_conns() {
	while [ $# -gt 1 ]; do
		[ "$1" = -conns ] && echo "$2" && return
		shift
	done
}
idle_port() {
	case " $* " in *" -transport websocket "*) echo "$WS_PORT" ;; *) echo 5222 ;; esac
}

# heap_profile FILE PORT N: once parley has N established connections on
# PORT, save its heap profile to FILE, and its goroutine count and Go
# memory statistics (heap, goroutine stacks) to FILE.txt.
heap_profile() {
	local i n
	command -v ss >/dev/null || set -- "$1" "$2" 0
	for i in $(seq 1 1200); do
		n=$(ss -Htn state established "( sport = :$2 )" src "${ADDR[parley]}" 2>/dev/null | wc -l)
		[ "$n" -ge "$3" ] && break
		sleep 0.1
	done
	sleep 1
	curl -fsS -o "$1" "http://127.0.0.1:16060/debug/pprof/heap" || true
	{
		curl -fsS "http://127.0.0.1:16060/debug/pprof/goroutine?debug=1" | head -n 1
		curl -fsS "http://127.0.0.1:16060/debug/pprof/heap?debug=1" | sed -n '/^# runtime.MemStats/,$p'
	} >"$1.txt" 2>/dev/null || true
}

na() { # CASE SERVER SCENARIO WHY
	jq -nc --arg case "$1" --arg server "$2" --arg scenario "$3" --arg why "$4" \
		'{case: $case, scenario: $scenario, server: $server, na: $why}' >>"$JSONL"
}

each() { # CASE SCENARIO ARGS...: the case against every server in turn
	local case=$1 scen=$2 s
	shift 2
	for s in "${RUN_SERVERS[@]}"; do
		run "$case" "$s" "$scen" "$@"
	done
}

# Order: chat runs last, since a server that cannot keep up with an
# offered rate keeps undelivered messages as offline messages, which later
# logins of the same accounts would receive.
T0=$(date +%s)
want login-scram && each login-scram login -mech SCRAM-SHA-1 -clients 20 -logins "$LOGINS" -users "$USERS"
want login-plain && each login-plain login -mech PLAIN -clients 20 -logins "$LOGINS" -users "$USERS"
# Each idle case starts on freshly restarted servers (see fresh_servers).
for n in "${IDLE_CASES[@]}"; do
	if want "idle-$n"; then
		fresh_servers
		each "idle-$n" idle -clients 20 -conns "$n" -users "$n"
	fi
	# The same over WebSocket (-ws-url is among the common flags).
	if want "ws-idle-$n"; then
		fresh_servers
		each "ws-idle-$n" idle -clients 20 -conns "$n" -users "$n" -transport websocket
	fi
done
want presence && each presence presence -users "$PRES_USERS" -contacts "$PRES_CONTACTS"
# A resume storm needs stream management on the peers: -modern only.
if [ "$MODERN" = 1 ] && want resume; then
	each resume resume -clients 20 -conns "$RESUME_CONNS" -users "$RESUME_CONNS"
fi

for m in "${MUC_CASES[@]}"; do
	read -r size rooms <<<"$m"
	case=muc-$size
	want "$case" || continue
	for s in "${RUN_SERVERS[@]}"; do
		run "$case" "$s" muc -muc-domain "$MUC_DOMAIN" -room-size "$size" -rooms "$rooms" \
			-senders "$MUC_SENDERS" -window "$MUC_WINDOW" -size 100 -duration "$MUC_DUR" -warmup "$MUC_WARM"
	done
done

for m in "${PEP_CASES[@]}"; do
	read -r contacts publishers <<<"$m"
	case=pep-$contacts
	want "$case" || continue
	each "$case" pep -first-user "$PEP_FIRST" -publishers "$publishers" -contacts "$contacts" \
		-quiet-resources "$PEP_QUIET" -window "$PEP_WINDOW" -size 100 -duration "$PEP_DUR" -warmup "$PEP_WARM"
done

CHAT=(-pairs "$CHAT_PAIRS" -window "$CHAT_WINDOW" -size 100 -duration "$CHAT_DUR" -warmup "$CHAT_WARM")
[ "$MODERN" = 1 ] && CHAT+=(-carbons -sm)
want chat-sat && each chat-sat chat "${CHAT[@]}"

# add_last JSON: add the fields of JSON to the last line of $JSONL (the
# run just made).
add_last() {
	head -n -1 "$JSONL" >"$JSONL.tmp"
	tail -n 1 "$JSONL" | jq -c --argjson add "$1" '. + $add' >>"$JSONL.tmp"
	mv "$JSONL.tmp" "$JSONL"
}

# archive_run: parley's chat-sat with its compliance archive on, on the
# same data: parley restarts with [archive] enabled = true, runs the case,
# and stops, which closes the archive (every record in a segment file,
# synced, its head noted in the audit log). Then the archive is measured:
# the bytes of its segment files per record and the time "parley archive
# verify" takes over it, added to the run's JSON line. parley restarts
# without the archive for the cases after it. The archive starts empty
# and later rounds (-rounds) add to it: a new one would not match the
# checkpoints of the earlier one in the audit log.
archive_run() {
	local cfg=$WORK/parley/config-archive.toml dir=$WORK/parley/archive
	local vout=$WORK/parley/archive-verify.out vtime=$WORK/parley/archive-verify.time
	local records bytes real user sys rc=0 add TIMEFORMAT='%R %U %S'
	{
		cat "$WORK/parley/config.toml"
		printf '\n[archive]\nenabled = true\ndir = "%s"\n' "$dir"
	} >"$cfg"
	stop_server parley
	PARLEY_CONFIG=$cfg start_parley again
	wait_listen parley
	log "parley restarted with the compliance archive on (pid ${PID[parley]})"
	run chat-sat-archive parley chat "${CHAT[@]}"
	stop_server parley
	bytes=$(find "$dir" -maxdepth 1 -name 'seg-*.log' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	{
		time "$WORK/bin/parley" archive verify -config "$cfg" >"$vout" 2>&1
	} 2>"$vtime" || rc=$?
	read -r real user sys <"$vtime"
	records=$(sed -n 's/^archive intact: \([0-9]*\) records.*/\1/p' "$vout")
	if [ "$rc" = 0 ] && [ -n "$records" ]; then
		log "parley archive verify: $records records, $bytes bytes of segments, $real s"
		add=$(jq -nc --argjson n "$records" --argjson b "$bytes" --argjson r "$real" --argjson u "$user" --argjson s "$sys" \
			'{archive_records: $n, archive_bytes: $b, archive_bytes_per_msg: (if $n > 0 then $b / $n else null end),
			  verify_s: $r, verify_cpu_s: ($u + $s), verify_records_per_s: (if $r > 0 then $n / $r else null end)}')
	else
		FAILURES=$((FAILURES + 1))
		log "parley archive verify failed (exit $rc): $(tail -n 1 "$vout" | cut -c1-200)"
		add=$(jq -nc --argjson b "$bytes" --arg why "exit $rc: $(tail -n 1 "$vout" | cut -c1-200)" \
			'{archive_bytes: $b, verify_failed: $why}')
	fi
	# The case's JSON line is the last one: the archive's figures join it.
	add_last "$add"
	start_parley again
	wait_listen parley
	log "parley restarted without the archive (pid ${PID[parley]})"
}

# The compliance archive is parley's: Prosody and ejabberd have no
# server-wide, hash-chained archive of every message.
if want chat-sat-archive; then
	for s in "${RUN_SERVERS[@]}"; do
		if [ "$s" = parley ]; then
			archive_run
			# Later rounds: chat-sat and chat-sat-archive again, in turn,
			# their JSON lines marked with the round.
			for ((round = 2; round <= ROUNDS; round++)); do
				ROUND_SUFFIX=-$round
				log "round $round of $ROUNDS"
				run chat-sat parley chat "${CHAT[@]}"
				add_last "{\"round\": $round}"
				archive_run
				add_last "{\"round\": $round}"
			done
			ROUND_SUFFIX=""
		else
			na chat-sat-archive "$s" chat "no equivalent of parley's compliance archive (a server-wide, hash-chained journal of every message)"
		fi
	done
fi
# The same over WebSocket, before the paced runs, which may leave offline
# messages behind.
want ws-chat && each ws-chat chat "${CHAT[@]}" -transport websocket

# half_sat SERVER: half of SERVER's chat-sat messages per second
half_sat() {
	jq -r --arg s "$1" 'select(.case == "chat-sat" and .server == $s and .msgs_per_s != null) | .msgs_per_s / 2 | floor' "$JSONL" | tail -n 1
}

if want chat-own; then
	# Each server at half of its own saturation rate: latency at the same
	# relative load.
	for s in "${RUN_SERVERS[@]}"; do
		rate=$(half_sat "$s")
		if [ -z "$rate" ] || [ "$rate" -lt 1 ]; then
			na chat-own "$s" chat "no saturation figure"
			continue
		fi
		run chat-own "$s" chat "${CHAT[@]}" -rate "$rate"
	done
fi
if want chat-rate; then
	# Every server at half of parley's saturation rate (of the first
	# server's when parley is not measured): latency at the same load.
	ref=parley
	running parley || ref=${RUN_SERVERS[0]}
	RATE=$(half_sat "$ref")
	if [ -z "$RATE" ] || [ "$RATE" -lt 1 ]; then
		RATE=$((CHAT_PAIRS * 20))
		log "chat-rate: no saturation figure from $ref; using -rate $RATE"
	fi
	for s in "${RUN_SERVERS[@]}"; do
		if [ "$s" = "$ref" ] && want chat-own &&
			[ "$(jq -s --arg s "$s" 'map(select(.case == "chat-own" and .server == $s and .params != null)) | length' "$JSONL")" -gt 0 ]; then
			# The same run as its chat-own one: reuse it.
			jq -c --arg s "$s" 'select(.case == "chat-own" and .server == $s) | .case = "chat-rate"' "$JSONL" >>"$JSONL.tmp"
			cat "$JSONL.tmp" >>"$JSONL"
			rm -f "$JSONL.tmp"
			continue
		fi
		run chat-rate "$s" chat "${CHAT[@]}" -rate "$RATE"
	done
fi
T1=$(date +%s)

# ---------------------------------------------------------------- report

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
python3 "$BENCH_DIR/render.py" "$JSONL" \
	--mode "$MODE" \
	--date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--machine "$(nproc) cores ($CPU_MODEL), $MEM memory, $(uname -sr), open-file limit $FD_LIMIT" \
	--cert "$CERT_DESC (one certificate for all three servers, SAN $DOMAIN and $MUC_DOMAIN)" \
	--servers "$(
		IFS=,
		echo "${RUN_SERVERS[*]}"
	)" \
	--version "parley=$PARLEY_VER, built with $GO_VER" \
	--version "prosody=$PROSODY_VER" \
	--version "ejabberd=$EJABBERD_VER" \
	--fd-limit "$(ulimit -Hn)" \
	--command "$CMDLINE" \
	--elapsed "$((T1 - T0))" \
	>"$OUT"
cat "$OUT"
log "results: $OUT (raw: $JSONL)"
for p in "${PROFILES[@]}"; do
	case $p in
	*-heap.pprof) [ -s "$p" ] && log "parley heap profile: $p (go tool pprof -sample_index=inuse_space -top $p; Go memory statistics in $p.txt)" ;;
	*) [ -s "$p" ] && log "parley CPU profile: $p (go tool pprof -top $p)" ;;
	esac
done
[ "$FAILURES" = 0 ] || log "$FAILURES run(s) failed; see the table"
