/* SPDX-License-Identifier: MIT */
/* test_thread_name over GetThreadDescription (Windows 10 1607 and later, and wine). */
#include <windows.h>

#include "thread_name.h"

typedef HRESULT(WINAPI *get_description_fn)(HANDLE, PWSTR *);

int test_thread_name(char *buf, size_t len) {
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k32 != NULL ? GetProcAddress(k32, "GetThreadDescription") : NULL;
    PWSTR wide = NULL;
    int ok;

    buf[0] = '\0';
    if (p == NULL || len == 0 || len > 0x7fffffff)
        return -1;
    if (FAILED(((get_description_fn)(void (*)(void))p)(GetCurrentThread(), &wide)))
        return -1;
    ok = WideCharToMultiByte(CP_UTF8, 0, wide, -1, buf, (int)len, NULL, NULL) != 0;
    LocalFree(wide);
    if (!ok) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}
