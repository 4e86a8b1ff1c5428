#!/bin/sh
# check-layers.sh OBJDIR — portd's layers call down only (see HACKING.md).
# For each object of OBJDIR (build/cmd/portd), list the symbols it needs
# from elsewhere (nm -u) and fail when one belongs to a layer above it:
#
#   portd.o (wiring) > ops*.o (requests) > task.o (connections),
#   node*.o (nodes) > ipc*.o (the core), link*.o, bcast*.o, rmsg.o, map.o
#
# and inside the node layer node.c > node_msg.c, node_names.c > node_peer.c,
# node_export.c (those two call each other).
#
# Globals of the wiring (conf, loop) count as the top layer: only portd.o
# reads them. Prints one line per upward reference; exit 1 if any.
set -eu
dir=${1:?usage: check-layers.sh OBJDIR}
[ -d "$dir" ] || { echo "check-layers: $dir: no such directory (build portd first)" >&2; exit 2; }

wiring='^(conf|loop|main)$'
ops='^(ops_|psend_cancel$)'
task='^(task_|tasks_)'
node='^node_'
ipc='^ipc_'
node_face='^node_(init|flush|reload|shutdown|port_died|so_gone|special_get)$'
transport='^(link_|links_|bcast_|rmsg_)'

# forbidden OBJ-GLOB REGEX...: the symbols objects matching OBJ-GLOB may not need
bad=0
forbid() {
	glob=$1; shift
	for o in $dir/$glob; do
		[ -e "$o" ] || continue
		for re in "$@"; do
			nm -u "$o" | awk '{print $NF}' | grep -E "$re" | while read -r sym; do
				echo "check-layers: $(basename "$o") calls up: $sym"
			done
		done
	done
}
out=$(
	forbid 'ipc*.o' "$wiring" "$ops" "$task" "$node" "$transport"
	forbid 'map.o' "$wiring" "$ops" "$task" "$node" "$ipc" "$transport"
	forbid 'link*.o' "$wiring" "$ops" "$task" "$node" "$ipc"
	forbid 'bcast*.o' "$wiring" "$ops" "$task" "$node" "$ipc"
	forbid 'rmsg.o' "$wiring" "$ops" "$task" "$node" "$ipc"
	forbid 'node*.o' "$wiring" "$ops" "$task"
	# Inside the node layer: node.c > node_msg.c, node_names.c > node_peer.c.
	forbid 'node_peer.o' '^node_(msg|names)_' "$node_face"
	forbid 'node_export.o' '^node_(msg|names)_' "$node_face"
	forbid 'node_msg.o' '^node_names_' "$node_face"
	forbid 'node_names.o' '^node_msg_' "$node_face"
	forbid 'task.o' "$wiring" "$ops" "$node"
	forbid 'ops*.o' "$wiring"
)
if [ -n "$out" ]; then
	echo "$out"
	bad=1
fi
n=$(ls "$dir"/*.o | wc -l)
if [ "$bad" = 0 ]; then
	echo "check-layers: $n objects, no upward call"
fi
exit "$bad"
