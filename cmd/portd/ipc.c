/* ipc.c — the core's settings and the hooks of the layer above. */
#include "ipc_int.h"

struct ipc_env ipc_env;

void
ipc_init(const struct ipc_conf *c, const struct ipc_hooks *h)
{
	ipc_env.conf = *c;
	ipc_env.hooks = *h;
}
