/* SPDX-License-Identifier: MIT */
/* Micro-benchmark of the packet layer against malloc/free and protobuf-c's default allocator,
 * measured in the same invocation: ns per operation, median of R runs. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_proto.h"
#include "gs/packet.h"

/* Variants of one case: column gs, column baseline, and an optional third one (decode only). */
enum { V_GS, V_BASE, V_EXTRA, V_MAX };
enum { M_WALL, M_CPU };
#define MAX_RUNS 101
#define BATCH    100
#define RING_CAP 1024u /* power of two */

typedef struct bench_env {
    gs_pool_t *pool;
    gs_msg_registry_t *reg;
    gs_arena_t *arena;
    uint32_t delivery_id;
    Chat__ChatDelivery msg;
    uint8_t body[256];
    uint32_t body_len;
    int pinned; /* every thread that asked for a CPU got it */
    /* Sinks: the compiler must assume they are read, so no allocation or decode is elided. */
    volatile uint64_t sink;
    void *volatile escape;
} bench_env_t;

typedef struct bench_case bench_case_t;
/* Runs n iterations of variant v; *wall_ns gets the elapsed time, *cpu_ns the CPU time of the
 * threads that did the work (summed, spin-waits excluded), which time spent preempted by other
 * processes on this noisy 2-core machine does not inflate. */
typedef void (*run_fn)(bench_env_t *env, const bench_case_t *c, int v, uint64_t n, double *wall_ns,
                       double *cpu_ns);

struct bench_case {
    const char *key;
    run_fn run;
    size_t size; /* block size, or packet frame size */
    int kind;    /* cross-thread item kind */
    int nvariants;
    uint64_t ops_per_iter;
    uint64_t iters[V_MAX];
    int nruns;
    double wall[V_MAX][MAX_RUNS], cpu[V_MAX][MAX_RUNS];
    int repeated_runs; /* runs repeated because they ended too soon */
};

static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void die(const char *what) {
    fprintf(stderr, "packet-bench: %s failed\n", what);
    exit(1);
}

/* ---- single thread: alloc+free ------------------------------------------------------------ */

static void run_alloc_free(bench_env_t *env, const bench_case_t *c, int v, uint64_t n,
                           double *wall_ns, double *cpu_ns) {
    uint64_t acc = 0, t0 = gs_now_ns(), c0 = thread_cpu_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint8_t *p = v == V_GS ? gs_pool_alloc(env->pool, c->size) : malloc(c->size);
        if (!p)
            die("alloc");
        p[0] = (uint8_t)i;
        env->escape = p;
        acc += p[0];
        if (v == V_GS)
            gs_pool_free(p);
        else
            free(p);
    }
    *wall_ns = (double)(gs_now_ns() - t0);
    *cpu_ns = (double)(thread_cpu_ns() - c0);
    env->sink += acc;
}

/* Allocate BATCH blocks, then free them in the same order (a queue of packets draining). */
static void run_batch(bench_env_t *env, const bench_case_t *c, int v, uint64_t n, double *wall_ns,
                      double *cpu_ns) {
    uint8_t *blocks[BATCH];
    uint64_t acc = 0, t0 = gs_now_ns(), c0 = thread_cpu_ns();
    for (uint64_t i = 0; i < n; i++) {
        for (int k = 0; k < BATCH; k++) {
            uint8_t *p = v == V_GS ? gs_pool_alloc(env->pool, c->size) : malloc(c->size);
            if (!p)
                die("alloc");
            p[0] = (uint8_t)k;
            blocks[k] = p;
        }
        env->escape = blocks;
        for (int k = 0; k < BATCH; k++) {
            acc += blocks[k][0];
            if (v == V_GS)
                gs_pool_free(blocks[k]);
            else
                free(blocks[k]);
        }
    }
    *wall_ns = (double)(gs_now_ns() - t0);
    *cpu_ns = (double)(thread_cpu_ns() - c0);
    env->sink += acc;
}

/* ---- cross thread: producer allocates, consumer frees, through an SPSC ring ---------------- */

