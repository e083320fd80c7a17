#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The kernel decides what detection sees at once. Two pods made by the
# [bridge, podsentry-cni] chain, podsentryd with a 3 s learning window:
# after learning, 1000 connections to a peer the client learned cost no
# notice (the socket programs count them as quiet), a connection to a new
# peer is one notice (and one new-east-west-peer alert), a repeat of it is
# quiet, and every connection of a marked process tree (a bind shell the
# daemon found: its children are marked in the kernel at fork) is a
# notice even to the learned peer, and ends in a lateral-movement alert.
# By default no connect, accept or listen record is written.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
CRR=$B/bench/crr
AL=$T/alerts.json
X=$T/export.json

echo '{"rules": {"new-east-west-peer": {"learning_window": 3}}}' >"$T/config.json"
daemon_start --state-dir "$STATE" --config "$T/config.json" --alerts "$AL" \
	--stats-interval 1 --flow-idle 2 || { fail setup "daemon"; exit 1; }
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=client" >"$T/a.json" &&
cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=server" >"$T/b.json" ||
	{ fail setup "cni add: $(cat "$T/a.json" "$T/b.json")"; exit 1; }
IPA=$(jq -r '.ips[0].address' "$T/a.json" | cut -d/ -f1)
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
for ns in "$NA" "$NB"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.tcp_tw_reuse=1
done
BG=()
trap 'kill "${BG[@]}" 2>/dev/null; [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null; wait 2>/dev/null' EXIT
listening() { ip netns exec "$1" ss -ltn | grep -q ":$2 "; }
# PID's netns listens on PORT, read from the host through /proc: an ss
# in the pod would be a process entering it, beside the one under test
listening_pid() {
	cat "/proc/$1/net/tcp" "/proc/$1/net/tcp6" 2>/dev/null |
		awk -v p="$(printf ':%04X' "$2")" '$2 ~ p "$" && $4 == "0A" { f = 1 } END { exit !f }'
}
ip netns exec "$NB" "$CRR" server 7001 2 & BG+=($!)
ip netns exec "$NB" "$CRR" server 7002 & BG+=($!)
wait_for 5 listening "$NB" 7001 && wait_for 5 listening "$NB" 7002 || { fail setup "servers"; exit 1; }

# sock FIELD: the field of .stats.sockets in the last stats record
sock() { jq -s --arg f "$1" 'map(select(.type=="stats")) | last | .stats.sockets[$f] // 0' "$X"; }
# settled N: the stats say at least N connects, and a later record agrees
settled() {
	wait_for 15 sh -c "[ \$(jq -s 'map(select(.type==\"stats\")) | last | .stats.sockets.connect // 0' $X) -ge $1 ]" &&
		sleep 1.2
}
conns() { ip netns exec "$NA" "$CRR" client "$IPB" "$1" "$2" "${3:-1}" >/dev/null; }

# --- learning: the client's first connection to 7001 is a notice, and
# the peer it learns goes into the kernel's peers map
conns 7001 1
settled 1 || fail setup "no stats record with the first connect"
sleep 3 # the learning window ends
c0=$(sock connect) n0=$(sock notices) q0=$(sock quiet)
[ "$n0" -ge 1 ] && ok learning/first-connection-a-notice || fail learning/first-connection-a-notice "notices $n0"

# --- 1000 connections to the learned peer: no notice at all
conns 7001 1000 2
settled $((c0 + 1000)) || fail learned/settled "stats: $(sock connect) connects, want $((c0 + 1000))"
c1=$(sock connect) n1=$(sock notices) q1=$(sock quiet)
[ "$n1" = "$n0" ] && [ $((q1 - q0)) -ge 1000 ] && ok learned/1000-connections-no-notice ||
	fail learned/1000-connections-no-notice "notices $n0 -> $n1, quiet $q0 -> $q1 over $((c1 - c0)) connects"
[ "$(jq -c 'select(.type=="alert")' "$AL" 2>/dev/null | grep -c .)" = 0 ] &&
	ok learned/no-alert || fail learned/no-alert "$(jq -r .alert.summary "$AL")"

# --- a new peer: one notice, one alert; the same peer again: quiet
conns 7002 1
settled $((c1 + 1)) || fail new-peer/settled "stats: $(sock connect)"
n2=$(sock notices) q2=$(sock quiet)
[ "$n2" = $((n1 + 1)) ] && ok new-peer/one-notice || fail new-peer/one-notice "notices $n1 -> $n2"
wait_for 5 has_record '.alert.rule=="new-east-west-peer" and .pod.name=="client" and
	(.alert.summary | contains(":7002/tcp"))' "$AL" && ok new-peer/alert ||
	fail new-peer/alert "$(jq -r .alert.summary "$AL" 2>/dev/null)"
conns 7002 3
settled $((c1 + 4)) || fail new-peer/settled-again "stats: $(sock connect)"
n3=$(sock notices) q3=$(sock quiet)
[ "$n3" = "$n2" ] && [ "$q3" = $((q2 + 3)) ] && ok new-peer/repeat-quiet ||
	fail new-peer/repeat-quiet "notices $n2 -> $n3, quiet $q2 -> $q3"

# --- a marked tree: a bind shell in the client pod (busybox nc -e, a
# network tool: a foothold the daemon marks); what its shell starts later
# is marked at fork in the kernel, so its connections to the learned peer
# are notices, and the chain is one lateral-movement alert
ip netns exec "$NA" sh -c "exec busybox nc -l -p 7777 -e /bin/sh" & BG+=($!)
wait_for 5 listening_pid $! 7777 || fail marked/setup "bind shell not listening"
wait_for 5 has_record '.alert.rule=="network-tool-in-pod" and .pod.name=="client"' "$AL" ||
	fail marked/foothold "$(jq -r .alert.rule "$AL")"
c4=$(sock connect) n4=$(sock notices) q4=$(sock quiet)
printf '%s\n' "$CRR client $IPB 7001 5 1" "exit" |
	ip netns exec "$NB" timeout 20 busybox nc "$IPA" 7777 >/dev/null
settled $((c4 + 6)) || fail marked/settled "stats: $(sock connect), want $((c4 + 6))"
n5=$(sock notices) q5=$(sock quiet)
# 5 from the marked tree, 1 the server's own nc to a peer it never had
[ $((n5 - n4)) -ge 6 ] && [ "$q5" = "$q4" ] && ok marked/every-connection-a-notice ||
	fail marked/every-connection-a-notice "notices $n4 -> $n5, quiet $q4 -> $q5"
wait_for 5 has_record '.alert.rule=="lateral-movement" and .pod.name=="client" and
	any(.evidence.connections[]; .dst.port==7001 and .dst.pod.name=="server")' "$AL" &&
	ok marked/lateral-movement || fail marked/lateral-movement "$(jq -c '[.alert.rule, .alert.summary]' "$AL")"

# --- socket records are opt-in
[ -z "$(jq -c 'select(.type=="connect" or .type=="accept" or .type=="listen" or .type=="inherit")' "$X")" ] &&
	ok default/no-socket-records || fail default/no-socket-records "$(jq -r .type "$X" | sort | uniq -c | tr '\n' ' ')"

kill "${BG[@]}" 2>/dev/null
daemon_stop || fail clean-exit "exit status $?"
cni_del "${P}ca" "$NA" >/dev/null
cni_del "${P}cb" "$NB" >/dev/null
