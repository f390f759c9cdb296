#!/usr/bin/env bash
# Builds the Debian apache2 image that loadcheck uses where the official
# httpd:2.4 image cannot be pulled: debootstrap (minbase + apache2) into a
# folder, then `docker import`. Does nothing when the image already exists
# with PHP (an image built before PHP was added is built again).
#
# PHP comes from Debian too: libapache2-mod-php8.2 for the prefork-modphp
# preset and php8.2-fpm for event-phpfpm. Their install scripts switch
# Debian's own /etc/apache2 to prefork with mod_php; that is undone, so the
# image's stock config stays Debian's (event, no PHP).
#
#   containers/image/build.sh [TAG]          default TAG: loadcheck/apache2:bookworm
#
# The Debian mirror is read from this machine's own apt sources; set
# LOADCHECK_DEBIAN_MIRROR to override it. Set LOADCHECK_REBUILD=1 to rebuild.
set -euo pipefail

tag=${1:-loadcheck/apache2:bookworm}
suite=${LOADCHECK_DEBIAN_SUITE:-bookworm}

if ! command -v docker >/dev/null 2>&1; then
  echo "build.sh: docker is not installed or not on PATH" >&2; exit 2
fi
if ! docker info >/dev/null 2>&1; then
  echo "build.sh: the Docker engine is not reachable (is dockerd running? is DOCKER_HOST right?)" >&2; exit 2
fi
php_pkgs="libapache2-mod-php8.2,php8.2-fpm"
if [ "${LOADCHECK_REBUILD:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  php=$(docker image inspect -f '{{index .Config.Labels "org.loadcheck.php"}}' "$tag")
  if [ -n "$php" ]; then
    echo "build.sh: $tag already exists ($(docker image inspect -f '{{.Id}}' "$tag" | cut -c1-19), PHP $php); set LOADCHECK_REBUILD=1 to rebuild"
    exit 0
  fi
  echo "build.sh: $tag exists but has no PHP (built before the PHP presets): building it again"
fi

# mirror_from_apt prints the first archive URI that serves $suite, from
# one-line (.list) or deb822 (.sources) apt source files.
mirror_from_apt() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } ; if ($(i+1)==s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: paragraphs separated by blank lines; pick one whose Suites has $suite.
    awk -v s="$suite" 'BEGIN{RS=""; FS="\n"} {
        uri=""; ok=0
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/) { n=split($i, b, /[ \t]+/); for (j=2;j<=n;j++) if (b[j]==s) ok=1 }
        }
        if (ok && uri!="") { print uri; exit }
      }' "$f"
  done
}

mirror=${LOADCHECK_DEBIAN_MIRROR:-$(mirror_from_apt | head -n1)}
if [ -z "$mirror" ]; then
  echo "build.sh: no Debian mirror for '$suite' found in /etc/apt/sources.list*; set LOADCHECK_DEBIAN_MIRROR=URL" >&2
  exit 2
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build.sh: installing debootstrap"
    (apt-get update -q && apt-get install -y -q debootstrap) >/dev/null
  else
    echo "build.sh: debootstrap is missing; install it (apt-get install debootstrap) and rerun" >&2; exit 2
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/loadcheck-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build.sh: debootstrap $suite (minbase + apache2, $php_pkgs) into $work"
debootstrap --variant=minbase --include="apache2,$php_pkgs" "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  echo "build.sh: debootstrap failed; last lines of its log:" >&2; tail -20 "$work/debootstrap.log" >&2; exit 1; }
# Debian's stock /etc/apache2 again: event, no mod_php, no php-fpm conf.
chroot "$work/root" sh -c 'a2dismod -q -f php8.2 mpm_prefork >/dev/null && a2enmod -q mpm_event >/dev/null && a2disconf -q php8.2-fpm >/dev/null' || {
  echo "build.sh: could not restore Debian's stock MPM after installing PHP" >&2; exit 1; }
php=$(chroot "$work/root" /usr/sbin/php-fpm8.2 -v 2>/dev/null | sed -n '1s/^PHP \([0-9.]*\).*/\1/p' || true)
[ -n "$php" ] || { echo "build.sh: php-fpm8.2 did not install" >&2; exit 1; }
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*

version=$(chroot "$work/root" /usr/sbin/apache2 -v 2>/dev/null | sed -n 's/^Server version: //p' || true)
echo "build.sh: importing as $tag (${version:-unknown version})"
tar -C "$work/root" -c . | docker import \
  --change 'LABEL org.loadcheck.layout=debian' \
  --change "LABEL org.loadcheck.httpd-version=\"${version:-unknown}\"" \
  --change "LABEL org.loadcheck.php=\"$php\"" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/usr/sbin/apache2", "-DFOREGROUND"]' \
  - "$tag" >/dev/null
echo "build.sh: built $tag ($(docker image inspect -f '{{.Id}}' "$tag" | cut -c1-19))"