enum { XT_NONE, XT_BLOCK, XT_PACKET, XT_RING_ONLY }; /* XT_NONE: not a cross-thread case */

typedef struct ring {
    _Alignas(GS_CACHELINE) _Atomic uint32_t head; /* next slot the consumer reads */
    _Alignas(GS_CACHELINE) _Atomic uint32_t tail; /* next slot the producer fills */
    _Alignas(GS_CACHELINE) void *slot[RING_CAP];
} ring_t;

typedef struct xt_run {
    ring_t ring;
    bench_env_t *env;
    const bench_case_t *c;
    int v;
    uint64_t n;
    _Atomic int ready, go;
    uint64_t t_start, t_end;
    uint64_t cpu[2], wait_cpu[2];
    int pinned[2];
    uint64_t acc;
} xt_run_t;

/* The waits spin (a sleeping thread would add wake-up latency to the wall time) and are timed,
 * so that their CPU is left out of the per-block CPU figure. The thresholds (half the ring
 * free, a quarter filled) make a wait, and its two clock reads, rare. */
static uint32_t wait_space(ring_t *r, uint32_t tail, uint64_t *wait_cpu) {
    uint64_t c0 = thread_cpu_ns();
    uint32_t head;
    for (unsigned spins = 1;; spins++) {
        head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail - head <= RING_CAP / 2)
            break;
        for (int k = 0; k < 32; k++)
            cpu_relax();
        if (spins % 256 == 0)
            sched_yield(); /* in case both threads share a CPU */
    }
    *wait_cpu += thread_cpu_ns() - c0;
    return head;
}

static uint32_t wait_items(ring_t *r, uint32_t head, uint64_t want, uint64_t *wait_cpu) {
    uint64_t c0 = thread_cpu_ns();
    uint32_t tail;
    for (unsigned spins = 1;; spins++) {
        tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (tail - head >= want)
            break;
        for (int k = 0; k < 32; k++)
            cpu_relax();
        if (spins % 256 == 0)
            sched_yield();
    }
    *wait_cpu += thread_cpu_ns() - c0;
    return tail;
}

static void xt_start_line(xt_run_t *x, int side) {
    x->pinned[side] = pin_to(side);
    atomic_fetch_add(&x->ready, 1);
    while (!atomic_load_explicit(&x->go, memory_order_acquire))
        cpu_relax();
}

static void *make_item(xt_run_t *x, uint64_t i) {
    static uint8_t dummy;
    bench_env_t *env = x->env;
    size_t size = x->c->size;
    switch (x->c->kind) {
    case XT_BLOCK: {
        uint8_t *p = x->v == V_GS ? gs_pool_alloc(env->pool, size) : malloc(size);
        if (!p)
            die("alloc");
        p[0] = (uint8_t)i;
        return p;
    }
    case XT_PACKET: {
        uint32_t body = (uint32_t)(size - GS_FRAME_HEADER_SIZE);
        if (x->v == V_GS) {
            gs_packet_t *p = gs_packet_alloc(env->pool, body);
            if (!p)
                die("gs_packet_alloc");
            gs_packet_body(p)[0] = (uint8_t)i;
            gs_packet_finish(p, env->delivery_id, body);
            return &p->buf;
        }
        gs_buf_t *b = gs_buf_alloc((uint32_t)size);
        if (!b)
            die("gs_buf_alloc");
        gs_frame_header_write(gs_buf_bytes(b), body, env->delivery_id);
        gs_buf_bytes(b)[GS_FRAME_HEADER_SIZE] = (uint8_t)i;
        return b;
    }
    default:
        return &dummy;
    }
}

static uint64_t consume_item(xt_run_t *x, void *item) {
    uint64_t byte;
    switch (x->c->kind) {
    case XT_BLOCK:
        byte = *(uint8_t *)item;
        if (x->v == V_GS)
            gs_pool_free(item);
        else
            free(item);
        return byte;
    case XT_PACKET: {
        gs_buf_t *b = item;
        byte = b->data[GS_FRAME_HEADER_SIZE];
        gs_buf_unref(b); /* the last reference: back to the pool, or free() for gs_buf_alloc */
        return byte;
    }
    default:
        return *(uint8_t *)item;
    }
}

