#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Faults of the daemon and of pods going away, with the real daemon and
# pods of the [bridge, podsentry-cni] chain:
#  - kill -9 of podsentryd: connections that ended just before, while it
#    was down, or that were open across its restart each get their one
#    final flow record, naming both pods, once it runs again (the pinned
#    tables and ring buffer are read at start);
#  - a pod deleted (CNI DEL) while its last connections end: their
#    records still name the pod.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

DARGS=(--state-dir "$STATE" --log-dir "$T/logs" --flow-idle 2 --flow-update 1)
daemon_start "${DARGS[@]}" || { fail setup "daemon"; exit 1; }
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=client" >"$T/a.json" &&
cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=server" >"$T/b.json" ||
	{ fail setup "cni add: $(cat "$T/a.json" "$T/b.json")"; exit 1; }
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
mkdir -p "$T/www"
echo ok >"$T/www/index.html"
ip netns exec "$NB" busybox httpd -f -p 8080 -h "$T/www" &
for p in 9101 9102 9103; do
	ip netns exec "$NB" busybox nc -l -p $p -e /bin/cat &
done
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q :9103" || fail setup "server"

finals() { # PORT [FILE]: final flow records to PORT naming both pods
	jq -c --argjson port "$1" 'select(.type=="flow" and .flow.final and .flow.protocol=="tcp" and
		.flow.dst.port==$port and .flow.src.pod.name=="client" and .flow.dst.pod.name=="server")' \
		"${2:-$T/export.json}" 2>/dev/null
}
get() { ip netns exec "$NA" busybox wget -q -O /dev/null "http://$IPB:8080/?$1"; }

# --- long connections open across the restart (one ends while it is down,
# two after it is back)
for p in 9101 9102 9103; do
	ip netns exec "$NA" sh -c "(echo hello; sleep 30) | busybox nc $IPB $p >/dev/null" &
	eval "LONG_$p=$!"
done
sleep 1
# --- short ones just before the kill: their ends may still be in the
# ring buffer, unread
for i in $(seq 1 20); do get before-$i; done
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
# --- while it is down: short ones, and one of the long ones ends
for i in $(seq 1 30); do get down-$i; done
pkill -f "busybox nc $IPB 9101" ; kill "$LONG_9101" 2>/dev/null
sleep 1
daemon_start "${DARGS[@]}" || { fail restart "the daemon did not start again: $(tail -n 5 "$T/daemon.log")"; exit 1; }
grep -q "podsentryd: ready" "$T/daemon.log" && ok restart/started-on-its-pins
for i in $(seq 1 10); do get after-$i; done
pkill -f "busybox nc $IPB 910[23]"
wait_for 10 sh -c "[ \$(jq -c 'select(.type==\"flow\" and .flow.final and .flow.dst.port==9103)' $T/export.json | grep -c .) -ge 1 ]"
sleep 3 # idle flows end

n=$(finals 8080 | grep -c .)
[ "$n" = 60 ] && ok kill9/every-short-connection-once ||
	fail kill9/every-short-connection-once "$n final records for 60 connections to 8080"
for p in 9101 9102 9103; do
	n=$(finals $p | grep -c .)
	[ "$n" = 1 ] && ok "kill9/long-connection-$p-once" || fail "kill9/long-connection-$p-once" "$n final records"
done
# both of its processes exited while the daemon was down: the flow names
# their execs, whose process_exec records came before the kill
named=0
for end in src dst; do
	id=$(finals 9101 | jq -r ".flow.$end.process.exec_id")
	[ -n "$id" ] && [ "$id" != null ] &&
		has_record ".type==\"process_exec\" and .process.exec_id==\"$id\" and (.process.args | index(\"nc\") != null)" &&
		named=$((named + 1))
done
[ $named = 2 ] && finals 9101 | jqe '.flow.bytes_out >= 6 and .flow.bytes_in >= 6' &&
	ok kill9/ended-while-down-counted-and-named || fail kill9/ended-while-down-counted-and-named "$(finals 9101)"
# the log of each pod has them too
n=$(finals 8080 "$T/logs/shop/client.log" | grep -c .)
[ "$n" = 60 ] && ok kill9/pod-log || fail kill9/pod-log "$n records in the client's log"

# --- a pod deleted while its connection is open: the connection ends
# by the idle timeout after the DEL, and its record still names the pod
ip netns exec "$NB" busybox nc -l -p 9104 -e /bin/cat &
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q :9104"
ip netns exec "$NA" sh -c "(echo bye; sleep 20) | busybox nc $IPB 9104 >/dev/null" &
sleep 1
cni_del "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=client" >/dev/null ||
	fail del "cni del failed"
wait_for 10 has_record '.type=="flow" and .flow.final and .flow.dst.port==9104'
has_record '.type=="flow" and .flow.final and .flow.dst.port==9104 and .flow.src.pod.name=="client" and .pod.name=="client"' &&
	ok del/last-records-keep-the-pod ||
	fail del/last-records-keep-the-pod "$(jq -c 'select(.type=="flow" and .flow.dst.port==9104) | [.pod.name, .flow.src, .flow.final]' "$T/export.json")"
