#!/usr/bin/env bash
# What `make test` needs beyond the virtualenv, from Debian's packages:
#   redis-server (Redis >= 7: its ACL selectors guard the ledger; the cluster tests need it),
#   nginx (the load balancer in front of the cluster tests' app processes), chromium and
#   fonts-noto-cjk (the browser tests render Chinese pages), npm (fetches axe-core, the
#   accessibility checker the browser tests load, into tests/.axe). As root on Debian it installs
#   what is missing with apt-get, saying what; otherwise it stops at once with the exact command.
# Nothing is ever skipped: a missing tool is a failure.
set -euo pipefail

CHROMIUM="${LIVE_CHROMIUM:-/usr/lib/chromium/chromium}"
missing=()
if ! redis-server --version 2>/dev/null | grep -q 'v=[7-9]'; then
  missing+=(redis-server)
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  missing+=(nginx)
fi
if [ ! -x "$CHROMIUM" ]; then
  missing+=(chromium)
fi
if ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed'; then
  missing+=(fonts-noto-cjk)
fi
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi
AXE_VERSION=4.10.3
axe() {
  # axe-core from npm's registry, pinned, into tests/.axe (not committed).
  if [ ! -f tests/.axe/node_modules/axe-core/axe.min.js ] \
      || ! grep -q "\"version\": \"$AXE_VERSION\"" tests/.axe/node_modules/axe-core/package.json; then
    echo "make test: fetching axe-core $AXE_VERSION with npm into tests/.axe"
    mkdir -p tests/.axe
    npm install --prefix tests/.axe --no-audit --no-fund --silent "axe-core@$AXE_VERSION"
  fi
}
if [ ${#missing[@]} -eq 0 ]; then
  axe
  exit 0
fi

command="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "make test needs ${missing[*]}; install them first:" >&2
  echo "  sudo apt-get update && sudo $command" >&2
  exit 1
fi
echo "make test: installing ${missing[*]} from Debian's packages (apt-get, as root)"
apt-get update -qq
# RUNLEVEL=1: install redis-server's and nginx's binaries without starting the system's own
# services (the tests start their own, on free ports).
RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
redis-server --version
/usr/sbin/nginx -v
"$CHROMIUM" --version 2>/dev/null || true
axe
