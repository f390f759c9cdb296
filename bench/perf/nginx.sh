# nginx.sh: sourced by the perf scripts. It makes $WORK (a temporary folder
# removed on exit, Ctrl-C included) and defines start_nginx and prepare.
WORK=$(mktemp -d /tmp/loadcheck-perf.XXXXXX)
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# start_nginx WORKERS PORT: nginx from nginx.conf.in on 127.0.0.1:PORT,
# pinned to core 0; sets URL and returns once it answers. With TLS=1 it
# serves HTTPS with a fresh self-signed certificate (full handshakes only).
start_nginx() {
  local ssl="" sslconf="" scheme=http
  if [ "${TLS:-0}" = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
      -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
    ssl="ssl " scheme=https
    sslconf="ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off; ssl_session_tickets off;"
  fi
  sed -e "s/@WORKERS@/$1/" -e "s/@PORT@/$2/" -e "s#@DIR@#$WORK#" -e "s#@SSL@#$ssl#" -e "s#@SSLCONF@#$sslconf#" \
    "$ROOT/bench/perf/nginx.conf.in" >"$WORK/nginx.conf"
  taskset -c 0 nginx -c "$WORK/nginx.conf" -p "$WORK" &
  NGINX_PID=$!
  URL="$scheme://127.0.0.1:$2/"
  for _ in $(seq 50); do curl -kfs "$URL" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "nginx did not come up:" >&2
  cat "$WORK/error.log" >&2
  exit 1
}

# prepare CMD=PACKAGE...: installs from Debian's packages each PACKAGE whose
# CMD is missing (nginx-light and /usr/bin/time always checked), builds
# loadcheck into $WORK and raises the descriptor limit to what is allowed.
prepare() {
  local need_apt=() pair
  for pair in nginx=nginx-light "$@"; do
    command -v "${pair%%=*}" >/dev/null || need_apt+=("${pair#*=}")
  done
  [ -x /usr/bin/time ] || need_apt+=(time)
  if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]} from Debian's packages" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  echo "building loadcheck" >&2
  (cd "$ROOT" && go build -o "$WORK/loadcheck" ./cmd/loadcheck)
  ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}
