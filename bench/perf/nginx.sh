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

# logged: the lines in nginx's access log so far ($WORK/access.log).
logged() { [ -f "$WORK/access.log" ] && wc -l <"$WORK/access.log" || echo 0; }

# run NAME CONNS CMD...: runs CMD pinned to core 1 and prints
# "NAME CONNS requests logged cpu_seconds context_switches" (-1 without
# perf, or PERF_STAT unset). NAME h2load counts h2load's "requests:" line;
# NAME loadcheck the series of $WORK/lc-CONNS.json, which CMD writes.
run() {
  local name=$1 c=$2; shift 2
  local out="$WORK/$name-$c.out" tm="$WORK/$name-$c.time" ps="$WORK/$name-$c.perf" before req cs=-1
  before=$(logged)
  if [ -n "${PERF_STAT:-}" ] && command -v perf >/dev/null; then
    /usr/bin/time -o "$tm" -f "%U %S" perf stat -x, -o "$ps" -e context-switches taskset -c 1 "$@" >"$out" 2>&1 || true
    cs=$(awk -F, '/context-switches/ {print $1}' "$ps")
  else
    /usr/bin/time -o "$tm" -f "%U %S" taskset -c 1 "$@" >"$out" 2>&1 || true
  fi
  read -r user sys < <(tail -1 "$tm") || { echo "$name $c failed: $(tail -3 "$out")" >&2; return; }
  case $name in
    h2load) req=$(awk '/^requests:/ {print $8}' "$out") ;;  # "requests: N total, N started, N done, N succeeded, ..."
    loadcheck) [ -f "$WORK/lc-$c.json" ] || { echo "loadcheck $c failed: $(tail -5 "$out")" >&2; return; }
               req=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(sum(p["ok"] for p in r["series"]))' "$WORK/lc-$c.json") ;;
  esac
  echo "$name $c ${req:-0} $(( $(logged) - before )) $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') $cs"
}

# ratios RESULTS: the table of run's lines in RESULTS, CPU per request
# against h2load's at the same connections (context switches per request
# where perf counted them).
ratios() {
  python3 - "$1" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ref = {r[1]: r for r in rows if r[0] == "h2load"}
perf = any(int(r[5]) >= 0 for r in rows)
print("%6s %-10s %10s %13s %7s %10s%s %16s" % ("conns", "generator", "requests", "nginx logged", "cpu s", "us cpu/req", " %11s" % "ctxsw/req" if perf else "", "cpu/req vs h2load"))
for name, c, req, logged, cpu, cs in rows:
    req, cpu, cs = int(req), float(cpu), int(cs)
    us = cpu * 1e6 / req if req else float("inf")
    w = ref.get(c)
    ratio = "%.2f" % (us / (float(w[4]) * 1e6 / int(w[2]))) if w and int(w[2]) else "-"
    sw = " %11s" % ("%.2f" % (cs / req) if req and cs >= 0 else "-") if perf else ""
    print("%6s %-10s %10d %13s %7.2f %10.1f%s %16s" % (c, name, req, logged, cpu, us, sw, ratio))
PY
}