static void producer(void *arg) {
    xt_run_t *x = arg;
    xt_start_line(x, 0);
    uint64_t c0 = thread_cpu_ns(), wait = 0;
    x->t_start = gs_now_ns();
    uint32_t head = 0, tail = 0;
    for (uint64_t i = 0; i < x->n; i++) {
        void *item = make_item(x, i);
        if (tail - head == RING_CAP) {
            head = atomic_load_explicit(&x->ring.head, memory_order_acquire);
            if (tail - head == RING_CAP)
                head = wait_space(&x->ring, tail, &wait);
        }
        x->ring.slot[tail & (RING_CAP - 1)] = item;
        atomic_store_explicit(&x->ring.tail, ++tail, memory_order_release);
    }
    x->cpu[0] = thread_cpu_ns() - c0;
    x->wait_cpu[0] = wait;
}

static void consumer(void *arg) {
    xt_run_t *x = arg;
    xt_start_line(x, 1);
    uint64_t c0 = thread_cpu_ns(), wait = 0, acc = 0;
    uint32_t head = 0, tail = 0;
    for (uint64_t i = 0; i < x->n; i++) {
        if (head == tail) {
            tail = atomic_load_explicit(&x->ring.tail, memory_order_acquire);
            if (head == tail) {
                uint64_t left = x->n - i;
                tail = wait_items(&x->ring, head, left < RING_CAP / 4 ? left : RING_CAP / 4, &wait);
            }
        }
        acc += consume_item(x, x->ring.slot[head & (RING_CAP - 1)]);
        atomic_store_explicit(&x->ring.head, ++head, memory_order_release);
    }
    x->t_end = gs_now_ns();
    x->cpu[1] = thread_cpu_ns() - c0;
    x->wait_cpu[1] = wait;
    x->acc = acc;
}

static void run_cross_thread(bench_env_t *env, const bench_case_t *c, int v, uint64_t n,
                             double *wall_ns, double *cpu_ns) {
    size_t bytes = (sizeof(xt_run_t) + GS_CACHELINE - 1) / GS_CACHELINE * GS_CACHELINE;
    xt_run_t *x = aligned_alloc(GS_CACHELINE, bytes);
    if (!x)
        die("aligned_alloc");
    memset(x, 0, sizeof(*x));
    x->env = env;
    x->c = c;
    x->v = v;
    x->n = n;
    gs_thread_t *tp, *tc;
    if (gs_thread_start(&tc, consumer, x, "bench-cons") != 0 ||
        gs_thread_start(&tp, producer, x, "bench-prod") != 0)
        die("gs_thread_start");
    while (atomic_load(&x->ready) != 2)
        sched_yield();
    atomic_store_explicit(&x->go, 1, memory_order_release);
    gs_thread_join(tp);
    gs_thread_join(tc);
    if (!x->pinned[0] || !x->pinned[1])
        env->pinned = 0;
    *wall_ns = (double)(x->t_end - x->t_start);
    *cpu_ns = (double)(x->cpu[0] - x->wait_cpu[0] + x->cpu[1] - x->wait_cpu[1]);
    env->sink += x->acc;
    free(x);
}

/* ---- encode and decode of a ChatDelivery ------------------------------------------------- */

static void run_encode(bench_env_t *env, const bench_case_t *c, int v, uint64_t n, double *wall_ns,
                       double *cpu_ns) {
    (void)c;
    Chat__ChatDelivery m = env->msg;
    uint64_t acc = 0, t0 = gs_now_ns(), c0 = thread_cpu_ns();
    for (uint64_t i = 0; i < n; i++) {
        m.seq = 100000 + (i & 1023); /* a 3-byte varint either way: the size never changes */
        if (v == V_GS) {
            gs_packet_t *p;
            if (gs_msg_encode(env->reg, env->pool, &m.base, &p) != 0)
                die("gs_msg_encode");
            acc += gs_packet_body(p)[p->buf.len - GS_FRAME_HEADER_SIZE - 1];
            gs_packet_unref(p);
        } else {
            size_t size = protobuf_c_message_get_packed_size(&m.base);
            uint8_t *buf = malloc(size);
            if (!buf)
                die("malloc");
            if (protobuf_c_message_pack(&m.base, buf) != size)
                die("protobuf_c_message_pack");
            acc += buf[size - 1];
            env->escape = buf;
            free(buf);
        }
    }
    *wall_ns = (double)(gs_now_ns() - t0);
    *cpu_ns = (double)(thread_cpu_ns() - c0);
    env->sink += acc;
}

