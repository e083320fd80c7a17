#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Aggregated flow logs (--flow-aggregate): two pods made by the [bridge,
# podsentry-cni] chain. 50 short connections of one process to one peer
# port in an interval are one aggregate flow record with 50 connections
# and exactly the bytes and packets each pod's IP stack counted; a long
# connection in the same interval keeps its own records (updates and a
# final one); UDP datagrams to another port are folded too, once they end
# by the idle timeout; every folded connection is counted in the stats. A
# process that ended before a storm of short processes is still named.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
CRR=$B/bench/crr
STORM=$B/bench/exec_storm
X=$T/export.json

daemon_start --state-dir "$STATE" --flow-aggregate 3 --flow-idle 1 --flow-update 1 \
	--log-dir "$T/logs" --stats-interval 1 || { fail setup "daemon"; exit 1; }
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=client" >"$T/a.json" &&
cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=server" >"$T/b.json" ||
	{ fail setup "cni add: $(cat "$T/a.json" "$T/b.json")"; exit 1; }
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
for ns in "$NA" "$NB"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.tcp_tw_reuse=1
	ip netns exec "$ns" nft -f - <<NFT
table netdev ${P}igmp {
	chain in { type filter hook ingress device eth0 priority 0; ip protocol igmp drop; }
}
NFT
done
BG=()
trap 'kill "${BG[@]}" 2>/dev/null; [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null; wait 2>/dev/null' EXIT
ip netns exec "$NB" "$CRR" server 7001 & BG+=($!)
ip netns exec "$NB" busybox nc -l -p 7003 >/dev/null & BG+=($!)
ip netns exec "$NB" nft -f - <<NFT
table inet ${P}t {
	chain input { type filter hook input priority 0; udp dport 7004 drop; }
}
NFT
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q ':7001 '" || { fail setup "server"; exit 1; }

# the client's IP layer, for port 7001 alone (the long connection's
# packets may fall within the short ones' run): nft counters at output
# and input, "out_pkts out_bytes in_pkts in_bytes"
ip netns exec "$NA" nft -f - <<NFT
table inet ${P}c {
	chain out { type filter hook output priority 0; tcp dport 7001 counter; }
	chain in { type filter hook input priority 0; tcp sport 7001 counter; }
}
NFT
ipstat() {
	ip netns exec "$1" nft -j list table inet "${P}c" |
		jq -r '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter] |
			"\(.[0].packets) \(.[0].bytes) \(.[1].packets) \(.[1].bytes)"'
}
delta() { local a=($1) b=($2); echo "$((b[0] - a[0])) $((b[1] - a[1])) $((b[2] - a[2])) $((b[3] - a[3]))"; }

# a long connection across the interval, then 50 short ones
ip netns exec "$NA" bash -c "exec 3>/dev/tcp/$IPB/7003; for i in 1 2 3 4 5 6; do echo x >&3; sleep 0.5; done" & LONG=$!
sleep 0.3
before=$(ipstat "$NA")
ip netns exec "$NA" "$CRR" client "$IPB" 7001 50 1 >"$T/crr.out" || fail setup "$(cat "$T/crr.out")"
want=$(delta "$before" "$(ipstat "$NA")")
wait "$LONG"
# UDP: 4 datagrams, folded when they end by the idle timeout
ip netns exec "$NA" "$CRR" udp "$IPB" 7004 4

agg() { jq -c --argjson port "$1" 'select(.type=="flow" and .flow.aggregate and .flow.dst.port==$port)' "$X"; }
wait_for 15 sh -c "[ -n \"\$(jq -c 'select(.type==\"flow\" and .flow.aggregate and .flow.dst.port==7001)' $X)\" ]" ||
	fail tcp/aggregate-written "no aggregate record for port 7001"
sleep 3.5 # the interval after the last connection ends
a=$(agg 7001)
# the 50 connections last ~20 ms: one interval, unless they straddle the
# end of one (then the next has the rest)
n=$(echo "$a" | grep -c .)
[ "$n" = 1 ] || { [ "$n" = 2 ] && echo "# the connections straddled two intervals"; } &&
	ok tcp/one-aggregate-record-per-interval || fail tcp/one-aggregate-record-per-interval "$n aggregate records"
x=$(echo "$a" | jq -s -r '[(map(.flow.connections) | add), (map(.flow.completed) | add),
	(map(.flow.reset) | add), (map(.flow.direction) | unique | join(",")),
	(map(.pod.name) | unique | join(",")), (map(.flow.dst.pod.name) | unique | join(",")),
	all(.process.args | join(" ") | test("crr client")),
	all(.flow.dst.process.binary != null)] | map(tostring) | join(" ")')
[ "$x" = "50 50 0 egress client server true true" ] && ok tcp/fifty-connections-one-process ||
	fail tcp/fifty-connections-one-process "$x"
got=$(echo "$a" | jq -s -r '"\(map(.flow.packets_out) | add) \(map(.flow.bytes_out) | add) \(map(.flow.packets_in) | add) \(map(.flow.bytes_in) | add)"')
[ "$got" = "$want" ] && ok tcp/summed-counts-exact || fail tcp/summed-counts-exact "aggregate '$got' client's IP stack '$want'"
[ -z "$(jq -c 'select(.type=="flow" and (.flow.aggregate | not) and .flow.dst.port==7001)' "$X")" ] &&
	ok tcp/no-single-records || fail tcp/no-single-records "single flow records for 7001"
