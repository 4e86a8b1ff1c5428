/* names.h — the NAME port protocol between tasks and namesrv (doc/protocol.md). */
#ifndef MX_NAMES_H
#define MX_NAMES_H

/* Request msgids; every reply is MX_MSGID_REPLY with INT status first. */
#define NS_REGISTER	1	/* STRING name, PORT send right -> INT status */
#define NS_LOOKUP	2	/* STRING name, INT wait_ms -> INT status, PORT send right */
#define NS_UNREGISTER	3	/* STRING name -> INT status */

#endif