static uint64_t touch_delivery(const ProtobufCMessage *m) {
    const Chat__ChatDelivery *d = (const Chat__ChatDelivery *)m;
    return (uint8_t)d->text[39] + (uint8_t)d->room[0] + (uint8_t)d->sender[0] + d->seq;
}

static void run_decode(bench_env_t *env, const bench_case_t *c, int v, uint64_t n, double *wall_ns,
                       double *cpu_ns) {
    (void)c;
    const ProtobufCMessageDescriptor *desc = &chat__chat_delivery__descriptor;
    ProtobufCAllocator *arena_alloc = gs_arena_allocator(env->arena);
    uint64_t acc = 0, t0 = gs_now_ns(), c0 = thread_cpu_ns();
    for (uint64_t i = 0; i < n; i++) {
        ProtobufCMessage *m;
        if (v == V_GS) {
            if (gs_msg_decode(env->reg, env->arena, env->delivery_id, env->body, env->body_len,
                              &m) != 0)
                die("gs_msg_decode");
            acc += touch_delivery(m);
            gs_arena_reset(env->arena);
        } else if (v == V_BASE) {
            m = protobuf_c_message_unpack(desc, NULL, env->body_len, env->body);
            if (!m)
                die("protobuf_c_message_unpack");
            acc += touch_delivery(m);
            protobuf_c_message_free_unpacked(m, NULL);
        } else {
            m = protobuf_c_message_unpack(desc, arena_alloc, env->body_len, env->body);
            if (!m)
                die("protobuf_c_message_unpack (arena)");
            acc += touch_delivery(m);
            gs_arena_reset(env->arena);
        }
    }
    *wall_ns = (double)(gs_now_ns() - t0);
    *cpu_ns = (double)(thread_cpu_ns() - c0);
    env->sink += acc;
}

/* ---- driver ------------------------------------------------------------------------------- */

#define PACKET_4K_FRAME (4096u - (uint32_t)sizeof(gs_packet_t))

