#!/bin/sh
# check-layers-selftest.sh OBJDIR CC — show that check-layers can fail: plant
# an upward call (the core calling task_reply) in a copy of the objects and
# expect the check to name it and exit 1.
set -eu
dir=${1:?usage: check-layers-selftest.sh OBJDIR CC}
cc=${2:-cc}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/check-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cp "$dir"/*.o "$tmp"/
cat > "$tmp/planted.c" <<'EOT'
#include "ipc.c"
void task_reply(void);
void ipc_planted(void);
void ipc_planted(void) { task_reply(); }	/* the core calling up: what the check must catch */
EOT
$cc -D_GNU_SOURCE -I"$top/libcommon" -I"$top/cmd/portd" -std=gnu11 -c -o "$tmp/ipc.o" "$tmp/planted.c"
rc=0
out=$(sh "$here/check-layers.sh" "$tmp") || rc=$?
want="check-layers: ipc.o calls up: task_reply"
if [ "$rc" = 1 ] && [ "$out" = "$want" ]; then
	echo "check-layers-selftest: a planted upward call fails the check: ok"
	exit 0
fi
echo "check-layers-selftest: expected exit 1 and '$want', got exit $rc and:" >&2
echo "$out" >&2
exit 1
