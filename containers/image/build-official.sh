#!/usr/bin/env bash
# Builds the official-layout image from Debian's packages, for
# official-layout config trees when httpd:2.4 cannot be pulled: the Debian
# image (build.sh) with httpd, its modules and its conf folder where the
# official image has them (/usr/local/apache2/bin/httpd, modules, conf,
# logs, htdocs), HTTPD_PREFIX and PATH as it sets them. The binary is
# Debian's, so its built-in modules are Debian's; the image says which
# (org.loadcheck.builtin), and loadcheck comments out a tree's LoadModule
# of one of them, as on the Debian image. Rebuilt when the Debian image
# changed; does nothing otherwise.
#
#   containers/image/build-official.sh [TAG [FROM]]
#       default TAG: loadcheck/httpd-official:bookworm, FROM: loadcheck/apache2:bookworm
set -euo pipefail

tag=${1:-loadcheck/httpd-official:bookworm}
from=${2:-loadcheck/apache2:bookworm}

if ! base=$(docker image inspect -f '{{.Id}}' "$from" 2>/dev/null); then
  echo "build-official.sh: $from is not in the engine: build it first (containers/image/build.sh, or make image)" >&2; exit 2
fi
if [ "${LOADCHECK_REBUILD:-0}" != 1 ] &&
  [ "$(docker image inspect -f '{{index .Config.Labels "org.loadcheck.base"}}' "$tag" 2>/dev/null)" = "$base" ]; then
  echo "build-official.sh: $tag already exists, from $from as it is now; set LOADCHECK_REBUILD=1 to rebuild"
  exit 0
fi
builtin=$(docker run --rm --entrypoint /usr/sbin/apache2 "$from" -l | sed -n 's/^ *mod_\(.*\)\.c$/\1/p' | paste -sd, -)
[ -n "$builtin" ] || { echo "build-official.sh: could not list the built-in modules of $from's httpd" >&2; exit 1; }
out=$(docker build -q -t "$tag" - 2>&1 <<DOCKERFILE
FROM $from
RUN set -e; p=/usr/local/apache2; mkdir -p \$p/bin \$p/conf \$p/logs \$p/htdocs; \
    ln -s /usr/sbin/apache2 \$p/bin/httpd; ln -s /usr/lib/apache2/modules \$p/modules; \
    cp /etc/mime.types \$p/conf/mime.types; cp /etc/apache2/magic \$p/conf/magic; \
    echo '<html><body><h1>It works!</h1></body></html>' > \$p/htdocs/index.html
ENV HTTPD_PREFIX=/usr/local/apache2 PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /usr/local/apache2
LABEL org.loadcheck.layout=official org.loadcheck.builtin="$builtin" org.loadcheck.base="$base"
CMD ["httpd", "-DFOREGROUND"]
DOCKERFILE
) || { echo "build-official.sh: docker build failed: $out" >&2; exit 1; }
echo "build-official.sh: built $tag ($(docker image inspect -f '{{.Id}}' "$tag" | cut -c1-19)), official layout, Debian's httpd (built in: $builtin)"
