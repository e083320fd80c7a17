#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A full disk under the export: the export on a 256 KiB tmpfs, the pod
# log on a roomy one, records from processes exec'd in a watched pod
# (a registered netns without a veth: no flows, so every record is a
# pod record and the pod log holds all of them). While the tmpfs is full
# no line of the export is partial, the daemon runs on and says once on
# stderr that records are dropped; when space returns writing resumes,
# a "lost" record (export_write) counts exactly the records the export
# lacks against the pod log, and nothing written after it is lost.
. "$(dirname "$0")/../lib.sh"

FULL=$T/full
EXPORT=$FULL/export.json
mkdir -p "$FULL"
mount -t tmpfs -o size=256k "${P}full" "$FULL" || { fail setup "mount tmpfs"; exit 1; }
trap '[ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	umount -l "$FULL" 2>/dev/null' EXIT
# a filler to delete later: what is left fills after ~100 records
head -c 150k /dev/zero >"$FULL/filler"

daemon_start --export "$EXPORT" --log-dir "$T/logs" || { fail setup "daemon"; exit 1; }
NS=$(netns_add pod) && pod_register "$NS" 7 || { fail setup "pod"; exit 1; }
LOGF=$T/logs/_unnamed/netns-$(netns_ino "$NS").log

# run PREFIX FROM TO: one short process per number, a few at a time so
# the ring buffer never overflows (its drops are other lost records)
run() {
	local i
	for ((i = $2; i <= $3; i += 10)); do
		ip netns exec "$NS" sh -c "for j in \$(seq $i $((i + 9))); do /bin/true $1-\$j; done"
		sleep 0.05
	done
}
# has_exec PREFIX-N FILE: the process_exec record of that process
has_exec() {
	grep -F "\"/bin/true\",\"$1\"]" "$2" | grep -q '"type":"process_exec"'
}
starts() { grep -c "^podsentryd: export $EXPORT: No space left on device: records are dropped and counted$" "$T/daemon.log"; }
ends() { grep -c "^podsentryd: export $EXPORT: writing again; " "$T/daemon.log"; }

# --- fill it, then keep writing while it is full
free_blocks() { stat -f -c %a "$FULL"; }
for ((k = 0; k < 30; k++)); do
	run fill $((k * 20 + 1)) $((k * 20 + 20))
	sleep 0.3
	[ "$(free_blocks)" = 0 ] && break
done
[ "$(free_blocks)" = 0 ] || { fail setup "the export never filled: $(df -h "$FULL" | tail -1)"; exit 1; }
run full 1 60
sleep 1.5 # the daemon flushes once a second at least

# every line whole: each parses as one JSON object, the file ends in a newline
n=$(wc -l <"$EXPORT")
bad=$(python3 -c '
import json, sys
data = open(sys.argv[1], "rb").read()
bad = 0 if data.endswith(b"\n") else 1
for l in data.split(b"\n")[:-1]:
    try:
        assert isinstance(json.loads(l.decode("utf-8")), dict)
    except Exception:
        bad += 1
print(bad)' "$EXPORT")
alive=$(kill -0 "$DAEMON_PID" 2>/dev/null && echo yes || echo no)
[ "$bad" = 0 ] && [ "$n" -gt 50 ] && [ $alive = yes ] && ok full/whole-lines-daemon-runs ||
	fail full/whole-lines-daemon-runs "$bad broken lines of $n (or a last line without newline), daemon alive: $alive $(tail -2 "$T/daemon.log")"
# dropped (full-60 is in the pod log, not in the export) and told once
dropped=$(has_exec full-60 "$LOGF" && ! has_exec full-60 "$EXPORT" && echo yes || echo no)
[ $dropped = yes ] && [ "$(starts)" = 1 ] && [ "$(ends)" = 0 ] && ok full/dropped-told-once ||
	fail full/dropped-told-once "dropped: $dropped, $(starts) start lines, $(ends) end lines: $(grep -v ready "$T/daemon.log" | tail -4 | tr '\n' '|')"

# --- space returns: writing resumes, the loss is told and exact
rm -f "$FULL/filler"
run after 1 20
wait_for 10 has_exec after-20 "$EXPORT"
sleep 1.5
daemon_stop
x=$(python3 -c '
import json, sys
exp = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
pod = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
def obj(l):
    try:
        return json.loads(l)
    except ValueError:
        return {}
recs = [obj(l) for l in exp]
lost = [r for r in recs if r.get("type") == "lost" and r["lost"]["reason"] == "export_write"]
missing = set(pod) - set(exp)
after = [l for l in pod if b"\"after-" in l]
print(len(lost), sum(r["lost"]["count"] for r in lost), len(missing),
      lost[-1]["lost"]["total"] if lost else -1,
      sum(1 for l in after if l not in set(exp)), len(after),
      # the last lost record comes before the first record after it
      int(bool(lost) and all(exp.index(l) > recs.index(lost[-1]) for l in after if l in set(exp))))' "$EXPORT" "$LOGF")
read -r nlost counted missing total after_lost after_all told_first <<<"$x"
grep '"type":"lost"' "$EXPORT" >&2
[ "$nlost" -ge 1 ] && [ "$counted" = "$missing" ] && [ "$total" = "$missing" ] && [ "$missing" -gt 0 ] &&
	ok resume/lost-record-counts-exactly ||
	fail resume/lost-record-counts-exactly "$nlost lost records counting $counted (total $total), the export lacks $missing of the pod log's records"
[ "$after_all" -ge 40 ] && [ "$after_lost" = 0 ] && [ "$told_first" = 1 ] && ok resume/told-first-nothing-lost-after ||
	fail resume/told-first-nothing-lost-after "$after_lost of $after_all records after the resumption missing; lost record before them: $told_first"
[ "$(ends)" = 1 ] && grep -q "writing again; $missing records" "$T/daemon.log" && ok resume/one-stderr-line ||
	fail resume/one-stderr-line "$(ends) end lines: $(grep 'writing again' "$T/daemon.log")"
