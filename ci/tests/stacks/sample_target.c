/*
 * The program behind the sample reports of this directory: a fuzz target
 * with one planted bug per first input byte, built with replay_main.c (or
 * as a libFuzzer binary) under each sanitizer and run under Valgrind by
 * make-samples.sh. Deliberately wrong; not part of the build.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static volatile int sink;

NOINLINE static unsigned decode_header(const uint8_t *p, size_t n)
{
	return p[n];  /* one byte past the end */
}

NOINLINE static void store_trailer(uint8_t *p, size_t n)
{
	p[n] = 0;  /* one byte past the end */
}

NOINLINE static int add_lengths(int a, int b)
{
	return a + b;
}

NOINLINE static int *find_slot(const uint8_t *p)
{
	return p[1] == 0x7f ? (int *)&sink : (int *)16;  /* a wild pointer */
}

NOINLINE static void check_length(size_t n)
{
	assert(n < 2);
}

NOINLINE static void *grow_buffer(size_t n)
{
	return malloc(n);
}

NOINLINE static void spin(const uint8_t *p)
{
	while (p[0] == 'T')
		sink++;
}

static int shared;

static void *racer(void *arg)
{
	(void)arg;
	shared++;
	return NULL;
}

NOINLINE static void race_counter(void)
{
	pthread_t t;

	pthread_create(&t, NULL, racer, NULL);
	shared++;
	pthread_join(t, NULL);
}

NOINLINE static void sample_feed(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	int uninit[2];

	switch (data[0]) {
	case 'H':
		sink = (int)decode_header(data, size);
		break;
	case 'W':
		copy = malloc(size);
		store_trailer(copy, size);
		free(copy);
		break;
	case 'F':
		copy = malloc(size);
		free(copy);
		sink = copy[0];
		break;
	case 'N':
		sink = *find_slot(data);
		break;
	case 'I':
		sink = add_lengths(0x7fffffff, data[1] | 1);
		break;
	case 'A':
		check_length(size);
		break;
	case 'L':
		copy = grow_buffer(size);
		copy[0] = 1;
		copy = NULL;
		break;
	case 'B':
		copy = grow_buffer((size_t)1 << 40);
		sink = copy != NULL;
		free(copy);
		break;
	case 'M':
		copy = grow_buffer((size_t)1 << 30);
		sink = copy != NULL;
		free(copy);
		break;
	case 'T':
		spin(data);
		break;
	case 'U':
		uninit[0] = data[1];
		if (uninit[size & 1])
			sink++;
		break;
	case 'R':
		race_counter();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 2)
		sample_feed(data, size);
	return 0;
}
