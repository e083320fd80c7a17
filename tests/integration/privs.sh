#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Least privilege of the running daemon: its capability sets are what
# README.md's table keeps (CAP_BPF only where this kernel needs it for
# bpf() on a map descriptor, found out here with bpftool run without
# capabilities), no_new_privs and seccomp in filter mode; its files and
# folders are 0640/0750 (outputs) and 0600/0700 (state), an existing
# output more open is tightened with one stderr line. Then a real
# scenario (pods through the CNI chain, a process connecting to another
# pod, an alert) and a SIGHUP after the files were moved away: exec,
# exit, flow and alert records reach the old and the reopened files,
# with no EPERM in the daemon's stderr and no call refused by its
# filter in the kernel log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cni/lib-cni.sh"

OUT=$T/out
mkdir -p "$OUT" "$T/logs"
# an existing alerts file, open to all: tightened at start
: >"$OUT/alerts.json" && chmod 0666 "$OUT/alerts.json"
audit_lines() { dmesg 2>/dev/null | grep -c "type=1326.* pid=$1 " ; }

daemon_start --state-dir "$STATE" --export "$OUT/export.json" --alerts "$OUT/alerts.json" \
	--log-dir "$T/logs/pods" --state-file "$T/var/state/detect.json" \
	--flow-idle 1 --flow-update 1 || { fail setup "daemon"; exit 1; }

# --- the capability sets, against README.md's table
cap_bit() { awk -v n="$1" '$1 == "#define" && $2 == n { print $3 }' /usr/include/linux/capability.h; }
mapfile -t KEPT < <(sed -n '/^### Privileges/,/^##/p' "$PS_ROOT/README.md" |
	awk -F'|' '$2 ~ /`CAP_[A-Z_]*`/ && $3 ~ /kept/ { gsub(/[ `]/, "", $2); print $2 }')
# CAP_BPF is kept only where bpf() on an open map needs it
if setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
	bpftool map lookup pinned "$BPFFS/drops" key 0 0 0 0 >/dev/null 2>&1; then
	NEED_BPF=0
else
	NEED_BPF=1
fi
want=0
for c in "${KEPT[@]}"; do
	b=$(cap_bit "$c")
	[ -n "$b" ] || { fail setup "README names $c, not in linux/capability.h"; continue; }
	[ "$c" = CAP_BPF ] && [ $NEED_BPF = 0 ] && continue
	want=$((want | (1 << b)))
