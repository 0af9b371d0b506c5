#!/usr/bin/env bash
# Runs ELB: renders nginx/nginx.conf.tmpl into $ELB_PREFIX/nginx.conf and runs nginx in the
# foreground, with an embedded etcd when ETCD is unset. Used by `npm start`, the Dockerfile
# and the end-to-end tests. Needs bash, nginx, etcd and etcdctl (or curl); never Node.
#
# Environment (all optional):
#   ETCD             host:port or http://host:port, comma-separated (unset: embedded etcd)
#   ELBNAME          etcd key prefix, default ELB
#   STATSD           host:port of a statsd server; metrics are off when unset
#   ELB_LISTEN       a port or address:port, default 8080
#   ELB_TLS_LISTEN   the HTTPS listener: a port or address:port, default 8443; off: none
#   ELB_UPSTREAM_CA  PEM file of the CAs that verify HTTPS upstreams ("verify": true),
#                    default /etc/ssl/certs/ca-certificates.crt
#   ELB_WORKERS      worker_processes, default auto
#   ELB_PREFIX       runtime dir (config, logs, pid, etcd data, state), default ./var
#   ELB_ADMIN_ALLOW  CIDR list allowed on /__erulb__/, default 127.0.0.0/8,::1/128
#   ELB_ADMIN_TOKEN  when set, /__erulb__/ requires "Authorization: Bearer <token>"
#   ELB_LOG_STDOUT   1: access log to /dev/stdout, error log to stderr (Docker)
#   ELB_ACCESS_LOG   off: no access log
#   ELB_LOG_LEVEL    error_log level, default notice
#   ELB_ETCD_PORT    client port of the embedded etcd, default 2379 (peer port: +1)
#   ELB_NODE_ID, ELB_ADVERTISE  passed through to the Lua code (see README)
#   ETCD_CACERT      https:// endpoints: the CA bundle etcd's certificates are checked against
#                    (default: the system's); ETCD_CERT, ETCD_KEY, ETCD_USER, ETCD_PASSWORD,
#                    ELB_ADMIN_MAX_WRITES, ELB_ETCD_MAX_REQUEST_BYTES: read by the Lua code
#   ELB_TRUSTED_PROXIES  CIDRs (commas/spaces) whose X-Forwarded-For gives the client address
#   ELB_REGEX_MATCH_LIMIT  PCRE match limit of every rule regex, default 100000 (0: PCRE's own, 10 million)
#   ELB_REGEX_STRICT 1: refuse rule regexes with nested unbounded quantifiers (read by the Lua code)
#   ELB_METRICS_LISTEN  a port or address:port that serves GET /metrics only (Prometheus); unset: none
#   ELB_METRICS, ELB_METRICS_MAX_DOMAINS  read by the Lua code (see README)
#   ELB_LUA_DIR      compiled Lua, default <repo>/build/lua
#   ELB_USER         worker user when started as root (default: www-data if it can read
#                    the Lua and the prefix, else root)
#   ELB_RESOLVER     nameservers for the Lua cosockets, default from /etc/resolv.conf
#   ELB_STOP_TIMEOUT seconds a graceful stop may take before a fast one, default 15
#
# Signals: INT stops fast (nginx TERM); TERM and QUIT stop gracefully (nginx QUIT, then TERM
# after ELB_STOP_TIMEOUT). A clean stop exits 0; if nginx exits on its own, the embedded etcd
# is stopped and the script exits with nginx's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

log() { echo "elb: $*" >&2; }
die() { log "$*"; exit 1; }

export ELBNAME="${ELBNAME:-ELB}"
export ELB_ADMIN_ALLOW="${ELB_ADMIN_ALLOW:-127.0.0.0/8,::1/128}"
export ELB_ADMIN_TOKEN="${ELB_ADMIN_TOKEN:-}"
export STATSD="${STATSD:-}"
export ELB_LISTEN="${ELB_LISTEN:-8080}"
listen="$ELB_LISTEN"
tls_listen="${ELB_TLS_LISTEN:-8443}"
upstream_ca="${ELB_UPSTREAM_CA:-/etc/ssl/certs/ca-certificates.crt}"
workers="${ELB_WORKERS:-auto}"
log_level="${ELB_LOG_LEVEL:-notice}"
etcd_port="${ELB_ETCD_PORT:-2379}"
stop_timeout="${ELB_STOP_TIMEOUT:-15}"
lua_dir="${ELB_LUA_DIR:-$root/build/lua}"

