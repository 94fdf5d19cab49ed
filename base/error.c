/* SPDX-License-Identifier: MIT */
/* Error names and messages, generated from GS_ERRNO_MAP so they cannot drift from the enum. */
#include "gs/base.h"

const char *gs_strerror(int err) {
    switch (err) {
#define GS__ERR_MSG(name, num, msg)                                                                \
    case GS_E##name:                                                                               \
        return msg;
        GS_ERRNO_MAP(GS__ERR_MSG)
#undef GS__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *gs_err_name(int err) {
    switch (err) {
#define GS__ERR_NAME(name, num, msg)                                                               \
    case GS_E##name:                                                                               \
        return "GS_E" #name;
        GS_ERRNO_MAP(GS__ERR_NAME)
#undef GS__ERR_NAME
    default:
        return "GS_E?";
    }
}
