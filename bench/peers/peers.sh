# bench/peers/peers.sh: the servers bench/matrix measures echod against;
# sourced after bench/lib.sh, not run.
# shellcheck shell=bash
#
# peers_setup installs the Debian packages they need (as root; otherwise
# it says which) and builds the C ones with -O2 into $BUILD/bench/peers.
# peer_start NAME PORT starts one on 127.0.0.1:PORT, pinned to
# $SERVER_CPU, and returns once the port accepts (or a datagram comes
# back), never after a sleep; its pid is in PEER_PID.  A peer that
# cannot be had leaves the reason in PEER_WHY[NAME] and returns 1.
#
#	ref		bench/ref-echo.c, the hand-written epoll reference
#	echod		echod, workers = 1 (a raw TCP listener, a line
#			listener with strip bytes = 2 on PORT + 1, UDP on PORT)
#	seed		the seed's libevent bufferevent server (seed-echo.c)
#	seedstrip	the same, framing lines and stripping 2 bytes (-s 2)
#	uv		libuv (uv-echo.c)
#	uring		io_uring (uring-echo.c)
#	node		Node's net, socket.pipe(socket) (node-echo.js)
#	socat		socat TCP-LISTEN:PORT,fork,reuseaddr PIPE
#	inetd		openbsd-inetd's internal echo, in a private mount
#			namespace with its own inetd.conf and services
#	udpref		UDP: bench/peers/udp-mmsg.c, a recvmmsg loop
#	udpnaive	UDP: bench/udp-ref.c, recvfrom + sendto
#	echodudp	UDP: echod's UDP listener (the echod of PORT - 0)
#	echodmem	echod with max_memory = 1 MiB, a raw listener only
#
# echod's features, for bench/matrix's feat rows, are on its process's
# ports past PORT: + 2 PROXY protocol v2 from 127.0.0.0/8, + 3 per-source
# limits (never reached, but looked up on every connection), + 4 the
# metrics endpoint.

# The Debian packages each peer needs: command or file that shows it.
PEER_PKGS="libuv1-dev liburing-dev nodejs socat openbsd-inetd"
declare -A PEER_WHY=()
declare -A PEER_BIN=()

# True if Debian package $1 is installed.
peers_have_pkg()
{
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null |
	    grep -q '^install ok installed$'
}

# Install what is missing, without starting inetd's service (its
# package would start it on port 7 otherwise).
peers_install()
{
	local missing=() p policy=/usr/sbin/policy-rc.d made=

	for p in $PEER_PKGS; do
		peers_have_pkg "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: missing ${missing[*]}; as root:" \
		    "apt-get install ${missing[*]}" >&2
		return 0
	fi
	echo "bench: installing ${missing[*]}" >&2
	if [ ! -e "$policy" ]; then
		# policy-rc.d(8): no service starts while we install.
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "${missing[@]}" >"$TMP/apt.log" 2>&1 ||
	    echo "bench: apt-get install failed (see below)" >&2
	[ -n "$made" ] && rm -f "$policy"
	if [[ " ${missing[*]} " == *" openbsd-inetd "* ]] &&
	    command -v systemctl >/dev/null; then
		systemctl disable --quiet inetd.service 2>/dev/null
	fi
	tail -n 3 "$TMP/apt.log" >&2
}