for cmd in nginx; do
  command -v "$cmd" >/dev/null || die "$cmd not found (run: bash scripts/install-deps.sh runtime)"
done
[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] ||
  die "ngx_http_lua_module missing (run: bash scripts/install-deps.sh runtime)"
[ -d "$lua_dir" ] || die "no compiled Lua in $lua_dir (run: npm run build)"
lua_dir="$(cd "$lua_dir" && pwd)"

prefix="${ELB_PREFIX:-./var}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
export ELB_PREFIX="$prefix"
mkdir -p "$prefix/logs" "$prefix/tmp" "$prefix/state"
# the snapshot in state/ holds the certificates and their private keys
chmod 700 "$prefix/state"

check_listen() {
  case "$2" in
    *[!0-9]*) ;;
    "") die "$1 is empty" ;;
    *) [ "$2" -ge 1 ] && [ "$2" -le 65535 ] || die "$1 port out of range: $2" ;;
  esac
}
check_listen ELB_LISTEN "$listen"
[ "$tls_listen" = off ] || check_listen ELB_TLS_LISTEN "$tls_listen"
[ -r "$upstream_ca" ] || die "ELB_UPSTREAM_CA: cannot read $upstream_ca (install ca-certificates, or point it at a PEM file of CAs)"
upstream_ca="$(cd "$(dirname "$upstream_ca")" && pwd)/$(basename "$upstream_ca")"
case "$workers" in
  auto) ;;
  ''|*[!0-9]*|0) die "ELB_WORKERS must be a positive number or auto: $workers" ;;
esac
case "$etcd_port" in
  ''|*[!0-9]*) die "ELB_ETCD_PORT must be a port number: $etcd_port" ;;
esac
regex_limit="${ELB_REGEX_MATCH_LIMIT:-100000}"
case "$regex_limit" in
  ''|*[!0-9]*) die "ELB_REGEX_MATCH_LIMIT must be a whole number (0: PCRE's default): $regex_limit" ;;
esac
realip_lines="# ELB_TRUSTED_PROXIES is not set: the client address is the connection's"
forwarded_for='$proxy_add_x_forwarded_for'
if [ -n "${ELB_TRUSTED_PROXIES:-}" ]; then
  realip_lines=""
  IFS=$', \t' read -r -a proxies <<<"$ELB_TRUSTED_PROXIES"
  for cidr in "${proxies[@]}"; do
    [ -n "$cidr" ] || continue
    case "$cidr" in
      *[!0-9a-fA-F:./]*|"") die "ELB_TRUSTED_PROXIES: \"$cidr\" is not an address or CIDR block" ;;
    esac
    realip_lines="${realip_lines}set_real_ip_from $cidr; "
  done
  realip_lines="${realip_lines}real_ip_header X-Forwarded-For; real_ip_recursive on;"
  # $proxy_add_x_forwarded_for would append the client found in it again: append the peer
  realip_lines="${realip_lines} map \$http_x_forwarded_for \$elb_forwarded_for { \"\" \$realip_remote_addr; default \"\$http_x_forwarded_for, \$realip_remote_addr\"; }"
  forwarded_for='$elb_forwarded_for'
fi

metrics_server="# ELB_METRICS_LISTEN is not set: /metrics only under /__erulb__/"
if [ -n "${ELB_METRICS_LISTEN:-}" ]; then
  case "$ELB_METRICS_LISTEN" in
    *[!0-9a-zA-Z.:\[\]_-]*) die "ELB_METRICS_LISTEN must be a port or address:port: $ELB_METRICS_LISTEN" ;;
  esac
  metrics_server="server { listen $ELB_METRICS_LISTEN; server_name _; access_log off; location / { content_by_lua_block { require(\"admin.metrics\").serve() } } }"
