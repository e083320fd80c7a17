#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# podsentryd process lifecycle: exec/exit records of pod processes with
# binaries, args, parents and exit codes; scope filtering; exec ids across
# exec without fork and pid reuse; signals; bad input. The main scenario
# runs with the normal and the sanitizer build.
. "$(dirname "$0")/../lib.sh"

POD=$(netns_add pod) || { fail setup "netns add"; exit 1; }
OTHER=$(netns_add oth) || { fail setup "netns add"; exit 1; }
POD_INO=$(netns_ino "$POD")
OTHER_INO=$(netns_ino "$OTHER")

# scenario BINARY LABEL: sh -c 'sleep; exit 3' in a pod and in an
# unregistered netns with --scope pods
scenario() {
	local bin=$1 label=$2 out sh_id sleep_parent n
	rm -f "$T/export.json" "$T/daemon.log"
	PODSENTRYD=$bin daemon_start --scope pods --state-dir "$T/state" ||
		{ fail "$label/start" "daemon did not start"; return; }
	pod_register "$POD" 7
	ip netns exec "$POD" /bin/sh -c '/bin/sleep 0.1; exit 3'
	ip netns exec "$OTHER" /bin/sh -c '/bin/sleep 0.1; exit 4'
	# arguments and cwd share one variable-length part of the record
	local long dir cwd
	long=$(printf 'a%.0s' $(seq 400))
	dir=$(realpath "$T")/work\ dir/sub
	mkdir -p "$dir"
	(cd "$dir" && ip netns exec "$POD" /bin/echo "$long" >/dev/null)
	# a script run by a relative name: the kernel runs its interpreter
	printf '#!/bin/sh\nexit 0\n' >"$dir/run.sh" && chmod +x "$dir/run.sh"
	(cd "$dir" && ip netns exec "$POD" ./run.sh)
	sleep 0.2
	if daemon_stop; then ok "$label/sigterm-exit-0"; else fail "$label/sigterm-exit-0" "status $?"; fi
	out=$T/export.json

	sh_id=$(jq -r 'select(.type=="process_exec" and .process.binary=="/bin/sh"
		and .process.args==["/bin/sh","-c","/bin/sleep 0.1; exit 3"]) | .process.exec_id' "$out")
	n=$(echo "$sh_id" | grep -c .)
	[ "$n" = 1 ] && ok "$label/sh-exec" || fail "$label/sh-exec" "$n process_exec records for sh (want 1)"

	# exe: the file the image runs, as the kernel resolved it, when that
	# is not binary (here /bin may be a link to usr/bin, sh one to dash)
	local want
	want=$(realpath /bin/sh)
	[ "$want" = /bin/sh ] && want=none
	n=$(jq -r --arg id "$sh_id" 'select(.type=="process_exec" and .process.exec_id==$id) |
		.process.exe // "none"' "$out")
	[ -n "$sh_id" ] && [ "$n" = "$want" ] && ok "$label/exe-resolved" ||
		fail "$label/exe-resolved" "sh's exe '$n' (want '$want')"
	n=$(jq -r 'select(.type=="process_exec" and .process.binary=="./run.sh") |
		"\(.process.exe // "none") \(.process.cwd)"' "$out")
	[ "$n" = "$(realpath /bin/sh) $dir" ] && ok "$label/exe-of-script-is-interpreter" ||
		fail "$label/exe-of-script-is-interpreter" "'$n' (want '$(realpath /bin/sh) $dir')"

	cwd=$(jq -r --arg a "$long" 'select(.type=="process_exec" and .process.binary=="/bin/echo"
		and .process.args==["/bin/echo",$a]) | .process.cwd' "$out")
	[ "$cwd" = "$dir" ] && ok "$label/long-args-and-cwd" ||
		fail "$label/long-args-and-cwd" "cwd '$cwd' (want '$dir')"

	sleep_parent=$(jq -r 'select(.type=="process_exec" and .process.binary=="/bin/sleep"
		and .process.args==["/bin/sleep","0.1"]) | .process.parent_exec_id' "$out")
	[ -n "$sh_id" ] && [ "$sleep_parent" = "$sh_id" ] && ok "$label/sleep-parent-is-sh" ||
		fail "$label/sleep-parent-is-sh" "sleep parent '$sleep_parent', sh '$sh_id'"

	n=$(jq -r --argjson ino "$POD_INO" 'select(.type=="process_exec" and
		(.process.binary=="/bin/sh" or .process.binary=="/bin/sleep")) |
		select(.process.netns==$ino and .pod.netns==$ino) | .process.binary' "$out" | sort | tr '\n' ' ')
	[ "$n" = "/bin/sh /bin/sleep " ] && ok "$label/pod-netns" || fail "$label/pod-netns" "got '$n'"

	n=$(jq -r --arg id "$sh_id" 'select(.type=="process_exit" and .process.exec_id==$id) |
		"\(.exit_code) \(.signal) \(.process.binary)"' "$out")
	[ "$n" = "3 0 /bin/sh" ] && ok "$label/sh-exit-3" || fail "$label/sh-exit-3" "exit record: '$n'"

	n=$(jq -r --argjson ino "$OTHER_INO" 'select(.process.netns==$ino) | .type' "$out" | wc -l)
	[ "$n" = 0 ] && ok "$label/unregistered-absent" || fail "$label/unregistered-absent" "$n records from the unregistered netns"

	[ ! -e "$BPFFS/pods" ] && ok "$label/unpinned-at-exit" || fail "$label/unpinned-at-exit" "$(ls "$BPFFS")"
}

scenario "$B/podsentryd" main
if [ -x "$B/san/podsentryd" ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 scenario "$B/san/podsentryd" sanitizer
	if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error' -e 'LeakSanitizer' "$T/daemon.log"; then
		fail sanitizer/clean "$(grep -m3 -e ERROR -e 'runtime error' "$T/daemon.log")"
	else
		ok sanitizer/clean
	fi
else
	fail sanitizer/build "$B/san/podsentryd missing (make SAN=1)"
fi

# exec without fork: two exec ids on one pid, the second's parent the first
rm -f "$T/export.json" "$T/daemon.log"
daemon_start --scope pods --state-dir "$T/state" || { fail exec-no-fork "daemon"; exit 1; }
pod_register "$POD" 7
ip netns exec "$POD" /bin/sh -c 'exec /bin/sleep 0.05'
# pid reuse: steer the next pid to one that was just used
reused=0
for attempt in $(seq 1 20); do
	echo $(( $(cat /proc/sys/kernel/ns_last_pid) )) > /dev/null
	ip netns exec "$POD" /bin/sh -c 'echo $$ > '"$T/pid1"'; exit 3'
	p=$(cat "$T/pid1")
	echo $((p - 1)) > /proc/sys/kernel/ns_last_pid
	ip netns exec "$POD" /bin/sh -c 'echo $$ > '"$T/pid2"'; exit 5'
	if [ "$p" = "$(cat "$T/pid2")" ]; then reused=$p; break; fi
done
sleep 0.2
daemon_stop
out=$T/export.json
first=$(jq -r 'select(.type=="process_exec" and .process.binary=="/bin/sh" and
	.process.args==["/bin/sh","-c","exec /bin/sleep 0.05"]) | "\(.process.exec_id) \(.process.pid)"' "$out")
second=$(jq -r 'select(.type=="process_exec" and .process.binary=="/bin/sleep" and
	.process.args==["/bin/sleep","0.05"]) | "\(.process.exec_id) \(.process.pid) \(.process.parent_exec_id)"' "$out")
read -r id1 pid1 <<<"$first"
read -r id2 pid2 parent2 <<<"$second"
if [ -n "$id1" ] && [ "$pid1" = "$pid2" ] && [ "$id1" != "$id2" ] && [ "$parent2" = "$id1" ]; then
	ok exec-without-fork
else
	fail exec-without-fork "sh: '$first' sleep: '$second'"
fi
if [ "$reused" = 0 ]; then
	fail pid-reuse "could not get the kernel to reuse a pid in 20 attempts"
else
	# the two processes on one pid are told apart: each exec has its own
	# id, its own parent (not the other: no exec without fork) and its
	# own exit, with its own status
	pr=$(jq -c --argjson p "$reused" 'select(.process.pid==$p and .process.binary=="/bin/sh" and
		(.type=="process_exec" or .type=="process_exit")) |
		[.type, .process.exec_id, .process.parent_exec_id, .exit_code]' "$out")
	if jq -se '
		[.[] | select(.[0]=="process_exec")] as $e | [.[] | select(.[0]=="process_exit")] as $x |
		($e | length) == 2 and ($x | length) == 2 and $e[0][1] != $e[1][1] and
		$e[1][2] != $e[0][1] and
		([$x[] | select(.[1]==$e[0][1]) | .[3]] == [3]) and
		([$x[] | select(.[1]==$e[1][1]) | .[3]] == [5])' <<<"$pr" >/dev/null; then
		ok pid-reuse
	else
		fail pid-reuse "pid $reused: $(echo $pr)"
	fi
fi
dups=$(jq -r 'select(.type=="process_exec") | .process.exec_id' "$out" | sort | uniq -d | wc -l)
[ "$dups" = 0 ] && ok exec-ids-unique || fail exec-ids-unique "$dups duplicated exec ids"

# --scope all: the unregistered netns is reported
rm -f "$T/export.json" "$T/daemon.log"
daemon_start --scope all --state-dir "$T/state" || { fail scope-all "daemon"; exit 1; }
ip netns exec "$OTHER" /bin/sh -c 'exit 5'
sleep 0.2
daemon_stop
n=$(jq -r --argjson ino "$OTHER_INO" 'select(.type=="process_exit" and .process.netns==$ino and .exit_code==5) | .type' "$T/export.json" | wc -l)
[ "$n" = 1 ] && ok scope-all || fail scope-all "$n exit records with code 5 from the unregistered netns"

# a second daemon on the same folder fails and leaves the first unharmed
rm -f "$T/export.json" "$T/daemon.log"
daemon_start --scope pods --state-dir "$T/state" || { fail second-daemon "daemon"; exit 1; }
"$PODSENTRYD" --bpffs "$BPFFS" --export "$T/second.json" 2>"$T/second.err"
rc=$?
pod_register "$POD" 7
ip netns exec "$POD" /bin/sh -c 'exit 6'
sleep 0.2
if [ $rc != 0 ] && grep -q "in use by another podsentryd" "$T/second.err" &&
	kill -0 "$DAEMON_PID" && [ -e "$BPFFS/pods" ]; then
	ok second-daemon-refused
else
	fail second-daemon-refused "rc=$rc: $(cat "$T/second.err")"
fi
# SIGHUP reopens the export file (rotation)
mv "$T/export.json" "$T/export.json.1"
kill -HUP "$DAEMON_PID"
wait_for 5 test -e "$T/export.json"
ip netns exec "$POD" /bin/sh -c 'exit 7'
sleep 0.2
daemon_stop
if has_record '.type=="process_exit" and .exit_code==6' "$T/export.json.1" &&
	has_record '.type=="process_exit" and .exit_code==7' "$T/export.json"; then
	ok first-daemon-unharmed-and-sighup-reopens
else
	fail first-daemon-unharmed-and-sighup-reopens "records missing from export.json.1 / export.json"
fi

# --keep-pins leaves the maps and programs
daemon_start --keep-pins --state-dir "$T/state" && daemon_stop
[ -e "$BPFFS/pods" ] && [ -e "$BPFFS/prog_tc_ingress" ] && ok keep-pins || fail keep-pins "$(ls "$BPFFS" 2>&1)"
# ... and a restart reuses them
daemon_start --state-dir "$T/state" && daemon_stop && [ ! -e "$BPFFS/pods" ] &&
	ok restart-over-kept-pins || fail restart-over-kept-pins "$(tail -3 "$T/daemon.log")"

# bad input
"$PODSENTRYD" --bpffs "$BPFFS" --export /nonexistent-dir/x.json 2>"$T/err"; rc=$?
[ $rc != 0 ] && grep -q "cannot open export file /nonexistent-dir/x.json: No such file or directory" "$T/err" &&
	ok bad-export-path || fail bad-export-path "rc=$rc $(cat "$T/err")"
"$PODSENTRYD" --bogus 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q -- "--bogus" "$T/err" && grep -qx "Try 'podsentryd --help'." "$T/err" && [ "$(wc -l <"$T/err")" = 2 ] &&
	ok unknown-option-usage || fail unknown-option-usage "rc=$rc $(head -2 "$T/err")"
"$PODSENTRYD" --scope nodes 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 'scope: "nodes" is not pods or all' "$T/err" &&
	ok bad-scope || fail bad-scope "rc=$rc $(head -1 "$T/err")"
"$PODSENTRYD" --max-flows 4096,10 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 'max-flows: "4096,10" is not N or N4,N6 with each from 1024 to' "$T/err" &&
	ok bad-max-flows || fail bad-max-flows "rc=$rc $(head -1 "$T/err")"
for v in 15 1048577 16k -1; do
	"$PODSENTRYD" --max-connects "$v" 2>"$T/err"; rc=$?
	[ $rc = 2 ] && grep -q "max-connects: \"$v\" is not a number from 16 to 1048576" "$T/err" ||
		{ fail bad-max-connects "$v: rc=$rc $(head -1 "$T/err")"; break; }
done
[ "$v" = -1 ] && [ $rc = 2 ] && ok bad-max-connects
"$PODSENTRYD" --help >"$T/help"; rc=$?
[ $rc = 0 ] && grep -q "Examples:" "$T/help" && ok help || fail help "rc=$rc"
[ ! -e "$BPFFS/pods" ] && ok bad-input-leaves-nothing || fail bad-input-leaves-nothing "$(ls "$BPFFS")"

# --max-flows sizes both flow tables
if daemon_start --state-dir "$T/state" --max-flows 4096,2048; then
	m4=$(map_info flows4 max_entries) m6=$(map_info flows6 max_entries)
	daemon_stop
	[ "$m4" = 4096 ] && [ "$m6" = 2048 ] && ok max-flows-sizes ||
		fail max-flows-sizes "flows4 $m4 flows6 $m6 entries, want 4096 and 2048"
else
	fail max-flows-sizes "daemon: $(tail -3 "$T/daemon.log")"
fi

# a ring-buffer overflow is counted and reported as a "lost" record
rm -f "$T/export.json" "$T/daemon.log"
daemon_start --scope all --state-dir "$T/state" || { fail lost-record "daemon"; exit 1; }
kill -STOP "$DAEMON_PID"
"$B/bench/exec_storm" 6000 >/dev/null
kill -CONT "$DAEMON_PID"
wait_for 10 grep -q '"type":"lost"' "$T/export.json"
daemon_stop
lost=$(jq -s '[.[] | select(.type=="lost" and .lost.reason=="ringbuf_exec") | .lost.count] | add // 0' "$T/export.json")
execs=$(jq -s '[.[] | select(.type=="process_exec" and .process.binary=="/bin/true")] | length' "$T/export.json")
# every /bin/true exec is either recorded or counted as lost
if [ "$lost" -gt 0 ] && [ $((lost + execs)) -ge 6000 ]; then
	ok lost-record-counts-overflow
else
	fail lost-record-counts-overflow "lost=$lost recorded=$execs of 6000"
fi

# a pod process that started before the daemon (seeded from /proc): its
# exit is reported, named from what /proc said; one outside the pods is not
rm -f "$T/export.json" "$T/daemon.log"
ip netns exec "$POD" /bin/sleep 30 &
early=$!
ip netns exec "$OTHER" /bin/sleep 31 &
early_other=$!
sleep 0.2
if daemon_start --scope pods --state-dir "$T/state"; then
	pod_register "$POD" 7
	kill -TERM "$early" "$early_other"
	wait "$early" "$early_other" 2>/dev/null
	wait_for 5 grep -q '"type":"process_exit"' "$T/export.json"
	daemon_stop
	n=$(jq -r --argjson pid "$early" 'select(.type=="process_exit" and .process.pid==$pid) |
		"\(.signal) \(.process.binary | test("/sleep$")) \(.pod != null)"' "$T/export.json")
	[ "$n" = "15 true true" ] && ok seeded-exit-reported ||
		fail seeded-exit-reported "exit record of pid $early: '$n'"
	n=$(jq -r --argjson pid "$early_other" 'select(.process.pid==$pid) | .type' "$T/export.json" | wc -l)
	[ "$n" = 0 ] && ok seeded-exit-outside-pods-absent ||
		fail seeded-exit-outside-pods-absent "$n records of pid $early_other"
else
	kill "$early" "$early_other" 2>/dev/null
	fail seeded-exit-reported "daemon: $(tail -3 "$T/daemon.log")"
fi
