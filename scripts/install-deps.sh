#!/usr/bin/env bash
# Installs the Debian packages ELB needs, only those that are missing.
# Used by npm start, npm test, .ci/run and the Dockerfile.
#   scripts/install-deps.sh            runtime + test packages
#   scripts/install-deps.sh runtime    only what nginx+ELB need to run
#   scripts/install-deps.sh bench      adds wrk, haproxy and valgrind (callgrind counts instructions)
set -euo pipefail

runtime=(nginx libnginx-mod-http-lua lua-resty-core lua-resty-lrucache lua-cjson etcd-server etcd-client openssl ca-certificates)
# pebble (with pebble-challtestsrv): the ACME server of the ACME end-to-end test; curl: HTTP/2 client
# prometheus: the Prometheus end-to-end test (and its promtool); chromium: the dashboard's browser test
testing=(luajit2 lua-busted pebble curl prometheus chromium)
bench=(wrk haproxy valgrind)

case "${1:-test}" in
  runtime) want=("${runtime[@]}") ;;
  test) want=("${runtime[@]}" "${testing[@]}") ;;
  bench) want=("${runtime[@]}" "${testing[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [runtime|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The packaged nginx service must not start (and grab port 80) on install.
policy_added=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
cleanup() { [ -n "$policy_added" ] && $sudo rm -f /usr/sbin/policy-rc.d; true; }
trap cleanup EXIT
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