static bench_case_t cases[] = {
    {.key = "pool_64", .run = run_alloc_free, .size = 64},
    {.key = "pool_512", .run = run_alloc_free, .size = 512},
    {.key = "pool_2048", .run = run_alloc_free, .size = 2048},
    {.key = "pool_batch100_64", .run = run_batch, .size = 64, .ops_per_iter = BATCH},
    {.key = "pool_batch100_512", .run = run_batch, .size = 512, .ops_per_iter = BATCH},
    {.key = "pool_batch100_2048", .run = run_batch, .size = 2048, .ops_per_iter = BATCH},
    {.key = "xthread_200", .run = run_cross_thread, .size = 200, .kind = XT_BLOCK},
    {.key = "xthread_4096", .run = run_cross_thread, .size = 4096, .kind = XT_BLOCK},
    {.key = "xthread_packet_200", .run = run_cross_thread, .size = 200, .kind = XT_PACKET},
    {.key = "xthread_packet_4k",
     .run = run_cross_thread,
     .size = PACKET_4K_FRAME,
     .kind = XT_PACKET},
    {.key = "xthread_ring_only", .run = run_cross_thread, .kind = XT_RING_ONLY, .nvariants = 1},
    {.key = "encode_chat_delivery", .run = run_encode},
    {.key = "decode_chat_delivery", .run = run_decode, .nvariants = 3},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

typedef struct row {
    const char *label;
    const char *key;
    const char *case_key;
    int metric;
    int a, b; /* variants of the gs and baseline columns; b < 0: no baseline */
} row_t;

static const row_t rows[] = {
    {"pool alloc+free 64B", "pool_64", "pool_64", M_CPU, V_GS, V_BASE},
    {"pool alloc+free 512B", "pool_512", "pool_512", M_CPU, V_GS, V_BASE},
    {"pool alloc+free 2048B", "pool_2048", "pool_2048", M_CPU, V_GS, V_BASE},
    {"pool batch100 64B", "pool_batch100_64", "pool_batch100_64", M_CPU, V_GS, V_BASE},
    {"pool batch100 512B", "pool_batch100_512", "pool_batch100_512", M_CPU, V_GS, V_BASE},
    {"pool batch100 2048B", "pool_batch100_2048", "pool_batch100_2048", M_CPU, V_GS, V_BASE},
    {"xthread 200B wall", "xthread_200_wall", "xthread_200", M_WALL, V_GS, V_BASE},
    {"xthread 200B cpu(2 thr)", "xthread_200_cpu", "xthread_200", M_CPU, V_GS, V_BASE},
    {"xthread 4096B wall", "xthread_4096_wall", "xthread_4096", M_WALL, V_GS, V_BASE},
    {"xthread 4096B cpu(2 thr)", "xthread_4096_cpu", "xthread_4096", M_CPU, V_GS, V_BASE},
    {"xthread packet 200B wall", "xthread_packet_200_wall", "xthread_packet_200", M_WALL, V_GS,
     V_BASE},
    {"xthread packet 200B cpu", "xthread_packet_200_cpu", "xthread_packet_200", M_CPU, V_GS,
     V_BASE},
    {"xthread packet 4KiB wall", "xthread_packet_4k_wall", "xthread_packet_4k", M_WALL, V_GS,
     V_BASE},
    {"xthread packet 4KiB cpu", "xthread_packet_4k_cpu", "xthread_packet_4k", M_CPU, V_GS, V_BASE},
    {"xthread ring only wall", "xthread_ring_only_wall", "xthread_ring_only", M_WALL, V_GS, -1},
    {"xthread ring only cpu", "xthread_ring_only_cpu", "xthread_ring_only", M_CPU, V_GS, -1},
    {"encode ChatDelivery", "encode_chat_delivery", "encode_chat_delivery", M_CPU, V_GS, V_BASE},
    {"decode ChatDelivery", "decode_chat_delivery", "decode_chat_delivery", M_CPU, V_GS, V_BASE},
    {"unpack+arena (no UTF-8 check)", "decode_unpack_arena_no_check", "decode_chat_delivery", M_CPU,
     V_EXTRA, V_BASE},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double tmp[MAX_RUNS];
    memcpy(tmp, v, (size_t)n * sizeof(*v));
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static bench_case_t *find_case(const char *key) {
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].key, key) == 0)
            return &cases[i];
    return NULL;
}

static uint64_t scale_iters(uint64_t n, double wall_ns, double min_ns) {
    double want = (double)n * 1.3 * min_ns / (wall_ns > 1 ? wall_ns : 1);
    return want < 1 ? 1 : (uint64_t)want + 1;
}

/* Grow n until one run lasts min_ns / 10, then aim at 1.3 x min_ns. Doubles as warm-up. */
static void calibrate(bench_env_t *env, bench_case_t *c, int v, double min_ns) {
    uint64_t n = c->kind != XT_NONE ? 20000 : 1000;
    for (;;) {
        double wall, cpu;
        c->run(env, c, v, n, &wall, &cpu);
        if (wall >= min_ns / 10) {
            c->iters[v] = scale_iters(n, wall, min_ns);
            return;
        }
        n *= 8;
    }
}

/* One timed run of variant v. A run that ends short of min_ns (the machine got quieter since
 * calibration) is not kept: n is scaled up and the run repeated. */
static void measure(bench_env_t *env, bench_case_t *c, int v, double min_ns) {
    double wall, cpu;
    for (;;) {
        c->run(env, c, v, c->iters[v], &wall, &cpu);
        if (wall >= min_ns)
            break;
        c->repeated_runs++;
        c->iters[v] = scale_iters(c->iters[v], wall, min_ns);
    }
    double ops = (double)c->iters[v] * (double)c->ops_per_iter;
    c->wall[v][c->nruns] = wall / ops;
    c->cpu[v][c->nruns] = cpu / ops;
}

