#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Opt-in enforcement: exec-into-pod with "action": "deny" (a process
# entered from outside quarantines the pod). Two pods on one bridge, one
# whose podsentry-cni config has enforce + xdp, one without; each has a
# learned peer (elastic:80) and, after a shell is exec'd into it, tries
# elastic:9200. In the enforcing pod the learned
# peer still answers, the new connection fails and is recorded as a flow
# with verdict dropped; in the other pod the same connection succeeds.
# After the daemon stops, nothing is denied any more.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"
AL=$T/alerts.json
cat >"$T/config.json" <<'JSON'
{ "rules": { "exec-into-pod": { "action": "deny" },
             "new-east-west-peer": { "learning_window": 4 } } }
JSON
daemon_start --state-dir "$STATE" --config "$T/config.json" --alerts "$AL" \
	--state-file "$T/state.json" --flow-idle 1 --flow-update 1 --keep-pins ||
	{ fail setup daemon; exit 1; }

pod_add() { # NAME POD: through the current conflist; prints the IP
	local ns=$P$1
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
		cni_add "$ns" "$ns" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=t;K8S_POD_NAME=$2" >"$T/$1.cni" ||
		return 1
	jq -r '.ips[0].address' "$T/$1.cni" | cut -d/ -f1
}
cni_conflist '{"enforce": true, "xdp": true}'
IPE=$(pod_add e elastic) && IPD=$(pod_add d guarded) || { fail setup "cni: $(cat "$T"/*.cni)"; exit 1; }
cp "$CONFLIST" "$T/enforce.conflist"
cni_conflist '{}'
IPO=$(pod_add o open) || { fail setup "cni: $(cat "$T"/o.cni)"; exit 1; }
cp "$CONFLIST" "$T/plain.conflist"

mkdir -p "$T/www"; echo green >"$T/www/index.html"
ip netns exec ${P}e sh -c "busybox httpd -f -p 80 -h $T/www & busybox httpd -f -p 9200 -h $T/www & wait" &
EPID=$!
n_cmd=0
pod_run() { # NAME CMD: a new process tree under the pod's first process
	# (not in a pipeline: a subshell would not count n_cmd)
	n_cmd=$((n_cmd + 1))
	echo "$2" >"$T/cmd/$1/c$n_cmd.tmp" && mv "$T/cmd/$1/c$n_cmd.tmp" "$T/cmd/$1/c$n_cmd.sh"
	wait_for 20 test -e "$T/cmd/$1/c$n_cmd.sh.done" && cat "$T/cmd/$1/c$n_cmd.sh.out"
}
# no exec into elastic (that would be a foothold): its sockets from /proc
wait_for 5 sh -c "for p in \$(pgrep -f 'httpd -f -p 9200 -h $T'); do cat /proc/\$p/net/tcp /proc/\$p/net/tcp6 | grep -q ':23F0 ' && exit 0; done; exit 1" ||
	fail setup "elastic is not listening"
# after elastic is up (the learning window starts with a pod's first
# process): each pod's first process runs the command files pod_run leaves for it
for n in d o; do
	mkdir -p "$T/cmd/$n"
	ip netns exec $P$n sh -c "cd $T/cmd/$n; while :; do for f in *.sh; do
		[ -e \"\$f\" ] && { sh \"\$f\" >\"\$f.out\" 2>&1; mv \"\$f\" \"\$f.done\"; }; done; sleep 0.05; done" &
done
get() { echo "timeout 3 busybox wget -q -O - http://$1/"; }
# learning: both pods read elastic:80 from their first process tree
for n in d o; do
	pod_run $n "$(get $IPE)" >"$T/$n.first"
	grep -q green "$T/$n.first" || fail setup "learn $n"
done
sleep 4
# the shell entered into each pod reads elastic:9200 after a moment
for n in d o; do
	ip netns exec $P$n sh -c "sleep 0.5; $(get $IPE:9200)" >"$T/$n.out" 2>&1
	echo "rc=$?" >>"$T/$n.out"
	pod_run $n "$(get $IPE)" >"$T/$n.learned" 2>&1
done
grep -q green "$T/o.out" && ok off/connection-succeeds || fail off/connection-succeeds "$(cat "$T/o.out")"
# dropped, not refused: no answer at all until the timeout ends it
grep -q green "$T/d.out" || ! grep -q 'rc=124' "$T/d.out" &&
	fail on/connection-dropped "$(cat "$T/d.out")" || ok on/connection-dropped
grep -q green "$T/d.learned" && ok on/learned-peer-still-reachable || fail on/learned-peer-still-reachable "$(cat "$T/d.learned")"
wait_for 6 has_record '.type=="flow" and .pod.name=="guarded" and .flow.dst.port==9200 and .flow.verdict=="dropped"' &&
	ok on/recorded-as-dropped || fail on/recorded-as-dropped "$(jq -c 'select(.type=="flow" and .flow.dst.port==9200) | [.pod.name, .flow.verdict]' "$T/export.json")"
has_record '.type=="flow" and .pod.name=="open" and .flow.dst.port==9200 and .flow.verdict=="dropped"' &&
	fail off/nothing-dropped "a flow of pod open was dropped" || ok off/nothing-dropped
wait_for 5 has_record '.alert.rule=="lateral-movement" and .pod.name=="guarded" and .evidence.enforced' "$AL" &&
	ok on/alert-says-enforced || fail on/alert-says-enforced "$(jq -c 'select(.alert.rule=="lateral-movement") | [.pod.name, .alert.action, .evidence.enforced]' "$AL")"
wait_for 5 has_record '.alert.rule=="lateral-movement" and .pod.name=="open" and (.evidence.enforced | not)' "$AL" &&
	ok off/alert-without-enforcement || fail off/alert-without-enforcement "$(jq -c 'select(.alert.rule=="lateral-movement") | .pod.name' "$AL")"
denies() { bpftool -j map dump pinned "$BPFFS/deny" | jq -e length; } # kept pinned
n=$(denies) && [ "$n" -gt 0 ] && ok on/denies-in-the-kernel || fail on/denies-in-the-kernel "deny map: '$n'"
daemon_stop || fail clean-exit "daemon exit status $?"
n=$(denies) && [ "$n" = 0 ] && ok on/denies-removed-at-exit ||
	fail on/denies-removed-at-exit "deny map: '$n': $(bpftool -j map dump pinned "$BPFFS/deny" 2>&1 | head -c 300)"

for n in d o e; do ip netns pids "$P$n" 2>/dev/null | xargs -r kill 2>/dev/null; done
CONFLIST=$T/enforce.conflist; cni_del ${P}e ${P}e >/dev/null; cni_del ${P}d ${P}d >/dev/null
CONFLIST=$T/plain.conflist; cni_del ${P}o ${P}o >/dev/null
ip link del "$BR" 2>/dev/null
rm -rf "$BPFFS"
true
