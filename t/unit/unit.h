/*
 * unit.h — the smallest assert harness: EXPECT() counts and, on failure,
 * prints where and what; unit_end() prints "N passed, N failed" last and
 * gives the exit status.
 */
#ifndef MX_UNIT_H
#define MX_UNIT_H

#include <stdio.h>

static int unit_passed, unit_failed;

#define EXPECT(cond) do {							\
	if (cond) {								\
		unit_passed++;							\
	} else {							\
		unit_failed++;							\
		fprintf(stderr, "%s:%d: %s: failed: %s\n", __FILE__, __LINE__, unit_case, #cond); \
	}									\
} while (0)

#define EXPECT_EQ(a, b) do {							\
	long long a_ = (long long)(a), b_ = (long long)(b);			\
	if (a_ == b_) {								\
		unit_passed++;							\
	} else {							\
		unit_failed++;							\
		fprintf(stderr, "%s:%d: %s: failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
		    unit_case, #a, #b, a_, b_);					\
	}									\
} while (0)

static const char *unit_case = "";

static inline int
unit_end(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
