# The httpd container's command. Arguments: httpd's binary, the rendered
# httpd.conf, the served folder, and the line to print when httpd -t
# rejects the config.
#
# Without group bits on "/" the kernel skips the ACL check on every path
# lookup: on fuse-overlayfs, which does not cache ACLs, each lookup would
# otherwise ask the fuse daemon for the root's ACL, and that halves httpd's
# CPU per request. It changes nothing else in the throwaway container.
chmod g-rwx / 2>/dev/null
binary=$1 conf=$2 docroot=$3 invalid=$4
printf 'ok\n' > "$docroot/index.html" &&
	"$binary" -t -f "$conf" 2>&1 || { echo "$invalid"; exit 3; }
# exec keeps httpd as PID 1, so that a stop signal reaches it.
exec "$binary" -DFOREGROUND -f "$conf"