fi

# ---- processes we own, and how they stop ---------------------------------------------------
etcd_pid=""
nginx_pid=""
stopping=""
timer_pid=""

# Helpers are never `wait`ed for by pid: bash 5.2 can block forever in `wait PID` for a
# child that was reaped while a trap ran. Poll with kill -0 instead (bash reaps on SIGCHLD).
gone() {
  local i
  for i in $(seq 1 "$2"); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

stop_etcd() {
  [ -n "$etcd_pid" ] || return 0
  kill -TERM "$etcd_pid" 2>/dev/null || true
  gone "$etcd_pid" 100 || { kill -KILL "$etcd_pid" 2>/dev/null || true; gone "$etcd_pid" 20 || true; }
  etcd_pid=""
}

stop_timer() {
  [ -n "$timer_pid" ] || return 0
  kill "$timer_pid" 2>/dev/null || true
  timer_pid=""
}

on_signal() {
  local sig="$1"
  if [ -z "$nginx_pid" ]; then
    # Still starting: nothing to hand the signal to.
    stop_etcd
    exit 0
  fi
  if [ -n "$stopping" ] || [ "$sig" = INT ]; then
    log "stopping (fast)"
    kill -TERM "$nginx_pid" 2>/dev/null || true
  else
    log "stopping (graceful)"
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    (
      trap 'kill "$s" 2>/dev/null; exit 0' TERM
      sleep "$stop_timeout" & s=$!
      wait "$s"
      log "graceful stop not done after ${stop_timeout} s: stopping (fast)"
      kill -TERM "$nginx_pid" 2>/dev/null || true
    ) &
    timer_pid=$!
  fi
  stopping=1
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal QUIT' QUIT
trap 'stop_watcher; stop_timer; stop_etcd' EXIT

# Under npm (npm start, or the tests run by npm test), a SIGTERM to npm ends npm and its
# `sh -c` without passing the signal on: stop when our parent or grandparent goes away.
watcher_pid=""
stop_watcher() {
  [ -n "$watcher_pid" ] || return 0
  kill "$watcher_pid" 2>/dev/null || true
  watcher_pid=""
}
if [ -n "${npm_lifecycle_event:-}" ] && [ "$PPID" -gt 1 ]; then
  watch=("$PPID")
  gp="$(awk '{ print $4 }' "/proc/$PPID/stat" 2>/dev/null || true)"
  [ -n "$gp" ] && [ "$gp" -gt 1 ] && watch+=("$gp")
  self=$$
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    while :; do
      for w in "${watch[@]}"; do
        if ! kill -0 "$w" 2>/dev/null; then
          echo "elb: parent process $w is gone: stopping" >&2
          kill -TERM "$self" 2>/dev/null
          exit 0
        fi
      done
      sleep 1 & s=$!
      wait "$s"
    done
  ) &
  watcher_pid=$!
fi

# ---- etcd -----------------------------------------------------------------------------------
etcd_healthy() {
  if command -v etcdctl >/dev/null; then
    ETCDCTL_API=3 etcdctl --endpoints="$1" --dial-timeout=1s --command-timeout=1s endpoint health >/dev/null 2>&1
  else
    curl -fs --max-time 1 "$1/health" 2>/dev/null | grep -q '"health":"true"'
  fi
}

# ETCD, when set, is read by the engine (src-lua/core/endpoints.ts): a malformed one stops
# nginx at start with a message saying what is wrong.
if [ -z "${ETCD:-}" ]; then
  command -v etcd >/dev/null || die "etcd not found (run: bash scripts/install-deps.sh runtime)"
  peer_port=$((etcd_port + 1))
  [ "$etcd_port" -ge 1 ] && [ "$peer_port" -le 65535 ] || die "ELB_ETCD_PORT out of range: $etcd_port"
  client_url="http://127.0.0.1:$etcd_port"
  peer_url="http://127.0.0.1:$peer_port"
  for p in "$etcd_port" "$peer_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port $p is in use: set ELB_ETCD_PORT (embedded etcd uses it and the next one), or ETCD"
    fi
  done
  mkdir -p "$prefix/etcd"
  chmod 700 "$prefix/etcd"
  if [ "${ELB_LOG_STDOUT:-}" = 1 ]; then etcd_log=/dev/stderr; else etcd_log="$prefix/logs/etcd.log"; fi
  log "starting embedded etcd on $client_url (data in $prefix/etcd)"
  etcd --name elb \
    --data-dir "$prefix/etcd" \
    --listen-client-urls "$client_url" --advertise-client-urls "$client_url" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "elb=$peer_url" --initial-cluster-state new \
    --auto-compaction-mode periodic --auto-compaction-retention 1h \
    --logger zap --log-outputs stderr --log-level warn >>"$etcd_log" 2>&1 &
  etcd_pid=$!
  ok=""
  for _ in $(seq 1 150); do
    if ! kill -0 "$etcd_pid" 2>/dev/null; then
      etcd_pid=""
      [ "$etcd_log" = /dev/stderr ] || tail -n 20 "$etcd_log" >&2 || true
      die "embedded etcd exited during start"
    fi
    if etcd_healthy "$client_url"; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ok" ] || die "embedded etcd did not become healthy on $client_url"
  export ETCD="$client_url"
fi

# ---- worker user ----------------------------------------------------------------------------
user_line="# user: nginx's default (not started as root)"
chown_state=""
if [ "$(id -u)" -eq 0 ]; then
  candidate="${ELB_USER:-www-data}"
  getent passwd "$candidate" >/dev/null || candidate=root
  if [ "$candidate" != root ] && ! runuser -u "$candidate" -- test -r "$lua_dir/phases/init.lua" -a -x "$prefix/tmp" 2>/dev/null; then
    if [ -n "${ELB_USER:-}" ]; then
      die "worker user $candidate cannot read $lua_dir or enter $prefix"
    fi
    log "workers run as root: $candidate cannot read $lua_dir or enter $prefix"
    candidate=root
  fi
  user_line="user $candidate;"
  [ "$candidate" = root ] || chown_state="$candidate"
fi
if [ -n "$chown_state" ]; then
  # Workers write the last known good configuration and temp files here.
  chown -R "$chown_state" "$prefix/state" "$prefix/tmp"
fi

# ---- render ---------------------------------------------------------------------------------
if [ "${ELB_LOG_STDOUT:-}" = 1 ]; then
  error_log="stderr"
  access_log="/dev/stdout elb"
else
  error_log="logs/error.log"
  access_log="logs/access.log elb"
fi
[ "${ELB_ACCESS_LOG:-}" = off ] && access_log="off"

resolvers="${ELB_RESOLVER:-}"
if [ -z "$resolvers" ] && [ -r /etc/resolv.conf ]; then
  resolvers="$(awk '$1 == "nameserver" { a = $2; if (a ~ /:/) { sub(/%.*/, "", a); a = "[" a "]" } printf "%s ", a }' /etc/resolv.conf)"
fi
resolvers="${resolvers%" "}"
if [ -n "$resolvers" ]; then
  resolver_line="resolver $resolvers ipv6=off valid=30s;"
else
  resolver_line="# resolver: none found in /etc/resolv.conf (set ELB_RESOLVER)"
fi

# etcd over https: nginx checks the servers' certificates against this bundle.
etcd_tls_line="# etcd over http: no CA bundle"
case ",${ETCD:-}" in
  *,https://*|*,\ https://*|*,HTTPS://*)
    cacert="${ETCD_CACERT:-/etc/ssl/certs/ca-certificates.crt}"
    [ -r "$cacert" ] || die "ETCD_CACERT: cannot read $cacert"
    etcd_tls_line="lua_ssl_trusted_certificate $cacert; lua_ssl_verify_depth 5;"
    ;;
esac

# The HTTPS listener: nginx needs a certificate to start one; this self-signed placeholder is
# never sent (phases/ssl_certificate.ts sets the handshake's certificate or fails it).
if [ "$tls_listen" != off ]; then
  command -v openssl >/dev/null || die "openssl not found (run: bash scripts/install-deps.sh runtime), or set ELB_TLS_LISTEN=off"
  mkdir -p "$prefix/tls"
  if [ ! -s "$prefix/tls/placeholder.pem" ] || [ ! -s "$prefix/tls/placeholder.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=placeholder.invalid" \
      -keyout "$prefix/tls/placeholder.key" -out "$prefix/tls/placeholder.pem" 2>/dev/null || die "openssl could not make $prefix/tls/placeholder.pem"
    chmod 600 "$prefix/tls/placeholder.key"
  fi
fi

sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
# render TEMPLATE OUT: every placeholder replaced, or the launch stops
render() {
  sed -e "s|@@USER@@|$(sed_escape "$user_line")|g" \
    -e "s|@@WORKERS@@|$(sed_escape "$workers")|g" \
    -e "s|@@ERROR_LOG@@|$(sed_escape "$error_log")|g" \
    -e "s|@@LOG_LEVEL@@|$(sed_escape "$log_level")|g" \
    -e "s|@@LUA_DIR@@|$(sed_escape "$lua_dir")|g" \
    -e "s|@@RESOLVER@@|$(sed_escape "$resolver_line")|g" \
    -e "s|@@ETCD_TLS@@|$(sed_escape "$etcd_tls_line")|g" \
    -e "s|@@ACCESS_LOG@@|$(sed_escape "$access_log")|g" \
    -e "s|@@LISTEN@@|$(sed_escape "$listen")|g" \
    -e "s|@@TLS_LISTEN@@|$(sed_escape "$tls_listen")|g" \
    -e "s|@@UPSTREAM_CA@@|$(sed_escape "$upstream_ca")|g" \
    -e "s|@@REGEX_MATCH_LIMIT@@|$(sed_escape "$regex_limit")|g" \
    -e "s|@@REALIP@@|$(sed_escape "$realip_lines")|g" \
    -e "s|@@FORWARDED_FOR@@|$(sed_escape "$forwarded_for")|g" \
    -e "s|@@METRICS_SERVER@@|$(sed_escape "$metrics_server")|g" \
    "$1" >"$2.new"
  if grep -q '@@[A-Z_]*@@' "$2.new"; then
    die "unrendered placeholder in $2.new: $(grep -o '@@[A-Z_]*@@' "$2.new" | sort -u | tr '\n' ' ')"
  fi
  mv "$2.new" "$2"
}
conf="$prefix/nginx.conf"
render "$here/locations.conf" "$prefix/locations.conf"
render "$here/proxy.conf" "$prefix/proxy.conf"
if [ "$tls_listen" = off ]; then
  echo "# ELB_TLS_LISTEN=off: no HTTPS listener" >"$prefix/tls-server.conf"
else
  render "$here/tls-server.conf.tmpl" "$prefix/tls-server.conf"
fi
render "$here/nginx.conf.tmpl" "$conf"

# 10240 connections per worker need descriptors; raising the soft limit is best effort.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

# ---- run ------------------------------------------------------------------------------------
https_note=""
[ "$tls_listen" = off ] || https_note=" (https: $tls_listen)"
log "nginx on $listen$https_note, prefix $prefix, etcd $ETCD, name $ELBNAME${STATSD:+, statsd $STATSD}"
nginx -p "$prefix/" -c "$conf" -g 'daemon off;' &
nginx_pid=$!

status=0
while :; do
  set +e
  wait "$nginx_pid"
  status=$?
  set -e
  # wait returns early (status > 128) when a trapped signal arrives; nginx is still running.
  if kill -0 "$nginx_pid" 2>/dev/null; then continue; fi
  break
done
stop_watcher
stop_timer
stop_etcd
if [ -n "$stopping" ]; then
  log "stopped"
  exit 0
fi
log "nginx exited on its own with status $status"
exit "$status"
