/* ipc_int.h — what the core's files (ipc*.c) share, and nothing else reads. */
#ifndef PORTD_IPC_INT_H
#define PORTD_IPC_INT_H

#include "ipc.h"

struct ipc_env {
	struct ipc_conf conf;
	struct ipc_hooks hooks;
};
extern struct ipc_env ipc_env;
extern LIST_HEAD(ipc_spaces, ipc_space) ipc_spaces;	/* ipc_space.c: every live space */
extern struct map ipc_ports;			/* ipc_port.c: every live port, by id */
extern struct map ipc_accts;			/* ipc_acct.c: uid + 1 -> struct ipc_acct */

#endif