static void setup(bench_env_t *env) {
    static char text[] = "hello from bot1234, forty bytes of text!";
    _Static_assert(sizeof(text) - 1 == 40, "the chat text is 40 bytes");
    env->pool = gs_pool_create(NULL);
    env->reg = gs_msg_registry_create(0);
    env->arena = gs_arena_create(0);
    if (!env->pool || !env->reg || !env->arena || chat_proto_register(env->reg) != 0)
        die("setup");
    env->delivery_id = gs_msg_registry_id(env->reg, &chat__chat_delivery__descriptor);
    Chat__ChatDelivery m = CHAT__CHAT_DELIVERY__INIT;
    m.room = "lobby-7";
    m.sender = "bot1234";
    m.text = text;
    m.seq = 100000;
    m.sent_at_us = 1763900000123456ull;
    m.server_time_us = 1763900000124001ull;
    env->msg = m;
    size_t len = protobuf_c_message_get_packed_size(&m.base);
    if (len > sizeof(env->body))
        die("body size");
    env->body_len = (uint32_t)protobuf_c_message_pack(&m.base, env->body);
    env->pinned = 1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: packet-bench [--runs R (5)] [--min-ms MS (200)] [--only SUBSTRING]\n"
            "                    [--variant gs|baseline|extra] (one column, for profiling)\n");
    exit(2);
}

static void fmt_ns(char *out, size_t cap, double ns) {
    if (ns < 0)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.1f", ns);
}

static void fmt_json(char *out, size_t cap, double ns) {
    if (ns < 0)
        snprintf(out, cap, "null");
    else
        snprintf(out, cap, "%.2f", ns);
}

static void print_target(const char *what, const double med[2], double want) {
    if (med[0] <= 0 || med[1] <= 0)
        return;
    double ratio = med[1] / med[0];
    printf("# target %s >= %.1fx: %.2fx, %s\n", what, want, ratio,
           ratio >= want ? "met" : "MISSED");
}

