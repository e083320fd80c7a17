#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Install podsentry-cni on a node: copy the binary into the CNI bin folder
# and chain it into an existing network configuration, as the last plugin
# of its list. Running it again changes nothing (an existing podsentry-cni
# entry is updated in place, never added twice). Files are replaced
# atomically, so a runtime never reads a half-written one.
#
#   install-cni.sh [--bin-dir DIR] [--conf-dir DIR] [--conflist FILE]
#                  [--binary PATH | --bundle DIR] [--config JSON] [--uninstall]
#
#   --bin-dir   CNI binaries (default /opt/cni/bin)
#   --conf-dir  network configurations (default /etc/cni/net.d)
#   --conflist  the file to chain into (default: the first *.conflist or
#               *.conf in --conf-dir in name order, the one the runtime uses)
#   --binary    podsentry-cni to install (default: next to this script, or
#               build/podsentry-cni of the source tree)
#   --bundle    a folder with podsentry-cni, the shared libraries it links
#               and the ELF loader as ld.so (the container image's
#               /opt/podsentry/cni): installed as BIN_DIR/podsentry-cni.d/ID
#               with a launcher BIN_DIR/podsentry-cni that runs it through
#               them, so the plugin runs whatever libraries the node has
#   --config    JSON object merged into podsentry-cni's entry, e.g.
#               '{"failPolicy":"closed","logFile":"/var/log/podsentry-cni.log"}'
#   --uninstall remove podsentry-cni from the list (the binary stays)
#
# Examples:
#   deploy/cni/install-cni.sh
#   deploy/cni/install-cni.sh --conflist /etc/cni/net.d/10-containerd-net.conflist \
#       --config '{"xdp":true}'
#   install-cni.sh --bundle /opt/podsentry/cni --bin-dir /host/opt/cni/bin \
#       --conf-dir /host/etc/cni/net.d
set -euo pipefail

BIN_DIR=/opt/cni/bin
CONF_DIR=/etc/cni/net.d
CONFLIST=
BINARY=
BUNDLE=
CONFIG='{}'
UNINSTALL=0
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "install-cni: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--bin-dir) BIN_DIR=$2; shift 2 ;;
	--conf-dir) CONF_DIR=$2; shift 2 ;;
	--conflist) CONFLIST=$2; shift 2 ;;
	--binary) BINARY=$2; shift 2 ;;
	--bundle) BUNDLE=$2; shift 2 ;;
	--config) CONFIG=$2; shift 2 ;;
	--uninstall) UNINSTALL=1; shift ;;
	-h|--help) sed -n '3,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
[ -n "$BINARY" ] && [ -n "$BUNDLE" ] && die "--binary and --bundle: one or the other"

command -v jq >/dev/null || die "jq is needed"
jq -e 'type == "object"' <<<"$CONFIG" >/dev/null 2>&1 ||
	die "--config: not a JSON object: $CONFIG"

