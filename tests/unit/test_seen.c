// SPDX-License-Identifier: GPL-2.0-only
/* node/seen.c against a plain array doing the same operations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "node/detect/seen.h"

#define KEYS 5000

struct model {
	bool in[KEYS];
	__u64 at[KEYS];
};

static void key_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "tcp 10.%d.%d.2:%d > 10.0.0.3:80 %d", i % 7, i % 251,
		 1024 + i, i * 31);
}

/* Every key answers as the model says: present or not, with its time. */
static bool agrees(const struct seen_set *s, const struct model *m,
		   const char *when)
{
	char key[96];
	size_t n = 0;
	__u64 at;
	int i;

	for (i = 0; i < KEYS; i++) {
		bool got;

		key_of(i, key, sizeof(key));
		got = seen_get(s, key, &at);
		if (!ASSERT_EQ(got, m->in[i], when) ||
		    (got && !ASSERT_EQ(at, m->at[i], when)))
			return false;
		n += m->in[i];
	}
	return ASSERT_EQ(s->n, n, when);
}

/* Random puts, deletes and reaps through several doublings: removal by
 * moving entries back must never hide one behind a hole. */
static void test_random_ops(void)
{
	struct seen_set s = {};
	struct model *m = calloc(1, sizeof(*m));
	char key[96], when[64];
	__u64 now = 1000;
	int round, op;

	srand(7);
	for (round = 0; round < 20; round++) {
		for (op = 0; op < 4000; op++) {
			int i = rand() % KEYS;

			key_of(i, key, sizeof(key));
			now++;
			if (rand() % 3) {
				if (!ASSERT_OK(seen_put(&s, key, now), "put"))
					goto out;
				m->in[i] = true;
				m->at[i] = now;
			} else if (!ASSERT_EQ(seen_del(&s, key), m->in[i],
					      "del finds what is there")) {
				goto out;
			} else {
				m->in[i] = false;
			}
		}
		snprintf(when, sizeof(when), "after round %d", round);
		if (!agrees(&s, m, when))
			goto out;
		if (round % 5 == 4) {
			__u64 before = now - 3000;
			int i;

			seen_reap(&s, before);
			for (i = 0; i < KEYS; i++)
				if (m->in[i] && m->at[i] < before)
					m->in[i] = false;
			snprintf(when, sizeof(when), "after reap %d", round);
			if (!agrees(&s, m, when))
				goto out;
		}
	}
out:
	seen_free(&s);
	free(m);
}

static void test_empty(void)
{
	struct seen_set s = {};
	__u64 at = 5;

	ASSERT_TRUE(!seen_get(&s, "x", &at), "empty set has nothing");
	ASSERT_TRUE(!seen_del(&s, "x"), "nothing to delete");
	seen_reap(&s, 100);
	ASSERT_OK(seen_put(&s, "x", 7), "put");
	ASSERT_TRUE(seen_get(&s, "x", &at) && at == 7, "x at 7");
	ASSERT_OK(seen_put(&s, "x", 9), "put again");
	ASSERT_TRUE(seen_get(&s, "x", &at) && at == 9 && s.n == 1,
		    "one key, new time");
	seen_reap(&s, 10);
	ASSERT_TRUE(!seen_get(&s, "x", NULL) && s.n == 0, "reaped");
	seen_free(&s);
}

TEST_MAIN(TEST(test_empty), TEST(test_random_ops))
