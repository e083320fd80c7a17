#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmarks: every figure is a ratio against a baseline measured in the
# same run. Not part of the test suite. Usage: tests/bench/run.sh [NAME...]
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# the bpftrace peers attach to tracepoints by name
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
status=0
for b in tests/bench/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
	echo "== $name"
	PS_ROOT=$ROOT PS_BUILD=$ROOT/build bash "$b" || status=1
done
exit $status
