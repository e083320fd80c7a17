#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The detection state file across restarts, with the real daemon: a
# broken file is reported with the member that is wrong and kept aside as
# FILE.broken while the daemon starts; a folder or a symbolic link stops
# it; a version 1 file is read and saved again as version 2 with its
# baseline, open alert and process tree, bytes that are not text kept; a
# new file is 0600 in a 0700 folder made for it.
. "$(dirname "$0")/../lib.sh"

NOW=$(date +%s%N)
start_stop() { # STATE_FILE: start the daemon on it and stop it
	daemon_start --export /dev/null --state-file "$1" && daemon_stop
}

# --- broken files: the daemon starts, the file is set aside unchanged
broken() { # NAME TEXT WANT
	local f=$T/broken-$1.json
	printf '%s' "$2" >"$f"
	if ! start_stop "$f"; then
		fail "broken/$1" "the daemon did not start: $(tail -n 3 "$T/daemon.log")"
		return
	fi
	grep -qF "podsentryd: state file $f: $3; set aside as $f.broken, starting with an empty state" "$T/daemon.log" &&
		ok "broken/$1/message" ||
		fail "broken/$1/message" "want '$3': $(grep 'state file' "$T/daemon.log" | tail -n 1)"
	[ "$(cat "$f.broken")" = "$2" ] && ok "broken/$1/kept-aside" || fail "broken/$1/kept-aside" "$(ls "$T")"
	jq -e '.version == 2' "$f" >/dev/null && ok "broken/$1/new-state-saved" ||
		fail "broken/$1/new-state-saved" "$(cat "$f" 2>&1)"
}
broken not-json '{"version": 2, "pods": {' 'not JSON: unexpected end of data at byte 25'
broken trailing '{"version":2,"pods":{},"alerts":[],"processes":[]} x' 'not JSON: unexpected character at byte 52'
broken wrong-type '{"version":2,"pods":{"shop/web":{"first_seen":"x","last_seen":1,"peers":[]}},"alerts":[],"processes":[]}' \
	'pods."shop/web".first_seen: not an integer'
broken unknown-member '{"version":2,"pods":{},"alerts":[],"processes":[],"extra":1}' 'extra: not a member of the state'
broken newer-version '{"version":3}' 'version: version 3 is not one this podsentryd reads (1..2)'
broken bad-rule "{\"version\":2,\"pods\":{},\"alerts\":[{\"id\":\"a\",\"rule\":\"nope\",\"pod\":\"a/b\",\"tree\":\"n:1:2\",\"target\":\"\",\"netns\":1,\"first\":$NOW,\"last\":$NOW,\"count\":1}],\"processes\":[]}" \
	'alerts[0].rule: "nope" is not a rule'
broken record-of-another-alert "{\"version\":2,\"pods\":{},\"alerts\":[{\"id\":\"a\",\"rule\":\"reverse-shell\",\"pod\":\"a/b\",\"tree\":\"n:1:2\",\"target\":\"\",\"netns\":1,\"first\":$NOW,\"last\":$NOW,\"count\":1,\"record\":\"{\\\"type\\\":\\\"alert\\\",\\\"alert\\\":{\\\"id\\\":\\\"b\\\"}}\"}],\"processes\":[]}" \
	'alerts[0].record: not an alert record of id "a"'
broken record-not-json "{\"version\":2,\"pods\":{},\"alerts\":[{\"id\":\"a\",\"rule\":\"reverse-shell\",\"pod\":\"a/b\",\"tree\":\"n:1:2\",\"target\":\"\",\"netns\":1,\"first\":$NOW,\"last\":$NOW,\"count\":1,\"record\":\"{\\\"type\\\"\"}],\"processes\":[]}" \
	'alerts[0].record: not one JSON text'
broken bad-exec-id '{"version":2,"pods":{},"alerts":[],"processes":[{"exec_id":"12","parent":"n:1:1","netns":1,"binary":"/bin/sh"}]}' \
	'processes[0].exec_id: "12" is not an exec id (node:ktime:pid)'
broken bad-escape '{"version":2,"pods":{},"alerts":[],"processes":[{"exec_id":"n:5:2","parent":"n:1:1","netns":1,"binary":"a\\q","binary_escaped":true}]}' \
	'processes[0].binary: flagged escaped but not in the escaped form'
broken not-an-object '[1, 2]' '(top): not an object'
# shapes that once crashed the daemon at every start
broken version-only '{"version":1}' 'pods: missing'
broken processes-a-number '{"version":1,"pods":{},"alerts":[],"processes":5}' 'processes: not an object'
broken pods-an-array '{"version":1,"pods":[],"alerts":[],"processes":{}}' 'pods: not an object'
broken alerts-an-object '{"version":1,"pods":{},"alerts":{"a":1},"processes":{}}' 'alerts: not an array'

