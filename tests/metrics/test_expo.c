/* SPDX-License-Identifier: MIT */
/* The exposition writer (pure): families, escaping, histograms, truncation; and the exporters
 * and --stats line pieces generated from the layers' lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gs_test.h"

#include "gs/metrics.h"

static void test_family_and_samples(void **state) {
    (void)state;
    char buf[512];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    gs_expo_family(&w, "gs_x_total", GS_METRIC_COUNTER, "Help with \\ and\nnewline.");
    gs_label_t l[2] = {{"a", "q\"uo\\te\nx"}, {"b", "2"}};
    gs_expo_sample(&w, "gs_x_total", l, 2, 42);
    gs_expo_sample(&w, "gs_x_total", NULL, 0, UINT64_MAX);
    gs_expo_sample_f(&w, "gs_y_seconds", NULL, 0, 0.25);
    assert_false(w.truncated);
    assert_string_equal(buf, "# HELP gs_x_total Help with \\\\ and\\nnewline.\n"
                             "# TYPE gs_x_total counter\n"
                             "gs_x_total{a=\"q\\\"uo\\\\te\\nx\",b=\"2\"} 42\n"
                             "gs_x_total 18446744073709551615\n"
                             "gs_y_seconds 0.25\n");
    assert_int_equal(w.len, strlen(buf));
}

static void test_histogram(void **state) {
    (void)state;
    gs_hist_t h;
    const uint64_t b[] = {10, 100};
    gs_hist_init(&h, b, 2);
    gs_hist_observe(&h, 5);
    gs_hist_observe(&h, 10); /* bounds are inclusive */
    gs_hist_observe(&h, 50);
    gs_hist_observe(&h, 1000);
    gs_hist_snap_t s;
    gs_hist_read(&h, &s);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.sum, 1065);
    char buf[1024];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    gs_label_t l = {"k", "v"};
    gs_expo_histogram(&w, "gs_h_seconds", &l, 1, &s, 0.001);
    assert_false(w.truncated);
    assert_string_equal(buf, "gs_h_seconds_bucket{k=\"v\",le=\"0.01\"} 2\n"
                             "gs_h_seconds_bucket{k=\"v\",le=\"0.1\"} 3\n"
                             "gs_h_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n"
                             "gs_h_seconds_sum{k=\"v\"} 1.0649999999999999\n"
                             "gs_h_seconds_count{k=\"v\"} 4\n");
    /* Merging two snapshots adds bucket by bucket. */
    gs_hist_snap_t m;
    memset(&m, 0, sizeof m);
    gs_hist_snap_add(&m, &s);
    gs_hist_snap_add(&m, &s);
    assert_int_equal(m.count, 8);
    assert_int_equal(m.counts[2], 2);
    assert_int_equal(m.bounds[1], 100);
}

static void test_truncation(void **state) {
    (void)state;
    char buf[40];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    gs_expo_family(&w, "gs_a_very_long_metric_name_total", GS_METRIC_GAUGE, "help");
    assert_true(w.truncated);
    assert_true(w.len < sizeof buf);
    assert_int_equal(strlen(buf), w.len);
    size_t len = w.len;
    gs_expo_sample(&w, "x", NULL, 0, 1); /* nothing more once truncated */
    assert_int_equal(w.len, len);
    gs_expo_t z;
    gs_expo_init(&z, NULL, 0);
    gs_expo_printf(&z, "x");
    assert_true(z.truncated || z.len == 0);
}

/* Every entry of the lists appears, with its help and type, and the line names each field. */
static void test_generated_pool_and_app(void **state) {
    (void)state;
    gs_pool_stats_t ps;
    memset(&ps, 0, sizeof ps);
    ps.in_use = 7;
    ps.classes[1].block_size = 1024;
    ps.classes[1].allocs = 3;
    gs_app_stats_t as;
    memset(&as, 0, sizeof as);
    as.worker_busy_ns = 1500000000u;
    as.frames_shed = 9;
    static char buf[65536];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    gs_metrics_write_pool(&w, &ps);
    gs_metrics_write_app(&w, &as);
    assert_false(w.truncated);
#define HAS_POOL(f, kind, metric, help) assert_non_null(strstr(buf, "# TYPE gs_pool_" metric " "));
    GS_POOL_STATS_MAP(HAS_POOL)
    GS_POOL_CLASS_STATS_MAP(HAS_POOL)
#define HAS_APP(f, src, kind, metric, help)                                                        \
    assert_non_null(strstr(buf, "# TYPE gs_content_" metric " "));
    GS_APP_STATS_MAP(HAS_APP)
#define HAS_HIST(f, metric, help) assert_non_null(strstr(buf, "gs_content_" metric "_bucket{le="));
    GS_APP_HIST_MAP(HAS_HIST)
    assert_non_null(strstr(buf, "\ngs_pool_blocks_in_use 7\n"));
    assert_non_null(strstr(buf, "\ngs_pool_class_allocs_total{class=\"1024\"} 3\n"));
    assert_non_null(strstr(buf, "\ngs_content_worker_busy_seconds_total 1.5\n"));
    assert_non_null(strstr(buf, "\ngs_content_frames_shed_total 9\n"));

    gs_expo_init(&w, buf, sizeof buf);
    gs_metrics_line_pool(&w, &ps);
    gs_metrics_line_app(&w, &as);
    assert_non_null(strstr(buf, " pool.in_use 7"));
    assert_non_null(strstr(buf, " app.frames_shed 9"));
    gs_net_stats_t ns;
    memset(&ns, 0, sizeof ns);
    ns.frames_in = 5;
    ns.disconnects[GS_CLOSE_SEND_QUEUE_HARD] = 2;
    gs_expo_init(&w, buf, sizeof buf);
    gs_metrics_line_net(&w, &ns);
    assert_non_null(strstr(buf, " net.frames_in 5"));
    assert_non_null(strstr(buf, " net.disconnects.send_queue_hard 2"));
    assert_null(strstr(buf, "net.disconnects.reset")); /* vectors: non-zero entries only */
}

/* A real (not started) net instance: one sample per IO thread, the backend's name. */
static void test_generated_net(void **state) {
    (void)state;
    gs_net_t *net;
    gs_net_config_t cfg = {.io_threads = 2};
    assert_int_equal(gs_net_create(&net, &cfg), 0);
    static char buf[131072];
    gs_expo_t w;
    gs_expo_init(&w, buf, sizeof buf);
    gs_metrics_write_net(&w, net);
    assert_false(w.truncated);
#define HAS_NET(f, src, kind, metric, help)                                                        \
    assert_non_null(strstr(buf, "\ngs_net_" metric "{io_thread=\"1\"} 0\n"));
    GS_NET_STATS_MAP(HAS_NET)
#define HAS_NET_HIST(f, bounds, n, metric, help)                                                   \
    assert_non_null(strstr(buf, "\ngs_net_" metric "_bucket{io_thread=\"1\",le=\""));
    GS_NET_HIST_MAP(HAS_NET_HIST)
    assert_non_null(
        strstr(buf, "gs_net_disconnects_total{io_thread=\"0\",reason=\"send_queue_hard\"} 0"));
    assert_non_null(strstr(buf, "gs_net_backend_info{backend=\""));
    assert_non_null(strstr(buf, "\ngs_net_io_threads 2\n"));
    gs_net_stats_t one;
    assert_int_equal(gs_net_io_stats(net, 2, &one), GS_EINVAL);
    gs_net_destroy(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples), cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_truncation),         cmocka_unit_test(test_generated_pool_and_app),
        cmocka_unit_test(test_generated_net),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}
