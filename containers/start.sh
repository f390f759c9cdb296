# The httpd container's command. Arguments: httpd's binary, the top-level
# config file, the served folder, the line to print when httpd -t rejects
# the config; for a config tree also its ServerRoot, the image's modules
# folder and the tree's DocumentRoots.
#
# Without group bits on "/" the kernel skips the ACL check on every path
# lookup: on fuse-overlayfs, which does not cache ACLs, each lookup would
# otherwise ask the fuse daemon for the root's ACL, and that halves httpd's
# CPU per request. It changes nothing else in the throwaway container.
chmod g-rwx / 2>/dev/null
binary=$1 conf=$2 docroot=$3 invalid=$4 root=$5 modules=$6
# With --docroot (LOADCHECK_SITE) the site's folder is mounted read-only
# where each DocumentRoot is: no test page.
[ -n "${LOADCHECK_SITE:-}" ] || printf 'ok\n' > "$docroot/index.html" || exit 3
# serve DIR: the workload's files ("PATH SIZE" lines in LOADCHECK_FILES)
# under DIR, each SIZE bytes.
serve() {
	while read -r p n; do
		[ -n "$p" ] || continue
		mkdir -p "$1$(dirname "$p")" && head -c "$n" /dev/zero | tr '\0' x > "$1$p" ||
			{ echo "loadcheck: cannot create $1$p ($n bytes)"; echo "$invalid"; exit 3; }
	done <<LCFILES
${LOADCHECK_FILES:-}
LCFILES
}
[ -n "${LOADCHECK_SITE:-}" ] || serve "$docroot"
# PHP (LOADCHECK_PHP): the page, and for php-fpm its pool, started beside
# httpd; an image without PHP stops here, before any load.
case ${LOADCHECK_PHP:-} in
mod_php)
	[ -f "$modules/libphp8.2.so" ] ||
		{ echo "loadcheck: the image has no mod_php ($modules/libphp8.2.so): the PHP presets need loadcheck's image (make image) or one with Debian's libapache2-mod-php8.2"; echo "$invalid"; exit 3; }
	cp /loadcheck/app.php "$docroot/" || exit 3
	;;
php-fpm)
	fpm=$(command -v php-fpm8.2 || command -v php-fpm) ||
		{ echo "loadcheck: the image has no php-fpm: the PHP presets need loadcheck's image (make image) or one with Debian's php8.2-fpm"; echo "$invalid"; exit 3; }
	cp /loadcheck/app.php "$docroot/" || exit 3
	out=$("$fpm" -t -y /loadcheck/php-fpm.conf 2>&1) ||
		{ echo "loadcheck: php-fpm rejected its pool (/loadcheck/php-fpm.conf): $out"; echo "$invalid"; exit 3; }
	"$fpm" -F -y /loadcheck/php-fpm.conf &
	# httpd starts once the pool listens (php-fpm writes its PID file
	# after it opened its socket), so that no request meets a 503.
	n=0
	until [ -s /loadcheck-run/php-fpm.pid ]; do
		n=$((n + 1))
		[ $n -le 200 ] || { echo "loadcheck: php-fpm did not start in 20 s"; echo "$invalid"; exit 3; }
		sleep 0.1
	done
	;;
esac
if [ -n "$root" ]; then
	shift 6
	# Debian's envvars name the user, the runtime and log folders; the
	# runtime files and logs then go to tmpfs.
	[ -f "$root/envvars" ] && . "$root/envvars"
	export APACHE_RUN_DIR=/loadcheck-run APACHE_PID_FILE=/loadcheck-run/httpd.pid \
		APACHE_LOCK_DIR=/loadcheck-run APACHE_LOG_DIR=/loadcheck-logs
	export APACHE_RUN_USER=${APACHE_RUN_USER:-daemon} APACHE_RUN_GROUP=${APACHE_RUN_GROUP:-daemon}
	# The official layout loads modules/mod_*.so relative to ServerRoot.
	[ -e "$root/modules" ] || ln -s "$modules" "$root/modules"
	# A DocumentRoot the image lacks is made on tmpfs, with the test page.
	n=0
	for d in "$@"; do
		[ -d "$d" ] && continue
		n=$((n + 1))
		mkdir -p "$docroot/$n" "$(dirname "$d")" && ln -s "$docroot/$n" "$d" &&
			printf 'ok\n' > "$d/index.html" && echo "loadcheck: created DocumentRoot $d" && serve "$d"
	done
	# Certificates neither the tree nor the image has are installed.
	[ -f /loadcheck/tls/install.sh ] && . /loadcheck/tls/install.sh
	set -- -d "$root"
else
	set --
fi
"$binary" "$@" -t -f "$conf" 2>&1 || { echo "$invalid"; exit 3; }
# exec keeps httpd as PID 1, so that a stop signal reaches it.
exec "$binary" "$@" -DFOREGROUND -f "$conf"
