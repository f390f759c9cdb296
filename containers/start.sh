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
printf 'ok\n' > "$docroot/index.html" || exit 3
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
serve "$docroot"
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
