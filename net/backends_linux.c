/* SPDX-License-Identifier: MIT */
/* The backends of a Linux build, in the order backend auto tries them: io_uring, then epoll
 * where io_uring is refused (docs/net.md "Backends"). */
#include "internal.h"

const gs__port_backend_t gs__port_backends[] = {
    {GS_NET_BACKEND_IO_URING, &gs__port_uring_ops},
    {GS_NET_BACKEND_EPOLL, &gs__port_epoll_ops},
    {GS_NET_BACKEND_AUTO, NULL},
};
