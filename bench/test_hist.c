/* unit.bench-hist: the latency histogram of bench-run (hist.h) gives back
 * what was recorded within its stated error of 1/64. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

#define REL_ERROR (1.0 / 64.0)

static struct hist *new_hist(void)
{
	struct hist *h = malloc(sizeof *h);

	assert_non_null(h);
	hist_init(h);
	return h;
}

static void assert_close(uint64_t got, uint64_t want)
{
	double err = fabs((double)got - (double)want) / (double)want;

	if (err > REL_ERROR)
		fail_msg("%llu is %.4f%% off %llu (at most %.4f%% allowed)",
			 (unsigned long long)got, err * 100, (unsigned long long)want,
			 REL_ERROR * 100);
}

/* Every value from 1 ns to 60 s lies in a bucket whose upper end is at
 * most 1/64 above it, and the buckets are in order. */
static void test_bucket_error(void **state)
{
	size_t prev = 0;

	(void)state;
	for (double v = 1; v <= 6e10; v *= 1.0007) {
		uint64_t ns = (uint64_t)v;
		size_t b = hist_bucket_of(ns);
		uint64_t upper = hist_bucket_upper(b);

		assert_true(b < HIST_BUCKETS);
		assert_true(b >= prev);
		assert_true(upper >= ns);
		assert_close(upper, ns);
		if (b > 0)
			assert_true(hist_bucket_upper(b - 1) < ns);
		prev = b;
	}
}

/* Below 64 ns each value has a bucket of its own: percentiles are exact. */
static void test_small_values_exact(void **state)
{
	struct hist *h = new_hist();

	(void)state;
	for (uint64_t v = 1; v <= 50; v++)
		hist_record(h, v);
	assert_int_equal(hist_percentile(h, 50), 25);
	assert_int_equal(hist_percentile(h, 90), 45);
	assert_int_equal(hist_percentile(h, 100), 50);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 50);
	free(h);
}

/* 1..100000 ns once each: the p-th percentile is p*1000 ns, within 1/64. */
static void test_uniform_percentiles(void **state)
{
	static const double pcts[] = {1, 10, 50, 90, 99, 99.9};
	struct hist *h = new_hist();

	(void)state;
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(h, v);
	for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
		assert_close(hist_percentile(h, pcts[i]), (uint64_t)(pcts[i] * 1000));
	assert_int_equal(h->total, 100000);
	assert_true(fabs(hist_mean(h) - 50000.5) < 1e-6);
	free(h);
}

/* A few slow outliers among many fast ones show at p99.9 and max only. */
static void test_outliers(void **state)
{
	struct hist *h = new_hist();

	(void)state;
	for (int i = 0; i < 9990; i++)
		hist_record(h, 5000);
	for (int i = 0; i < 10; i++)
		hist_record(h, 3000000);
	assert_close(hist_percentile(h, 50), 5000);
	assert_close(hist_percentile(h, 99.9), 5000);
	assert_close(hist_percentile(h, 99.95), 3000000);
	assert_int_equal(hist_percentile(h, 100), 3000000);
	assert_int_equal(h->max, 3000000);
	free(h);
}

/* Over 60 s counts at the top; min, max and the empty case. */
static void test_limits(void **state)
{
	struct hist *h = new_hist();

	(void)state;
	assert_int_equal(hist_percentile(h, 50), 0);
	hist_record(h, 0);
	hist_record(h, 120000000000ull);
	assert_int_equal(h->min, 0);
	assert_int_equal(h->max, 120000000000ull);
	assert_int_equal(h->counts[hist_bucket_of(HIST_MAX_NS)], 1);
	assert_int_equal(hist_percentile(h, 50), 0);
	assert_close(hist_percentile(h, 100), HIST_MAX_NS);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_error),
		cmocka_unit_test(test_small_values_exact),
		cmocka_unit_test(test_uniform_percentiles),
		cmocka_unit_test(test_outliers),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