# --- what is not a file stops the daemon, untouched
mkdir -p "$T/folder.json"
out=$("$PODSENTRYD" --bpffs "$BPFFS" --export /dev/null --socket "$T/api.sock" --state-file "$T/folder.json" 2>&1)
rc=$?
[ $rc != 0 ] && grep -qF -- "--state-file $T/folder.json: Is a directory (give a file path, not a folder)" <<<"$out" &&
	[ -d "$T/folder.json" ] && ! [ -e "$T/folder.json.broken" ] &&
	ok refused/folder || fail refused/folder "rc $rc: $out"
echo '{}' >"$T/target.json"
ln -s "$T/target.json" "$T/link.json"
out=$("$PODSENTRYD" --bpffs "$BPFFS" --export /dev/null --socket "$T/api.sock" --state-file "$T/link.json" 2>&1)
rc=$?
[ $rc != 0 ] && grep -qF "a symbolic link is not followed" <<<"$out" && [ "$(cat "$T/target.json")" = '{}' ] &&
	ok refused/symbolic-link || fail refused/symbolic-link "rc $rc: $out"

# --- version 1 is read and saved as version 2, nothing lost
V1=$T/v1.json
cat >"$V1" <<EOF
{"version":1,
 "pods":{"shop/web":{"first_seen":$((NOW - 3600000000000)),"last_seen":$NOW,
   "peers":["pod shop/db:5432/tcp","10.9.0.7:443/tcp"]}},
 "alerts":[{"id":"18ed-7","rule":"reverse-shell","pod":"shop/web","tree":"n:1000:77","netns":4026530001,
   "first":$NOW,"last":$NOW,"count":3}],
 "processes":{"n:1000:77":{"parent":"n:900:70","netns":4026530001,"first":false,"exec_into":false,
   "brief":{"exec_id":"n:1000:77","pid":77,"binary":"/bin/sh","args":["sh","-c","a\\\\xffb"],"args_escaped":true}},
  "n:900:70":{"parent":"n:1:1","netns":4026530001,"first":true,"exec_into":false,
   "brief":{"exec_id":"n:900:70","pid":70,"binary":"/usr/sbin/httpd","args":["httpd","-f"]}}}}
EOF
jq -e . "$V1" >/dev/null || fail setup "the v1 file is not JSON"
start_stop "$V1" || fail v1/daemon "$(tail -n 3 "$T/daemon.log")"
! grep -q "state file $V1" "$T/daemon.log" && ok v1/read-without-complaint ||
	fail v1/read-without-complaint "$(grep 'state file' "$T/daemon.log")"
jq -e '.version == 2 and (.pods["shop/web"].peers | sort) == ["10.9.0.7:443/tcp", "pod shop/db:5432/tcp"] and
	(.pods["shop/web"].first_seen | . < '"$NOW"')' "$V1" >/dev/null &&
	ok v1/baseline-kept || fail v1/baseline-kept "$(jq -c .pods "$V1")"
jq -e '.alerts | length == 1 and .[0].id == "18ed-7" and .[0].count == 3 and .[0].rule == "reverse-shell" and
	(.[0].tree | endswith(":1000:77"))' "$V1" >/dev/null &&
	ok v1/open-alert-kept || fail v1/open-alert-kept "$(jq -c .alerts "$V1")"
# the tree, root first; the argument that is not text in the escaped form
jq -e '[.processes[] | .binary] == ["/usr/sbin/httpd", "/bin/sh"] and .processes[0].first and
	.processes[1].args == ["sh", "-c", "a\\xffb"] and .processes[1].args_escaped' "$V1" >/dev/null &&
	ok v1/tree-kept-bytes-and-all || fail v1/tree-kept-bytes-and-all "$(jq -c .processes "$V1")"
# read again: the same state (the save of a load is stable)
cp "$V1" "$T/v2.json"
start_stop "$T/v2.json"
diff <(jq -S 'del(.saved, .pods[].last_seen)' "$V1") <(jq -S 'del(.saved, .pods[].last_seen)' "$T/v2.json") >/dev/null &&
	ok v2/read-back-unchanged || fail v2/read-back-unchanged "$(diff <(jq -S . "$V1") <(jq -S . "$T/v2.json"))"

# --- a new state file: 0600 in a 0700 folder made for it
NEW=$T/new/sub/state.json
start_stop "$NEW"
[ "$(stat -c %a "$NEW" 2>/dev/null)" = 600 ] && [ "$(stat -c %a "$T/new/sub")" = 700 ] &&
	ok new/private-modes || fail new/private-modes "$(stat -c '%n %a' "$NEW" "$T/new/sub" 2>&1)"