int main(int argc, char **argv) {
    int runs = 5, vmask = (1 << V_MAX) - 1;
    double min_ms = 200;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--min-ms") == 0 && i + 1 < argc)
            min_ms = atof(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            vmask = strcmp(v, "gs") == 0         ? 1 << V_GS
                    : strcmp(v, "baseline") == 0 ? 1 << V_BASE
                    : strcmp(v, "extra") == 0    ? 1 << V_EXTRA
                                                 : 0;
            if (!vmask)
                usage();
        } else
            usage();
    }
    if (runs < 1 || runs > MAX_RUNS || min_ms <= 0)
        usage();
    double min_ns = min_ms * 1e6;

    static bench_env_t env;
    setup(&env);
    /* Single-thread cases on CPU 0; the cross-thread ones pin producer/consumer to CPU 0/1. */
    int main_pinned = pin_to(0);

    for (size_t i = 0; i < NCASES; i++) {
        if (!cases[i].nvariants)
            cases[i].nvariants = 2;
        if (!cases[i].ops_per_iter)
            cases[i].ops_per_iter = 1;
        if (only && !strstr(cases[i].key, only))
            continue;
        for (int v = 0; v < cases[i].nvariants; v++)
            if (vmask & (1 << v))
                calibrate(&env, &cases[i], v, min_ns);
    }
    /* Run r of every case before run r+1 of any, and alternate the order of the variants, so
     * that a noisy period hits all cases and both columns alike. */
    for (int r = 0; r < runs; r++) {
        for (size_t i = 0; i < NCASES; i++) {
            bench_case_t *c = &cases[i];
            if (only && !strstr(c->key, only))
                continue;
            for (int k = 0; k < c->nvariants; k++) {
                int v = r % 2 ? c->nvariants - 1 - k : k;
                if (vmask & (1 << v))
                    measure(&env, c, v, min_ns);
            }
            c->nruns++;
        }
    }

    printf("# packet-bench: ns per op, median of %d runs, each run >= %.0f ms per variant; "
           "main pinned to CPU 0: %s; producer/consumer pinned to CPU 0/1: %s\n",
           runs, min_ms, main_pinned ? "yes" : "no", env.pinned ? "yes" : "no");
    printf("# gs: gs_pool / gs_packet / gs_msg_encode / gs_msg_decode+arena; baseline: malloc / "
           "gs_buf_alloc (malloc) / protobuf-c default allocator\n");
    printf("# xthread: producer allocs+writes a byte, SPSC ring of %u, consumer frees; wall = "
           "elapsed / blocks; cpu = both threads' CPU minus spin-waits, / blocks\n"
           "# other rows: CPU time of the benchmark thread per op (not inflated by preemption)\n",
           RING_CAP);
    printf("%-32s %10s %12s %15s\n", "# case", "gs_ns", "baseline_ns", "ratio(base/gs)");
    /* Medians, -1 where a column was not measured. */
    double med[NROWS][2];
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *row = &rows[i];
        bench_case_t *c = find_case(row->case_key);
        med[i][0] = med[i][1] = -1;
        if (c->nruns == 0)
            continue;
        const double(*m)[MAX_RUNS] = row->metric == M_CPU ? c->cpu : c->wall;
        if (vmask & (1 << row->a))
            med[i][0] = median(m[row->a], c->nruns);
        if (row->b >= 0 && (vmask & (1 << row->b)))
            med[i][1] = median(m[row->b], c->nruns);
        char a[32], b[32], ratio[32] = "-";
        fmt_ns(a, sizeof(a), med[i][0]);
        fmt_ns(b, sizeof(b), med[i][1]);
        if (med[i][0] > 0 && med[i][1] > 0)
            snprintf(ratio, sizeof(ratio), "%.2f", med[i][1] / med[i][0]);
        printf("%-32s %10s %12s %15s\n", row->label, a, b, ratio);
    }
    for (size_t i = 0; i < NROWS; i++) {
        if (strcmp(rows[i].key, "xthread_200_cpu") == 0)
            print_target("xthread pool vs malloc, cpu per 200 B block", med[i], 2.0);
        if (strcmp(rows[i].key, "decode_chat_delivery") == 0)
            print_target("decode into arena vs default allocator", med[i], 1.5);
    }

    /* Recycling: how many allocations each carved block served over the whole run. This depends
     * on how far the consumer thread lags behind the producer, which is scheduling, so it is a
     * figure here and not an assertion in tests/packet/test_pool.c. */
    gs_pool_stats_t pst;
    gs_pool_stats(env.pool, &pst);
    printf("# pool recycling: %llu allocations from %llu carved blocks (%.0f allocations per "
           "block), high water %llu\n",
           (unsigned long long)pst.allocs, (unsigned long long)pst.blocks_total,
           pst.blocks_total ? (double)pst.allocs / (double)pst.blocks_total : 0.0,
           (unsigned long long)pst.high_water);

    printf("{\"runs\":%d,\"min_ms\":%.0f,\"pinned\":%s,\"cases\":{", runs, min_ms,
           env.pinned && main_pinned ? "true" : "false");
    const char *sep = "";
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *row = &rows[i];
        bench_case_t *c = find_case(row->case_key);
        if (c->nruns == 0)
            continue;
        char a[32], b[32], ratio[32] = "null";
        fmt_json(a, sizeof(a), med[i][0]);
        fmt_json(b, sizeof(b), med[i][1]);
        if (med[i][0] > 0 && med[i][1] > 0)
            snprintf(ratio, sizeof(ratio), "%.3f", med[i][1] / med[i][0]);
        if (row->b < 0)
            printf("%s\"%s\":{\"ns\":%s}", sep, row->key, a);
        else
            printf("%s\"%s\":{\"gs_ns\":%s,\"baseline_ns\":%s,\"ratio\":%s,\"repeated_runs\":%d}",
                   sep, row->key, a, b, ratio, c->repeated_runs);
        sep = ",";
    }
    printf("}}\n");

    gs_arena_destroy(env.arena);
    gs_msg_registry_destroy(env.reg);
    gs_pool_destroy(env.pool);
    return 0;
}
