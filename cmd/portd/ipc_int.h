/* ipc_int.h — what the core's files (ipc*.c) share, and nothing else reads. */
#ifndef PORTD_IPC_INT_H
#define PORTD_IPC_INT_H

#include "ipc.h"

struct ipc_env {
	struct ipc_conf conf;
	struct ipc_hooks hooks;
};
extern struct ipc_env ipc_env;

#endif
