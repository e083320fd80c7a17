#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/cni/install-cni.sh: copies the binary, appends podsentry-cni to
# the runtime's conflist once (running it again changes nothing), turns a
# single-plugin .conf into a list, and the result runs as a real chain.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-cni.sh"

INST=$PS_ROOT/deploy/cni/install-cni.sh
bin=$T/bin conf=$T/net.d
mkdir -p "$conf"
cni_conflist '{}' 0   # bridge only: what a node had before podsentry
cp "$CONFLIST" "$conf/20-net.conflist"
echo '{"cniVersion":"1.0.0","name":"zz","type":"bridge"}' > "$conf/99-other.conflist.bak"

"$INST" --bin-dir "$bin" --conf-dir "$conf" --binary "$PODSENTRY_CNI" \
	--config "{\"bpffs\":\"$BPFFS\",\"stateDir\":\"$STATE\",\"logFile\":\"$T/cni.log\"}" >/dev/null
if cmp -s "$bin/podsentry-cni" "$PODSENTRY_CNI" && [ -x "$bin/podsentry-cni" ] &&
	jqe '.plugins | map(.type) == ["bridge", "podsentry-cni"]' < "$conf/20-net.conflist"; then
	ok install_appends
else
	fail install_appends "$(cat "$conf/20-net.conflist")"
fi
before=$(cat "$conf/20-net.conflist")
"$INST" --bin-dir "$bin" --conf-dir "$conf" --binary "$PODSENTRY_CNI" >/dev/null
"$INST" --bin-dir "$bin" --conf-dir "$conf" --binary "$PODSENTRY_CNI" --config '{"failPolicy":"open"}' >/dev/null
if jqe '[.plugins[] | select(.type == "podsentry-cni")] | length == 1' < "$conf/20-net.conflist" &&
	[ "$(jq -S 'del(.plugins[1].failPolicy)' "$conf/20-net.conflist")" = "$(jq -S . <<<"$before")" ]; then
	ok install_idempotent
else
	fail install_idempotent "$(cat "$conf/20-net.conflist")"
fi

# the installed list works as a chain (binary from the bin folder)
CONFLIST=$conf/20-net.conflist
a=$(netns_add a)
if CNI_BIN_PATH=/usr/lib/cni:$bin cni_add "${P}ca" "$a" >/dev/null && [ -e "$(state_file "${P}ca")" ] &&
	CNI_BIN_PATH=/usr/lib/cni:$bin cni_del "${P}ca" "$a" >/dev/null && [ ! -e "$(state_file "${P}ca")" ]; then
	ok installed_chain_runs
else
	fail installed_chain_runs "ADD/DEL through the installed list failed"
fi

# a single-plugin .conf becomes a .conflist
conf2=$T/net2.d
mkdir -p "$conf2"
jq '.plugins[0] + {cniVersion: .cniVersion, name: .name}' "$T/net.conflist" > "$conf2/10-one.conf"
"$INST" --bin-dir "$bin" --conf-dir "$conf2" --binary "$PODSENTRY_CNI" >/dev/null
if [ ! -e "$conf2/10-one.conf" ] &&
	jqe --arg n "$NET" '.name == $n and (.plugins | map(.type) == ["bridge", "podsentry-cni"])' < "$conf2/10-one.conflist"; then
	ok install_converts_conf
else
	fail install_converts_conf "$(ls "$conf2"; cat "$conf2"/*)"
fi

"$INST" --conf-dir "$conf" --uninstall >/dev/null
check uninstall_removes_entry jqe '.plugins | map(.type) == ["bridge"]' < "$conf/20-net.conflist"
