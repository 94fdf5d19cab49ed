/* SPDX-License-Identifier: MIT */
/* Thread, mutex, condition variable and thread-local key shim over Win32 (threads from
 * _beginthreadex, SRWLOCK, CONDITION_VARIABLE, fiber-local storage), so that no layer includes
 * windows.h itself. The POSIX twin is thread_posix.c; CMake builds one or the other. */
#include <windows.h>

#include <errno.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/base.h"

/* Same limit as on Linux (16 bytes with the terminator), so that a name reads the same in a
 * debugger on either system and tests expect one truncation rule. */
#define THREAD_NAME_MAX 16

struct gs_thread {
    HANDLE handle;
    gs_thread_fn fn;
    void *arg;
    char name[THREAD_NAME_MAX];
};

/* The shim calls return void: a failure means a corrupted or misused object, which no caller
 * could recover from, so stop at the point of the bug. */
static void fail(const char *what) {
    fprintf(stderr, "gs: %s failed: error %lu\n", what, (unsigned long)GetLastError());
    abort();
}

typedef HRESULT(WINAPI *set_description_fn)(HANDLE, PCWSTR);

/* SetThreadDescription exists from Windows 10 1607 (and in wine); looked up at run time so that
 * the programs still start where it is missing. The name is cosmetic: failures are ignored. */
static void set_name(const char *name) {
    WCHAR wide[THREAD_NAME_MAX];
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k32 != NULL ? GetProcAddress(k32, "SetThreadDescription") : NULL;
    set_description_fn set;

    if (p == NULL)
        return;
    /* Through void (*)(void): GetProcAddress returns a generic function pointer by design. */
    set = (set_description_fn)(void (*)(void))p;
    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wide, THREAD_NAME_MAX) == 0)
        return;
    (void)set(GetCurrentThread(), wide);
}

static unsigned __stdcall thread_main(void *p) {
    gs_thread_t *t = p;

    if (t->name[0] != '\0')
        set_name(t->name);
    t->fn(t->arg);
    return 0;
}

int gs_thread_start(gs_thread_t **out, gs_thread_fn fn, void *arg, const char *name) {
    gs_thread_t *t;
    uintptr_t h;

    if (out == NULL)
        return GS_EINVAL;
    *out = NULL;
    if (fn == NULL)
        return GS_EINVAL;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return GS_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    if (name != NULL)
        snprintf(t->name, sizeof t->name, "%s", name);

    /* _beginthreadex rather than CreateThread: the C runtime sets up its per-thread state. */
    h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    if (h == 0) {
        int err = errno;
        free(t);
        gs_log(GS_LOG_ERROR, "base", "_beginthreadex(%s): %s", name != NULL ? name : "",
               strerror(err));
        return GS_ESYS;
    }
    t->handle = (HANDLE)h;
    *out = t;
    return 0;
}

void gs_thread_join(gs_thread_t *t) {
    if (t == NULL)
        return;
    /* Joining oneself would wait forever on Windows: treat it as the misuse it is. */
    if (GetThreadId(t->handle) == GetCurrentThreadId()) {
        fprintf(stderr, "gs: gs_thread_join called from the thread itself\n");
        abort();
    }
    if (WaitForSingleObject(t->handle, INFINITE) != WAIT_OBJECT_0)
        fail("WaitForSingleObject(thread)");
    if (!CloseHandle(t->handle))
        fail("CloseHandle(thread)");
    free(t);
}

void gs_thread_yield(void) { (void)SwitchToThread(); }

/* ---- mutex and condition variable ---------------------------------------------------------- */

_Static_assert(sizeof(SRWLOCK) <= sizeof(((gs_mutex_t *)0)->opaque),
               "SRWLOCK does not fit in gs_mutex_t");
_Static_assert(_Alignof(SRWLOCK) <= _Alignof(gs_mutex_t),
               "gs_mutex_t is not aligned enough for SRWLOCK");
_Static_assert(sizeof(CONDITION_VARIABLE) <= sizeof(((gs_cond_t *)0)->opaque),
               "CONDITION_VARIABLE does not fit in gs_cond_t");
_Static_assert(_Alignof(CONDITION_VARIABLE) <= _Alignof(gs_cond_t),
               "gs_cond_t is not aligned enough for CONDITION_VARIABLE");

static SRWLOCK *native(gs_mutex_t *m) { return (SRWLOCK *)(void *)m->opaque; }
static CONDITION_VARIABLE *native_cond(gs_cond_t *c) {
    return (CONDITION_VARIABLE *)(void *)c->opaque;
}

/* An SRW lock needs no destruction and cannot fail; like a default pthread mutex it is not
 * recursive. */
void gs_mutex_init(gs_mutex_t *m) { InitializeSRWLock(native(m)); }
void gs_mutex_fini(gs_mutex_t *m) { (void)m; }
void gs_mutex_lock(gs_mutex_t *m) { AcquireSRWLockExclusive(native(m)); }
void gs_mutex_unlock(gs_mutex_t *m) { ReleaseSRWLockExclusive(native(m)); }

void gs_cond_init(gs_cond_t *c) { InitializeConditionVariable(native_cond(c)); }
void gs_cond_fini(gs_cond_t *c) { (void)c; }

void gs_cond_wait(gs_cond_t *c, gs_mutex_t *m) {
    if (!SleepConditionVariableSRW(native_cond(c), native(m), INFINITE, 0))
        fail("SleepConditionVariableSRW");
}

