#!/usr/bin/env bash
# Installs the Debian packages that `make test` and `make demo` need and a
# fresh machine of ours lacks: a real Ceph for the RBD tests (ceph-mon,
# ceph-osd, the ceph and rbd CLIs, and ceph-mgr for the test of pool
# usage and placement-group states) and the headers go-ceph builds against
# (Debian 12: Ceph 16.2, pacific), tmux, which the end-to-end test of
# the full-screen view drives as a person would, and chromium, the browser
# of the proxy's browser test (test/browser). Does nothing when all are
# there.
set -euo pipefail

missing=()
for pkg in ceph-mon ceph-osd ceph-mgr ceph-common librados-dev librbd-dev tmux chromium; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
((${#missing[@]})) || exit 0

echo "installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