has_record '.type=="flow" and .flow.aggregate and .flow.dst.port==7001' "$T/logs/shop/server.log" &&
	ok tcp/in-both-pod-logs || fail tcp/in-both-pod-logs "not in server.log"

# the long connection: its own records, updates and a final one
long=$(jq -c 'select(.type=="flow" and .flow.dst.port==7003)' "$X")
echo "$long" | jq -e 'select(.flow.final) | (.flow.aggregate | not) and .flow.reason=="fin"' >/dev/null &&
	[ "$(echo "$long" | jq -c 'select(.flow.final | not)' | grep -c .)" -ge 1 ] &&
	ok long/own-records || fail long/own-records "$long"

wait_for 10 sh -c "[ -n \"\$(jq -c 'select(.type==\"flow\" and .flow.aggregate and .flow.dst.port==7004)' $X)\" ]"
x=$(agg 7004 | jq -r '[.flow.protocol, .flow.connections, .flow.packets_out, .flow.bytes_out] | map(tostring) | join(" ")')
[ "$x" = "udp 1 4 512" ] && ok udp/folded-after-idle || fail udp/folded-after-idle "$x"

sleep 1.5
folded=$(jq -s 'map(select(.type=="stats")) | last | .stats.flows.aggregated' "$X")
[ "$folded" = 51 ] && ok stats/every-connection-counted || fail stats/every-connection-counted "aggregated $folded, want 51"

daemon_stop || fail clean-exit "exit status $?"

# --- processes that made short connections and ended, then a storm of
# 3000 short processes (more than the 2048 gone processes without a
# socket the daemon keeps) before the interval ends: the kernel said that
# their images used sockets, so they are kept and the aggregates name
# them. crr hit connects itself, bash through /dev/tcp before an exec
# replaces it; crr client's connections are a fork's (its exit says so
# for the image's); crr detach's fork works on after its image's exec
# ended.
X=$T/export2.json
daemon_start --state-dir "$STATE" --flow-aggregate 10 --log-dir "$T/logs" --export "$X" ||
	{ fail setup "daemon, second run"; exit 1; }
t0=$(date +%s%N)
ip netns exec "$NA" "$CRR" client "$IPB" 7001 20 1 >"$T/crr2.out" || fail setup "$(cat "$T/crr2.out")"
ip netns exec "$NA" "$CRR" hit "$IPB" 7001 >/dev/null || fail setup "crr hit"
ip netns exec "$NA" bash -c "exec 3<>/dev/tcp/$IPB/7001; echo q >&3; cat <&3 >/dev/null; exec 3<&-; exec /bin/true" ||
	fail setup "bash /dev/tcp"
orphan=$(ip netns exec "$NA" "$CRR" detach "$IPB" 7001 10) || fail setup "crr detach"
wait_for 10 sh -c "! kill -0 $orphan" || fail setup "crr detach's fork $orphan did not end"
ip netns exec "$NA" "$STORM" 3000 >"$T/storm.out" || fail setup "exec storm: $(cat "$T/storm.out")"
storm_ms=$((($(date +%s%N) - t0) / 1000000))
wait_for 15 sh -c "[ \$(jq -c 'select(.type==\"process_exit\" and .process.binary==\"/bin/true\")' $X | wc -l) -ge 3000 ]" ||
	fail storm/setup "$(jq -c 'select(.type=="process_exit" and .process.binary=="/bin/true")' "$X" | wc -l) exits of /bin/true recorded"
wait_for 15 sh -c "[ \$(jq -c 'select(.type==\"flow\" and .flow.aggregate and .flow.dst.port==7001)' $X | wc -l) -ge 4 ]" ||
	fail storm/aggregate-written "not four aggregate records for port 7001 in the second run"
for c in "hit:1:exec-holder" "bash -c exec 3<>/dev/tcp:1:image-replaced-by-exec" "client .* 20 1:20:fork-of-ended-image" "detach .* 10:10:orphaned-fork"; do
	IFS=: read -r args n name <<<"$c"
	[[ $args == bash* ]] || args="crr $args"
	want=$(jq -r --arg a "$args" 'select(.type=="process_exec" and (.process.args | join(" ") | test($a))) |
		"\(.process.exec_id) \(.process.binary) '"$n"'"' "$X")
	got=$(jq -r --arg w "${want%% *}" 'select(.type=="flow" and .flow.aggregate and .flow.dst.port==7001 and
		.process.exec_id==$w) | "\(.process.exec_id) \(.process.binary) \(.flow.connections)"' "$X")
	nonone=$(jq -r 'select(.type=="flow" and .flow.aggregate and .flow.dst.port==7001 and .process.exec_id==null) |
		.flow.connections' "$X" | paste -sd+)
	[ -n "$want" ] && [ "$got" = "$want" ] && ok "storm/$name-named-after-3000-exits" ||
		fail "storm/$name-named-after-3000-exits" "aggregate '$got', process_exec '$want', without process: ${nonone:-none}"
done
echo "# connections and storm of 3000 execs took ${storm_ms} ms (interval 10 s)"

kill "${BG[@]}" 2>/dev/null
daemon_stop || fail clean-exit "exit status $?"
cni_del "${P}ca" "$NA" >/dev/null
cni_del "${P}cb" "$NB" >/dev/null
