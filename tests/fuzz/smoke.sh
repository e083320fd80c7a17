#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Every fuzz target (build/fuzz/fuzz_*, built by `make fuzz-build`, which
# `make check` runs) for a short time on its seed corpus: any crash,
# leak, undefined behaviour or broken promise of the code under test
# fails. `make fuzz` runs them longer.
. "$(dirname "$0")/../lib.sh"

secs=${FUZZ_SMOKE_SECONDS:-10}
want=$(ls "$PS_ROOT"/tests/fuzz/fuzz_*.c 2>/dev/null)
if [ -z "$want" ]; then
	fail fuzz "no tests/fuzz/fuzz_*.c"
	exit 1
fi
bins=()
for src in $want; do
	bins+=("$B/fuzz/$(basename "$src" .c)")
done
"$PS_ROOT/tests/fuzz/lib-fuzz.sh" "$secs" "$T/fuzz" "${bins[@]}"