# Install and build the peers; PEER_WHY says why one is not there.
peers_setup()
{
	local cc=${CC:-cc} dir=$BUILD/bench/peers f

	peers_install
	mkdir -p "$dir" || bench_die "cannot create $dir"
	"$cc" -std=gnu11 -O2 -Wall -Wextra -o "$dir/seed-echo" \
	    "$SRC/bench/peers/seed-echo.c" -levent 2>"$TMP/cc.log" ||
	    PEER_WHY[seed]="cannot build seed-echo.c: $(head -c 200 \
	    "$TMP/cc.log")"
	PEER_WHY[seedstrip]=${PEER_WHY[seed]:-}
	if ! peers_have_pkg libuv1-dev; then
		PEER_WHY[uv]="libuv1-dev is not installed"
	elif ! "$cc" -std=gnu11 -O2 -Wall -Wextra -o "$dir/uv-echo" \
	    "$SRC/bench/peers/uv-echo.c" -luv 2>"$TMP/cc.log"; then
		PEER_WHY[uv]="cannot build uv-echo.c: $(head -c 200 \
		    "$TMP/cc.log")"
	fi
	if ! peers_have_pkg liburing-dev; then
		PEER_WHY[uring]="liburing-dev is not installed"
	elif ! "$cc" -std=gnu11 -O2 -Wall -Wextra -o "$dir/uring-echo" \
	    "$SRC/bench/peers/uring-echo.c" -luring 2>"$TMP/cc.log"; then
		PEER_WHY[uring]="cannot build uring-echo.c: $(head -c 200 \
		    "$TMP/cc.log")"
	fi
	for f in udp-mmsg:udp-mmsg.c:udpref udp-ref:../udp-ref.c:udpnaive \
	    udp-load:../udp-load.c:; do
		IFS=: read -r out c name <<<"$f"
		"$cc" -std=gnu11 -O2 -Wall -Wextra -o "$dir/$out" \
		    "$SRC/bench/peers/$c" 2>"$TMP/cc.log" && continue
		[ -n "$name" ] || bench_die "cannot build $c"
		PEER_WHY[$name]="cannot build $c"
	done
	PEER_BIN[node]=$(command -v node || command -v nodejs)
	[ -n "${PEER_BIN[node]}" ] || PEER_WHY[node]="nodejs is not installed"
	PEER_BIN[socat]=$(command -v socat)
	[ -n "${PEER_BIN[socat]}" ] || PEER_WHY[socat]="socat is not installed"
	PEER_BIN[inetd]=/usr/sbin/inetd
	if ! peers_have_pkg openbsd-inetd || [ ! -x /usr/sbin/inetd ]; then
		PEER_WHY[inetd]="openbsd-inetd is not installed"
	elif [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
		PEER_WHY[inetd]="needs root for its private mount namespace"
	fi
}

# The echod configuration of port $1: raw, line with strip, UDP, and the
# features' listeners and endpoint (above).
peers_echod_conf()
{
	cat <<EOF
# Generated by bench/matrix: the defaults, but for what the bench needs.
log_connections = false;
workers = 1;
max_connections = 20000;	# the 19 000 idle sessions
metrics = { address = "127.0.0.1"; port = $(($1 + 4)); };
${BENCH_GLOBAL:-}
listeners = (
  { name = "raw"; port = $1; address = "127.0.0.1"; ${BENCH_LISTENER:-} },
  { name = "strip"; port = $(($1 + 1)); address = "127.0.0.1";
    framing = "line"; strip = ({ bytes = 2; }); },
  { name = "proxy"; port = $(($1 + 2)); address = "127.0.0.1";
    proxy_protocol = "v2"; proxy_from = ( "127.0.0.0/8" ); },
  { name = "limits"; port = $(($1 + 3)); address = "127.0.0.1";
    max_connections_per_source = 1000000;
    max_new_connections_per_source = 1000000; },
  { name = "udp"; port = $1; address = "127.0.0.1"; protocol = "udp";
    udp_rate = 1000000; udp_burst = 1000000; max_datagram = 65507; }
);
EOF
}

# The configuration of echodmem on port $1: the budget at its minimum.
peers_echodmem_conf()
{
	cat <<EOF
# Generated by bench/matrix: the smallest memory budget echod takes.
log_connections = false;
workers = 1;
max_memory = 1048576;
listeners = ( { name = "raw"; port = $1; address = "127.0.0.1"; } );
EOF
}

# Wait until 127.0.0.1:$1 accepts, while process $2 lives (10 s at most).
peers_wait_tcp()
{
	local i

	for ((i = 0; i < 500; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		# Polling a port: a peer says nothing else when it is ready.
		sleep 0.02
	done
	return 1
}

# Wait until a datagram to 127.0.0.1:$1 comes back (10 s at most).
peers_wait_udp()
{
	python3 - "$1" <<'PY'
import select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 10
while time.monotonic() < end:
    s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
    if select.select([s], [], [], 0.02)[0] and s.recv(16) == b"ping":
        sys.exit(0)
sys.exit(1)
PY
}

# The inetd.conf and services of an inetd on port $1, in directory $2.
peers_inetd_files()
{
	mkdir -p "$2"
	# The internal service is found by name: "echo" is our port here.
	printf 'echo\t\t%s/tcp\necho\t\t%s/udp\n' "$1" "$1" >"$2/services"
	# nowait.N: N forks a minute before inetd stops the service for ten
	# minutes; the churn row forks tens of thousands.
	printf '127.0.0.1:echo\tstream\ttcp\tnowait.%s\troot\tinternal\n' \
	    10000000 >"$2/inetd.conf"
}

# Start peer $1 on port $2: PEER_PID once it is ready, or 1 and PEER_WHY.
peer_start()
{
	local name=$1 port=$2 dir=$BUILD/bench/peers log=$TMP/$1.log
	local conf udp=

	[ -n "${PEER_WHY[$name]:-}" ] && return 1
	case $name in
	ref)	taskset -c "$SERVER_CPU" "$BUILD/bench/ref-echo" \
		    -a 127.0.0.1 "$port" >>"$log" 2>&1 & ;;
	echod|echodudp|echodmem)
		conf=$TMP/echod-$port.conf
		if [ "$name" = echodmem ]; then
			peers_echodmem_conf "$port" >"$conf"
		else
			peers_echod_conf "$port" >"$conf"
		fi
		taskset -c "$SERVER_CPU" "${ECHOD:-$BUILD/echod}" -c "$conf" \
		    --log-target=stderr >>"$log" 2>&1 &
		[ "$name" = echodudp ] && udp=1 ;;
	seed)	taskset -c "$SERVER_CPU" "$dir/seed-echo" "$port" \
		    >>"$log" 2>&1 & ;;
	seedstrip)
		taskset -c "$SERVER_CPU" "$dir/seed-echo" -s 2 "$port" \
		    >>"$log" 2>&1 & ;;
	uv)	taskset -c "$SERVER_CPU" "$dir/uv-echo" "$port" \
		    >>"$log" 2>&1 & ;;
	uring)	taskset -c "$SERVER_CPU" "$dir/uring-echo" "$port" \
		    >>"$log" 2>&1 & ;;
	node)	taskset -c "$SERVER_CPU" "${PEER_BIN[node]}" \
		    "$SRC/bench/peers/node-echo.js" "$port" >>"$log" 2>&1 & ;;
	socat)
		# As users write it, with the backlog every other server
		# has (socat's default is 5) and loopback only.
		conf=bind=127.0.0.1,fork,reuseaddr,backlog=4096
		taskset -c "$SERVER_CPU" "${PEER_BIN[socat]}" \
		    "TCP-LISTEN:$port,$conf" PIPE >>"$log" 2>&1 & ;;
	inetd)
		peers_inetd_files "$port" "$TMP/inetd-$port"
		# A private mount namespace: our services file, and a /run
		# of its own for /run/inetd.pid; the machine's inetd and
		# its files are never touched.  -i: stay in the foreground.
		# shellcheck disable=SC2016 # sh expands them
		taskset -c "$SERVER_CPU" unshare -m --propagation private \
		    sh -c 'mount --bind "$1/services" /etc/services &&
		    mount -t tmpfs -o size=1m,mode=755 tmpfs /run &&
		    exec "$2" -i -q 4096 -R 10000000 "$1/inetd.conf"' \
		    sh "$TMP/inetd-$port" "${PEER_BIN[inetd]}" \
		    >>"$log" 2>&1 & ;;
	udpref)	taskset -c "$SERVER_CPU" "$dir/udp-mmsg" "$port" \
		    >>"$log" 2>&1 & udp=1 ;;
	udpnaive)
		taskset -c "$SERVER_CPU" "$dir/udp-ref" "$port" \
		    >>"$log" 2>&1 & udp=1 ;;
	*)	bench_die "unknown peer $name" ;;
	esac
	PEER_PID=$!
	if [ -n "$udp" ]; then
		peers_wait_udp "$port" && return 0
	else
		peers_wait_tcp "$port" "$PEER_PID" && return 0
	fi
	PEER_WHY[$name]="did not start: $(tail -n 2 "$log" | tr '\n' ' ')"
	peer_stop "$PEER_PID"
	return 1
}

