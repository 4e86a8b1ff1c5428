#!/usr/bin/env bats
# copyin.bats — a message is checked as a whole before any right moves
# (run by `make unit`, against a real node).

# helpers.bash finds the tree from the test's directory: load it as if from t/.
unit_dir=$BATS_TEST_DIRNAME
BATS_TEST_DIRNAME=$(cd "$unit_dir/.." && pwd)
load helpers
BATS_TEST_DIRNAME=$unit_dir

@test "a message naming one right twice, the first use consuming it, is refused whole" {
	node_start
	run -0 mxtool same-right
	[ "$output" = "move-send then copy-send: no such right
copy-send then move-send: no such right
move-send, reply copy-send: no such right
move-receive then make-send: no such right
move-receive then make-send-once: no such right
move-receive, reply make-send-once: no such right
send through x: success
a got: x still works
receive on q: timed out
receive on b's port: timed out
second lookup, same name: yes
two references, move-send then copy-send: success
a got 2 rights" ]
	# portd is still there and serves.
	bg "$MASIX_BIN/msgrecv" -x cat echo
	run -0 msgsend -w 5 -r echo still here
	[ "$output" = "still here" ]
}
