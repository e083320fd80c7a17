#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The one test runner: C test binaries (unit, BPF, sanitizer builds) and
# shell tests (integration, CNI chain, end to end, fuzz smoke runs). Every test gets its own
# netns/link name prefix, bpffs folder and temp folder, cleaned before and
# after it. Each test prints "ok NAME", "not ok NAME: why" or
# "skip NAME: why" per subtest. With CI=true a skip counts as a failure.
#
#   tests/run.sh [PATTERN...]     run the tests whose path matches a pattern
#   KEEP=1 tests/run.sh ...       keep a failed test's files (beside its log),
#                                 KEEP=all every test's
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
cd "$ROOT"

if [ "$(id -u)" != 0 ]; then
	echo "tests/run.sh: the suite loads BPF programs and makes network namespaces: run it as root" >&2
	exit 2
fi

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

RUN_ID=$(printf '%04x' $(( (RANDOM << 1 ^ $$) & 0xffff )))
LOGDIR=${TEST_LOGDIR:-/tmp/podsentry-test-logs/$RUN_ID}
mkdir -p "$LOGDIR"

tests=()
for f in "$BUILD"/tests/unit/* "$BUILD"/tests/bpf/* "$BUILD"/san/tests/unit/*; do
	[ -x "$f" ] && tests+=("$f")
done
for f in tests/integration/*.sh tests/cni/*.sh tests/e2e/*.sh tests/fuzz/*.sh; do
	case "$f" in */lib-*.sh) continue ;; esac
	[ -f "$f" ] && tests+=("$f")
done
if [ $# -gt 0 ]; then
	sel=()
	for t in "${tests[@]}"; do
		for p in "$@"; do
			case "$t" in *$p*) sel+=("$t"); break ;; esac
		done
	done
	for p in "$@"; do
		hit=
		for t in "${tests[@]}"; do
			case "$t" in *$p*) hit=1; break ;; esac
		done
		if [ -z "$hit" ]; then
			echo "tests/run.sh: no test matches \"$p\" (tests are named by path, e.g. integration/detect)" >&2
			exit 2
		fi
	done
	tests=("${sel[@]}")
fi

cleanup() { # prefix tmpdir bpffs
	local prefix=$1 tmp=$2 bpffs=$3 n l
	if command -v podman >/dev/null; then
		for n in $(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^$prefix"); do
			podman rm -f -t 0 "$n" >/dev/null 2>&1
		done
	fi
	pkill -KILL -f -- "$prefix" 2>/dev/null
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix"); do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$prefix"); do
		ip link del "$l" 2>/dev/null
	done
	rm -rf /var/lib/cni/networks/"$prefix"* /etc/cni/net.d/"$prefix"* 2>/dev/null
	rm -rf "$bpffs" "$tmp"
}

pass=0 fail=0 skip=0 idx=0
start_all=$(date +%s)
for t in "${tests[@]}"; do
	idx=$((idx + 1))
	name=${t#"$BUILD"/}
	name=${name#tests/}
	name=${name%.sh}
	prefix=$(printf 't%s%02d' "$RUN_ID" $((idx % 100)))
	tmp=/tmp/podsentry-test/$prefix
	bpffs=/sys/fs/bpf/pstest-$prefix
	log=$LOGDIR/$(echo "$name" | tr / _).log
	cleanup "$prefix" "$tmp" "$bpffs"
	mkdir -p "$tmp"
	t0=$(date +%s)
	if [[ "$t" == *.sh ]]; then cmd=(bash "$t"); else cmd=("$t"); fi
	# output to a file: a process the test left behind cannot hold the
	# runner (cleanup kills it)
	(cd "$ROOT" && PS_ROOT=$ROOT PS_BUILD=$BUILD PS_TEST_PREFIX=$prefix \
		PS_TEST_TMP=$tmp PS_TEST_BPFFS=$bpffs PS_TEST_NAME=$name \
		exec timeout -k 10 ${TEST_TIMEOUT:-600} setsid "${cmd[@]}" \
		>"$log.out" 2>"$log" </dev/null)
	rc=$?
	out=$(cat "$log.out")
	# KEEP=1: a failed test's files stay beside its log; KEEP=all: any test's
	if [ "${KEEP:-}" = all ] ||
		{ [ "${KEEP:-}" = 1 ] && { [ $rc != 0 ] || grep -q '^not ok ' <<<"$out"; }; }; then
		cp -a "$tmp" "$log.tmp" 2>/dev/null
	fi
	cleanup "$prefix" "$tmp" "$bpffs"
	dt=$(( $(date +%s) - t0 ))
	seen=0
	while IFS= read -r line; do
		case "$line" in
		"ok "*)
			seen=1; pass=$((pass + 1))
			echo "ok      $name/${line#ok }" ;;
		"not ok "*)
			seen=1; fail=$((fail + 1))
			echo "FAIL    $name/${line#not ok }" ;;
		"skip "*)
			seen=1
			if [ "${CI:-}" = true ]; then
				fail=$((fail + 1))
				echo "FAIL    $name/${line#skip } (skipped in CI)"
			else
				skip=$((skip + 1))
				echo "skip    $name/${line#skip }"
			fi ;;
		esac
	done <<<"$out"
	if [ $seen = 0 ] || { [ $rc != 0 ] && ! grep -q '^not ok ' <<<"$out"; }; then
		fail=$((fail + 1))
		echo "FAIL    $name: exited $rc$([ $rc = 124 ] && echo ' (timeout)')"
	fi
	if [ $rc != 0 ] || grep -q '^not ok ' <<<"$out"; then
		echo "        --- $log (last lines) ---"
		tail -n 25 "$log" | sed 's/^/        /'
	fi
	[ "${VERBOSE:-}" = 1 ] && echo "        (${dt}s)"
done
echo "logs: $LOGDIR ($(( $(date +%s) - start_all ))s)"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