# Stop peer process $1, and a fork-per-connection peer's children: a
# socat stuck writing into its full pipe would outlive its parent.
peer_stop()
{
	local kids

	kids=$(peers_tree "$1" | grep -vx "$1")
	# shellcheck disable=SC2034 # bench_server_stop's argument
	SPID=$1
	bench_server_stop
	# shellcheck disable=SC2086 # one pid a word
	[ -n "$kids" ] && kill -KILL $kids 2>/dev/null
	return 0
}

# The pids of process $1 and all its descendants, one a line: one pass
# over /proc, since a fork-per-connection server may have 19 000.
peers_tree()
{
	# Field 2 may hold spaces: count from after its closing paren.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ pid = $1; sub(/^.*\) /, ""); parent[pid] = $2 }
		END {
			in_tree[root] = 1
			do {
				more = 0
				for (p in parent)
					if (!(p in in_tree) &&
					    (parent[p] in in_tree)) {
						in_tree[p] = 1
						more = 1
					}
			} while (more)
			for (p in in_tree)
				print p
		}'
}

#
# CPU ticks of process $1 and its descendants: utime + stime of each
# (fields 14, 15 of /proc/PID/stat, all threads) and what the children
# they reaped used (cutime, cstime), so that a fork-per-connection
# server's exited children are counted too.
#
peers_tree_ticks()
{
	peers_tree "$1" | sed 's|.*|/proc/&/stat|' | xargs cat 2>/dev/null |
	    awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 }
		END { print t + 0 }'
}

# Proportional set size of process $1 and its descendants, in KiB.
peers_tree_pss()
{
	peers_tree "$1" | sed 's|.*|/proc/&/smaps_rollup|' |
	    xargs cat 2>/dev/null |
	    awk '/^Pss:/ { t += $2 } END { print t + 0 }'
}