int gs_cond_timedwait_ms(gs_cond_t *c, gs_mutex_t *m, uint32_t ms) {
    /* The timeout is relative and measured on the interrupt-time clock, which wall-clock
     * changes do not move. INFINITE is 0xFFFFFFFF: a wait that long must still time out. */
    DWORD timeout = ms == INFINITE ? INFINITE - 1 : (DWORD)ms;

    if (SleepConditionVariableSRW(native_cond(c), native(m), timeout, 0))
        return 0;
    if (GetLastError() == ERROR_TIMEOUT)
        return GS_ETIMEDOUT;
    fail("SleepConditionVariableSRW");
    return GS_ESYS;
}

void gs_cond_signal(gs_cond_t *c) { WakeConditionVariable(native_cond(c)); }
void gs_cond_broadcast(gs_cond_t *c) { WakeAllConditionVariable(native_cond(c)); }

/* ---- thread-local keys --------------------------------------------------------------------- */

/* Fiber-local storage is the Win32 slot with a destructor: the FlsAlloc callback runs when a
 * thread exits with a non-NULL value (TlsAlloc has none). Two differences from pthread keys
 * shape this code:
 *   - the callback receives the value only, not the key, and one key's destructor is the user's;
 *   - FlsFree runs the callback for every thread that still has a value in the slot (from the
 *     thread calling FlsFree), where pthread_key_delete runs no destructor at all, and the
 *     header promises the pthread behaviour.
 * So the slot holds a small cell per thread: the user value and the key record. The record's
 * `deleted` flag, set before FlsFree, turns the callbacks FlsFree makes into plain frees of the
 * cells; the record itself is reference counted (the key and each cell hold one), so a cell
 * freed by a late callback never reads a freed record. A destructor that sets a new value for
 * its own key is not run again (pthreads would retry): nothing here needs it. */
typedef struct tls_rec {
    DWORD index;
    void (*destructor)(void *value);
    atomic_int deleted;
    atomic_int refs;
} tls_rec_t;

typedef struct tls_cell {
    tls_rec_t *rec;
    void *value;
} tls_cell_t;

_Static_assert(sizeof(tls_rec_t *) <= sizeof(((gs_tls_key_t *)0)->opaque),
               "a record pointer does not fit in gs_tls_key_t");

static tls_rec_t *rec_of(const gs_tls_key_t *key) {
    tls_rec_t *r;
    memcpy(&r, key->opaque, sizeof r);
    return r;
}

static void rec_unref(tls_rec_t *r) {
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        free(r);
}

typedef BOOLEAN(NTAPI *shutdown_fn)(void);

/* Whether the process is exiting. Windows also runs FLS callbacks for the thread that calls
 * ExitProcess (returning from main does), after the other threads were killed wherever they
 * were, perhaps holding a lock the destructor needs. POSIX runs no key destructor on exit(), so
 * neither do we: the memory goes with the process. */
static int process_exiting(void) {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    FARPROC p = ntdll != NULL ? GetProcAddress(ntdll, "RtlDllShutdownInProgress") : NULL;

    /* Through void (*)(void): GetProcAddress returns a generic function pointer by design. */
    return p != NULL && ((shutdown_fn)(void (*)(void))p)() != 0;
}

/* Runs at thread exit, for every remaining thread inside FlsFree, and at process exit. */
static void WINAPI cell_cb(void *p) {
    tls_cell_t *cell = p;
    tls_rec_t *r = cell->rec;
    void *value = cell->value;

    /* As with pthread keys, the slot reads NULL while the destructor runs. */
    cell->value = NULL;
    if (value != NULL && r->destructor != NULL &&
        !atomic_load_explicit(&r->deleted, memory_order_acquire) && !process_exiting())
        r->destructor(value);
    free(cell);
    rec_unref(r);
}

int gs_tls_key_create(gs_tls_key_t *key, void (*destructor)(void *value)) {
    tls_rec_t *r = calloc(1, sizeof *r);

    if (r == NULL)
        return GS_ENOMEM;
    r->destructor = destructor;
    atomic_init(&r->deleted, 0);
    atomic_init(&r->refs, 1);
    r->index = FlsAlloc(cell_cb);
    if (r->index == FLS_OUT_OF_INDEXES) {
        gs_log(GS_LOG_ERROR, "base", "FlsAlloc: error %lu", (unsigned long)GetLastError());
        free(r);
        return GS_ESYS;
    }
    memcpy(key->opaque, &r, sizeof r);
    return 0;
}

void gs_tls_key_delete(gs_tls_key_t *key) {
    tls_rec_t *r = rec_of(key);

    atomic_store_explicit(&r->deleted, 1, memory_order_release);
    /* Every cell still in a thread is freed here by cell_cb, without the destructor. */
    if (!FlsFree(r->index))
        fail("FlsFree");
    rec_unref(r);
}

void *gs_tls_get(const gs_tls_key_t *key) {
    tls_cell_t *cell = FlsGetValue(rec_of(key)->index);
    return cell != NULL ? cell->value : NULL;
}

int gs_tls_set(gs_tls_key_t *key, void *value) {
    tls_rec_t *r = rec_of(key);
    tls_cell_t *cell = FlsGetValue(r->index);

    if (cell == NULL) {
        if (value == NULL)
            return 0;
        cell = malloc(sizeof *cell);
        if (cell == NULL)
            return GS_ENOMEM;
        cell->rec = r;
        cell->value = value;
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
        if (!FlsSetValue(r->index, cell)) {
            free(cell);
            rec_unref(r);
            return GS_ENOMEM;
        }
        return 0;
    }
    /* The cell stays until the thread exits (or the key is deleted), NULL value or not. */
    cell->value = value;
    return 0;
}