# the network configuration the runtime loads: the first file by name
if [ -z "$CONFLIST" ]; then
	for f in "$CONF_DIR"/*.conflist "$CONF_DIR"/*.conf "$CONF_DIR"/*.json; do
		[ -f "$f" ] || continue
		if [ -z "$CONFLIST" ] || [[ "$(basename "$f")" < "$(basename "$CONFLIST")" ]]; then
			CONFLIST=$f
		fi
	done
	if [ -z "$CONFLIST" ] && [ $UNINSTALL = 1 ]; then
		echo "install-cni: no network configuration in $CONF_DIR: nothing to remove"
		exit 0
	fi
	[ -n "$CONFLIST" ] || die "no network configuration in $CONF_DIR"
fi
[ -f "$CONFLIST" ] || die "$CONFLIST: no such file"
jq -e 'type == "object"' "$CONFLIST" >/dev/null 2>&1 || die "$CONFLIST: not a JSON object"

# write_atomic FILE MODE: stdin to FILE through a temporary in its folder
write_atomic() {
	local tmp
	tmp=$(mktemp "$(dirname "$1")/.podsentry.XXXXXX")
	cat > "$tmp"
	chmod "$2" "$tmp"
	mv -f "$tmp" "$1"
}

# answers_version CMD...: the plugin run as CMD answers CNI VERSION
answers_version() {
	echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$@" 2>/dev/null |
		jq -e '.supportedVersions | index("1.0.0")' >/dev/null
}

# bundle_install: the bundle's files as BIN_DIR/podsentry-cni.d/ID (ID: a
# hash of them, so an unchanged bundle is not copied again), then the
# launcher replaced in one rename. The bundle the previous launcher named
# stays, for a runtime that started it just before; older ones go.
bundle_install() {
	local id dir prev tmp d
	[ -x "$BUNDLE/podsentry-cni" ] && [ -x "$BUNDLE/ld.so" ] ||
		die "--bundle $BUNDLE: needs podsentry-cni and ld.so"
	answers_version "$BUNDLE/ld.so" --library-path "$BUNDLE" "$BUNDLE/podsentry-cni" ||
		die "$BUNDLE/podsentry-cni does not answer CNI VERSION"
	id=$(cd "$BUNDLE" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
	dir=$BIN_DIR/podsentry-cni.d
	mkdir -p "$dir"
	if [ ! -d "$dir/$id" ]; then
		tmp=$(mktemp -d "$dir/.new.XXXXXX")
		cp -p "$BUNDLE"/* "$tmp/"
		chmod 0755 "$tmp"
		mv "$tmp" "$dir/$id"
	fi
	prev=$(sed -n 's|^d="${0%/\*}/podsentry-cni.d/\([0-9a-f]*\)"$|\1|p' "$BIN_DIR/podsentry-cni" 2>/dev/null || true)
	write_atomic "$BIN_DIR/podsentry-cni" 0755 <<LAUNCHER
#!/bin/sh
# podsentry-cni with the libraries and loader it was built with
# (written by install-cni.sh --bundle; bundle $id)
d="\${0%/*}/podsentry-cni.d/$id"
exec "\$d/ld.so" --library-path "\$d" "\$d/podsentry-cni" "\$@"
LAUNCHER
	answers_version "$BIN_DIR/podsentry-cni" ||
		die "$BIN_DIR/podsentry-cni (bundle $id) does not answer CNI VERSION"
	for d in "$dir"/* "$dir"/.new.*; do
		[ -e "$d" ] || continue
		case "${d##*/}" in "$id"|"$prev") ;; *) rm -rf "$d" ;; esac
	done
}

if [ $UNINSTALL = 0 ] && [ -n "$BUNDLE" ]; then
	bundle_install
elif [ $UNINSTALL = 0 ]; then
	if [ -z "$BINARY" ]; then
		for b in "$HERE/podsentry-cni" "$HERE/../../build/podsentry-cni"; do
			[ -x "$b" ] && { BINARY=$b; break; }
		done
	fi
	[ -n "$BINARY" ] && [ -x "$BINARY" ] || die "podsentry-cni binary not found (use --binary)"
	answers_version "$BINARY" || die "$BINARY does not answer CNI VERSION"
	mkdir -p "$BIN_DIR"
	write_atomic "$BIN_DIR/podsentry-cni" 0755 < "$BINARY"
fi

# A single-plugin .conf becomes a list with the same name and version.
new=$(jq --argjson cfg "$CONFIG" --argjson uninstall "$UNINSTALL" '
	(if has("plugins") then . else
		{cniVersion, name, plugins: [del(.cniVersion, .name)]} end) as $l |
	($l.plugins | map(.type == "podsentry-cni") | index(true)) as $i |
	if $uninstall == 1 then
		$l | .plugins |= map(select(.type != "podsentry-cni"))
	elif $i == null then
		$l | .plugins += [{type: "podsentry-cni"} + $cfg]
	else
		$l | .plugins[$i] += $cfg
	end' "$CONFLIST") || die "$CONFLIST: cannot rewrite"

target=$CONFLIST
case "$CONFLIST" in *.conf|*.json)
	if ! jq -e 'has("plugins")' "$CONFLIST" >/dev/null; then
		target=${CONFLIST%.*}.conflist
	fi ;;
esac
if [ "$target" = "$CONFLIST" ] && [ "$(jq -S . <<<"$new")" = "$(jq -S . "$CONFLIST")" ]; then
	echo "install-cni: $CONFLIST already up to date"
	exit 0
fi
write_atomic "$target" 0644 <<<"$new"
[ "$target" != "$CONFLIST" ] && rm -f "$CONFLIST"
if [ $UNINSTALL = 1 ]; then
	echo "install-cni: removed podsentry-cni from $target"
else
	echo "install-cni: podsentry-cni installed in $BIN_DIR and chained in $target"
fi
