#!/bin/sh
# check-headers.sh CC — every header of portd compiles on its own (it
# includes what it uses), with the project's warnings as errors.
set -eu
cc=${1:-cc}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bad=0
n=0
for h in "$top"/cmd/portd/*.h; do
	n=$((n + 1))
	if ! printf '#include "%s"\n' "$(basename "$h")" |
	    $cc -D_GNU_SOURCE -I"$top/libcommon" -I"$top/cmd/portd" -std=gnu11 -Wall -Wextra -Werror \
	    -Wstrict-prototypes -Wmissing-prototypes -fsyntax-only -x c - ; then
		echo "check-headers: cmd/portd/$(basename "$h") does not compile on its own" >&2
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "check-headers: $n headers compile on their own"
exit "$bad"