done
want=$(printf '%016x' $want)
st() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DAEMON_PID/status"; }
got="CapEff=$(st CapEff) CapPrm=$(st CapPrm) CapBnd=$(st CapBnd) CapInh=$(st CapInh) CapAmb=$(st CapAmb)"
[ ${#KEPT[@]} -gt 0 ] && [ "$got" = "CapEff=$want CapPrm=$want CapBnd=$want CapInh=0000000000000000 CapAmb=0000000000000000" ] &&
	ok caps/readme-list || fail caps/readme-list "$got, README keeps ${KEPT[*]:-nothing} (CAP_BPF needed here: $NEED_BPF): want $want"
[ "$(st NoNewPrivs)" = 1 ] && [ "$(st Seccomp)" = 2 ] && [ "$(st Seccomp_filters)" -ge 1 ] &&
	ok caps/no-new-privs-seccomp ||
	fail caps/no-new-privs-seccomp "NoNewPrivs $(st NoNewPrivs) Seccomp $(st Seccomp) Seccomp_filters $(st Seccomp_filters)"
# what the checks of the scenario below run under
dropped() { [ "$(st CapEff)" = "$want" ] && [ "$(st Seccomp)" = 2 ] && [ "$(st NoNewPrivs)" = 1 ]; }
under="CapEff $(st CapEff), Seccomp $(st Seccomp)"

# --- a real scenario: a pod's process connects to another pod
cni_conflist
NA=$(netns_add a) && NB=$(netns_add b) || { fail setup "netns"; exit 1; }
cni_add "${P}ca" "$NA" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=client" >"$T/a.json" &&
	cni_add "${P}cb" "$NB" eth0 "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=server" >"$T/b.json" ||
	{ fail setup "cni add"; exit 1; }
IPB=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)
ip netns exec "$NB" bash -c "while :; do busybox nc -l -p 5301 </dev/null >/dev/null; done" &
SERVER=$!
wait_for 5 sh -c "ip netns exec $NB ss -ltn | grep -q :5301" || { fail setup "server"; exit 1; }

# scenario TAG EXPORT ALERTS PODLOG FLOWS WAIT: sh (with TAG in its argv)
# runs busybox nc -w WAIT, which connects (and is an alert: one per pod
# and command line, so each scenario's differs); waits for sh's records,
# FLOWS final flows and an alert
scenario() {
	ip netns exec "$NA" sh -c "busybox nc -w $6 $IPB 5301 </dev/null >/dev/null 2>&1; true" "$1"
	wait_for 10 sh -c "grep -q '\"$1\"' $2 && [ \$(grep -c '\"type\":\"flow\".*\"final\":true' $2) -ge $5 ] &&
		grep -q '\"type\":\"alert\"' $3"
	sleep 1.2
}
records_of() { # TAG FILE: the record types naming TAG, and the final flows
	jq -r --arg t "$1" 'select((.process.args // [] | index($t)) or (.type == "flow" and .flow.final)) | .type' "$2" |
		sort -u | tr '\n' ' '
}
has_all() { # TAG FILE
	local r
	r=$(records_of "$1" "$2")
	[[ $r == *flow* && $r == *process_exec* && $r == *process_exit* ]]
}
scenario one "$OUT/export.json" "$OUT/alerts.json" "$T/logs/pods/shop/client.log" 1 1
LOGF=$T/logs/pods/shop/client.log
dropped && has_all one "$OUT/export.json" && has_all one "$LOGF" && [ -s "$OUT/alerts.json" ] &&
	ok run/records-under-filter ||
	fail run/records-under-filter "$under; export: $(records_of one "$OUT/export.json"), pod log: $(records_of one "$LOGF"), alerts: $(wc -l <"$OUT/alerts.json")"

# --- modes
mode() { stat -c '%a' "$1" 2>/dev/null; }
x="export $(mode "$OUT/export.json") alerts $(mode "$OUT/alerts.json") podlog $(mode "$LOGF") logdir $(mode "$T/logs/pods") nsdir $(mode "$T/logs/pods/shop") state $(mode "$T/var/state/detect.json") statedir $(mode "$T/var/state")"
[ "$x" = "export 640 alerts 640 podlog 640 logdir 750 nsdir 750 state 600 statedir 700" ] && ok files/modes ||
	fail files/modes "$x"
grep -qx "podsentryd: $OUT/alerts.json: mode 0666 is more open than 0640: now 0640" "$T/daemon.log" && ok files/tightened-told ||
	fail files/tightened-told "$(grep -v ready "$T/daemon.log" | head -3)"

# --- rotation: the files moved away, SIGHUP, new files with the same modes
mv "$OUT/export.json" "$OUT/export.json.1"
mv "$OUT/alerts.json" "$OUT/alerts.json.1"
mv "$LOGF" "$LOGF.1"
kill -HUP "$DAEMON_PID"
sleep 0.5
scenario two "$OUT/export.json" "$OUT/alerts.json" "$LOGF" 1 2
has_all two "$OUT/export.json" && has_all two "$LOGF" && [ -s "$OUT/alerts.json" ] &&
	! grep -q '"two"' "$OUT/export.json.1" &&
	[ "$(mode "$OUT/export.json")$(mode "$OUT/alerts.json")$(mode "$LOGF")" = 640640640 ] &&
	ok hup/reopened || fail hup/reopened "export: $(records_of two "$OUT/export.json" 2>&1), pod log: $(records_of two "$LOGF" 2>&1), alerts: $(wc -l <"$OUT/alerts.json" 2>&1), modes $(mode "$OUT/export.json") $(mode "$OUT/alerts.json") $(mode "$LOGF")"

# --- nothing refused: no EPERM in stderr, no seccomp audit line of the
# daemon, which ran under the filter all along
pid=$DAEMON_PID
dropped && still=yes || still="no: CapEff $(st CapEff), Seccomp $(st Seccomp)"
kill "$SERVER" 2>/dev/null
daemon_stop
rc=$?
eperm=$(grep -ci 'not permitted\|EPERM' "$T/daemon.log")
[ "$still" = yes ] && [ $rc = 0 ] && [ "$eperm" = 0 ] && [ "$(audit_lines $pid)" = 0 ] &&
	ok run/nothing-refused-by-filter ||
	fail run/nothing-refused-by-filter "under the filter: $still; exit $rc, $eperm EPERM lines, $(audit_lines $pid) seccomp audit lines: $(grep -i 'not permitted' "$T/daemon.log" | head -2) $(dmesg | grep "type=1326.* pid=$pid " | head -2)"

cni_del "${P}ca" "$NA" >/dev/null
cni_del "${P}cb" "$NB" >/dev/null
