#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Build podsentry's container image from the binaries in BUILD and what
# they link on this machine, with no registry: the root filesystem is laid
# out in BUILD/image/rootfs and the image is built FROM scratch.
#
#   deploy/image/build.sh BUILD TAG [CONTEXT]
#
# CONTEXT is the folder the root filesystem is laid out in (default
# BUILD/image); it is emptied first.
#
# Layout:
#   /usr/bin/podsentryd, /usr/bin/podsentry,
#   /usr/bin/podsentry-cni             the daemon, the client, the plugin
#   /usr/lib/ARCH/graphviz/            the Graphviz plugins podsentry report
#                                      lays out and draws with
#   /opt/podsentry/install-cni.sh      deploy/cni/install-cni.sh
#   /opt/podsentry/cni/                podsentry-cni with its libraries and
#                                      ELF loader (install-cni.sh --bundle):
#                                      what a node's runtime runs, whatever
#                                      libraries the node has
#   /bin/bash, /usr/bin/jq, /bin/busybox and its applets (/bin/sh, ...)
#                                      what install-cni.sh and the probes run
# Each ELF file comes with the shared libraries ldd names, at their paths.
set -euo pipefail

die() { echo "image: $*" >&2; exit 1; }
[ $# = 2 ] || [ $# = 3 ] || die "usage: $0 BUILD TAG [CONTEXT]"
BUILD=$1 TAG=$2 CTX=${3:-$1/image}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
R=$CTX/rootfs

for b in podsentryd podsentry-cni; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b: missing (run make first)"
done
command -v podman >/dev/null || die "podman is needed"
BUSYBOX=$(command -v busybox) || die "busybox is needed (busybox-static)"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is not static (install busybox-static)"

# libs FILE: the shared libraries and the loader FILE needs, one path a line
libs() {
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# put FILE DEST: FILE at DEST in the image, and what it links at its path
put() {
	local lib
	install -D -m 0755 "$1" "$R$2"
	for lib in $(libs "$1"); do
		[ -e "$R$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$R$lib"
	done
}

rm -rf "$CTX"
mkdir -p "$R"/{bin,usr/bin,tmp,run,var,opt/podsentry/cni,etc}
chmod 1777 "$R/tmp"
# CNI state files may name a netns as /var/run/netns/...
ln -s ../run "$R/var/run"
cp "$HERE/Containerfile" "$CTX/"

put "$BUILD/podsentryd" /usr/bin/podsentryd
[ -x "$BUILD/podsentry" ] || die "$BUILD/podsentry: missing (run make first)"
put "$BUILD/podsentry" /usr/bin/podsentry
put "$BUILD/podsentry-cni" /usr/bin/podsentry-cni
# podsentry report: Graphviz loads its layout and SVG plugins, listed in
# its config file, from its library folder's graphviz/
for gv in /usr/lib/*/graphviz; do
	[ -f "$gv/config6a" ] || continue
	install -D -m 0644 "$gv/config6a" "$R$gv/config6a"
	for p in "$gv"/libgvplugin_core.so.? "$gv"/libgvplugin_dot_layout.so.?; do
		[ -e "$p" ] && put "$(readlink -f "$p")" "$p"
	done
done

# the plugin as the node runs it: next to its libraries and loader, run as
# "ld.so --library-path DIR DIR/podsentry-cni" by install-cni.sh's launcher
B=$R/opt/podsentry/cni
install -m 0755 "$BUILD/podsentry-cni" "$B/podsentry-cni"
for lib in $(libs "$BUILD/podsentry-cni"); do
	case "$lib" in
	*/ld-linux*|*/ld-*.so*) install -m 0755 "$(readlink -f "$lib")" "$B/ld.so" ;;
	*) install -m 0755 "$(readlink -f "$lib")" "$B/$(basename "$lib")" ;;
	esac
done
[ -x "$B/ld.so" ] || die "$BUILD/podsentry-cni: no ELF loader in its ldd output"
install -m 0755 "$ROOT/deploy/cni/install-cni.sh" "$R/opt/podsentry/install-cni.sh"

put "$(readlink -f /bin/bash)" /bin/bash
put "$(readlink -f "$(command -v jq)")" /usr/bin/jq
install -m 0755 "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ -e "$R/bin/$a" ] || [ -e "$R/usr/bin/$a" ] || ln -s busybox "$R/bin/$a"
done
echo 'root:x:0:0:root:/:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"

podman build --quiet --network none -t "$TAG" -f "$CTX/Containerfile" "$CTX" >/dev/null
echo "  IMAGE    $TAG"
