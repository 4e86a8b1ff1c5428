/* siglist.c — libFuzzer harness for the signature-list parser (libcommon/crypto_siglist.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "masix.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[CRYPTO_HASH_LEN];
	char why[CRYPTO_WHY_MAX];
	struct siglist *l, *again;
	char *text, *text2;
	size_t len, len2, i;

	if (siglist_parse((const char *)data, size, &l, why, sizeof(why)) != 0)
		return 0;
	/* What parses must format, and the format must parse back to itself. */
	if (siglist_format(l, &text, &len) != 0)
		abort();
	if (siglist_parse(text, len, &again, why, sizeof(why)) != 0)
		abort();
	if (siglist_format(again, &text2, &len2) != 0 || len2 != len ||
	    memcmp(text, text2, len) != 0)
		abort();
	/* Exercise the queries on every rule. */
	for (i = 0; i < l->n; i++) {
		const struct siglist_entry *e = &l->ent[i];

		if (e->line != NULL)
			continue;
		if (!siglist_name_valid(e->name))
			abort();
		if (mx_name_valid(e->name) && e->unit[0] == '\0' && !siglist_allows(l, e->hash, e->uid, e->name))
			abort();
		(void)siglist_allows(l, zero, 0, "a/b");
		/* A private rule's services are valid, and every one of them sees its names. */
		if (e->audience[0] != '\0' && (!e->private || !siglist_audience_valid(e->audience)))
			abort();
		if (e->private && !siglist_audience_admits(e->audience, "a/b") && e->audience[0] == '\0')
			abort();
	}
	if (l->n > 0 && l->ent[0].line == NULL &&
	    siglist_remove(again, l->ent[0].name, l->ent[0].anyhash ? NULL : l->ent[0].hash) <= 0)
		abort();
	free(text);
	free(text2);
	siglist_free(again);
	siglist_free(l);
	return 0;
}
