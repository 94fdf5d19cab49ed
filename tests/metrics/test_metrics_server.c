/* SPDX-License-Identifier: MIT */
/* The metrics server over loopback (POSIX): /metrics, /healthz 200 then 503 while draining, 404,
 * an oversized request line, slowloris (a client that never finishes is cut at its deadline),
 * the connection cap, pipelined garbage after a request, and scrapes racing writer threads that
 * count without locks (TSan: label threaded). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gs_test.h"

#include "gs/metrics.h"

typedef struct fixture {
    gs_metrics_server_t *srv;
    gs_hist_t hist;
    _Atomic uint64_t counter;
} fixture_t;

static void write_cb(gs_expo_t *w, void *user) {
    fixture_t *f = user;
    gs_expo_family(w, "gs_test_events_total", GS_METRIC_COUNTER, "Events.");
    gs_expo_sample(w, "gs_test_events_total", NULL, 0,
                   atomic_load_explicit(&f->counter, memory_order_relaxed));
    gs_hist_snap_t s;
    gs_hist_read(&f->hist, &s);
    gs_expo_family(w, "gs_test_size_bytes", GS_METRIC_HISTOGRAM, "Sizes.");
    gs_expo_histogram(w, "gs_test_size_bytes", NULL, 0, &s, 1.0);
}

static fixture_t *start(uint32_t max_conns, uint32_t timeout_ms) {
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    gs_hist_init(&f->hist, gs_hist_bounds_bytes, gs_hist_bounds_bytes_count);
    gs_metrics_config_t c = {
        .port = 0, .write = write_cb, .user = f, .max_conns = max_conns, .timeout_ms = timeout_ms};
    assert_int_equal(gs_metrics_server_start(&f->srv, &c), 0);
    assert_true(gs_metrics_server_port(f->srv) != 0);
    return f;
}

static void stop(fixture_t *f) {
    gs_metrics_server_stop(f->srv);
    free(f);
}

static int dial(fixture_t *f) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(gs_metrics_server_port(f->srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Everything the server sends until it closes (bounded by the receive timeout). */
static char *read_all(int fd) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        ssize_t r = read(fd, b + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap - 1)
            b = realloc(b, cap *= 2);
    }
    b[n] = '\0';
    close(fd);
    return b;
}

static char *request(fixture_t *f, const char *req) {
    int fd = dial(f);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    return read_all(fd);
}

static void test_routes(void **state) {
    (void)state;
    fixture_t *f = start(0, 0);
    char *r = request(f, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r, "\ngs_test_events_total 0\n"));
    assert_non_null(strstr(r, "\ngs_metrics_scrapes_total 1\n"));
    free(r);
    r = request(f, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    free(r);
    gs_metrics_server_set_draining(f->srv, 1);
    r = request(f, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 503 Service Unavailable\r\n"));
    free(r);
    r = request(f, "GET /nope HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 404 Not Found\r\n"));
    free(r);
    r = request(f, "DELETE /metrics HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(r, "\r\nAllow: GET\r\n"));
    free(r);
    gs_metrics_server_stats_t st;
    gs_metrics_server_stats(f->srv, &st);
    assert_int_equal(st.scrapes, 1);
    assert_int_equal(st.healthz, 2);
    assert_int_equal(st.not_found, 1);
    assert_int_equal(st.bad_requests, 1);
    stop(f);
}

static void test_oversized_line(void **state) {
    (void)state;
    fixture_t *f = start(0, 0);
    char big[4096];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    int fd = dial(f);
    /* The server answers once it has seen GS_HTTP_LINE_MAX bytes without a line end; what it
     * did not read may make its close a reset, so only the status line is asked for. */
    assert_true(write(fd, big, sizeof big) > 0);
    char *r = read_all(fd);
    assert_non_null(strstr(r, "HTTP/1.1 414 URI Too Long\r\n"));
    free(r);
    stop(f);
}

static void test_pipelined_garbage(void **state) {
    (void)state;
    fixture_t *f = start(0, 0);
    char *r = request(f, "GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n\x01\x02zz");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_null(strstr(r, "gs_test_events_total")); /* one request per connection */
    free(r);
    r = request(f, "\x16\x03\x01garbage\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 400 Bad Request\r\n"));
    free(r);
    stop(f);
}

/* Slowloris: clients that send a byte now and then and never finish hold their slot only until
 * the deadline; a client beyond the cap is closed at once; the server still serves afterwards. */
static void test_slowloris_and_cap(void **state) {
    (void)state;
    fixture_t *f = start(2, 300);
    int a = dial(f), b = dial(f);
    assert_int_equal(write(a, "GET /met", 8), 8);
    assert_int_equal(write(b, "G", 1), 1);
    gs_sleep_ms(100); /* both accepted before the third arrives */
    int c = dial(f);
    char *rc = read_all(c); /* closed at accept: nothing */
    assert_string_equal(rc, "");
    free(rc);
    uint64_t t0 = gs_now_ms();
    assert_int_equal(write(a, "ri", 2), 2);
    char *ra = read_all(a), *rb = read_all(b);
    uint64_t dt = gs_now_ms() - t0;
    assert_string_equal(ra, "");
    assert_string_equal(rb, "");
    free(ra);
    free(rb);
    assert_true(dt < 5000);
    gs_metrics_server_stats_t st;
    gs_metrics_server_stats(f->srv, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.timeouts, 2);
    char *r = request(f, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(r, "200 OK"));
    free(r);
    stop(f);
}

typedef struct writer {
    fixture_t *f;
    gs_thread_t *t;
    _Atomic int *stop;
} writer_t;

static void writer_main(void *arg) {
    writer_t *w = arg;
    uint64_t i = 0;
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        gs_hist_observe(&w->f->hist, i++ % 5000);
        atomic_fetch_add_explicit(&w->f->counter, 1, memory_order_relaxed);
    }
}

/* Writers count while scrapes read: no lock on the writers' side, counts only grow. */
static void test_scrape_races_writers(void **state) {
    (void)state;
    fixture_t *f = start(0, 0);
    _Atomic int stop_flag = 0;
    writer_t w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (writer_t){.f = f, .stop = &stop_flag};
        assert_int_equal(gs_thread_start(&w[i].t, writer_main, &w[i], "writer"), 0);
    }
    unsigned long long last = 0;
    for (int k = 0; k < 20; k++) {
        char *r = request(f, "GET /metrics HTTP/1.1\r\n\r\n");
        char *p = strstr(r, "\ngs_test_size_bytes_count ");
        assert_non_null(p);
        unsigned long long n = strtoull(p + strlen("\ngs_test_size_bytes_count "), NULL, 10);
        assert_true(n >= last);
        last = n;
        free(r);
    }
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < 3; i++)
        gs_thread_join(w[i].t);
    stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_oversized_line),
        cmocka_unit_test(test_pipelined_garbage),
        cmocka_unit_test(test_slowloris_and_cap),
        cmocka_unit_test(test_scrape_races_writers),
    };
    return gs_test_status(cmocka_run_group_tests(tests, NULL, NULL));
}
