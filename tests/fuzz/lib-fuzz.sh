#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Run libFuzzer targets one after the other, each for SECONDS on its own
# corpus folder WORK/<name> (made from tests/fuzz/corpus/<name>, which
# is read too and never written), with tests/fuzz/<name>.dict when there
# is one. Crashing inputs go to build/fuzz/artifacts/ (next to the
# targets). Prints "ok fuzz/<name> (N runs)" per clean target, or "not
# ok fuzz/<name>: why" and the report; the exit status is 1 when a
# target failed.
#   tests/fuzz/lib-fuzz.sh SECONDS WORK build/fuzz/fuzz_<name>...
set -u
secs=$1 work=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
rc=0
[ $# -gt 0 ] || { echo "not ok fuzz: no fuzz targets given"; exit 1; }
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	if [ ! -x "$bin" ]; then
		echo "not ok fuzz/$name: $bin is not built (make fuzz-build)"
		rc=1
		continue
	fi
	seeds=$here/corpus/$name
	art=$(dirname "$bin")/artifacts
	log=$work/$name.log
	mkdir -p "$work/$name" "$art"
	dict=()
	[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
	t0=$(date +%s)
	# -timeout: one input taking longer is a hang, reported as such
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/$name-" "${dict[@]}" \
		"$work/$name" "$seeds" >"$log" 2>&1
	status=$?
	dt=$(( $(date +%s) - t0 ))
	runs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
	bad=$(grep -m 1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|does not hold|==[0-9]+== ?ERROR' "$log")
	if [ $status = 0 ] && [ -z "$bad" ] && [ -n "$runs" ]; then
		echo "ok fuzz/$name ($runs runs)"
		echo "fuzz/$name: $runs runs in ${dt}s clean, corpus $(ls "$work/$name" | wc -l) inputs" >&2
	else
		echo "not ok fuzz/$name: exit $status after ${dt}s: ${bad:-no final stats}"
		grep -E -A 30 'ERROR|runtime error|does not hold' "$log" | head -n 60 >&2
		ls -t "$art/$name-"* 2>/dev/null | head -n 1 | sed 's/^/input: /' >&2
		rc=1
	fi
done
exit $rc
