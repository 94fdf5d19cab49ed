/* SPDX-License-Identifier: MIT */
/* The backend of a Windows build: IOCP. */
#include "internal.h"

const gs__port_backend_t gs__port_backends[] = {
    {GS_NET_BACKEND_IOCP, &gs__port_iocp_ops},
    {GS_NET_BACKEND_AUTO, NULL},
};
