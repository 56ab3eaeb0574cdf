// Linux event APIs that Swift's Glibc module does not export.
// struct epoll_event is packed on x86_64; the helpers below unpack it so Swift never sees the packed layout.
#ifndef HIVE_CEPOLL_SHIM_H
#define HIVE_CEPOLL_SHIM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <errno.h>
#include <sys/prctl.h>

static inline int hive_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int hive_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

/// Waits for events and writes them unpacked into two parallel arrays.
static inline int hive_epoll_wait(int epfd, uint64_t *datas, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { datas[i] = evs[i].data.u64; events[i] = evs[i].events; }
    return n;
}

static inline int hive_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static inline int hive_errno(void) { return errno; }

/// Names the calling thread (shown by top -H, gdb, /proc): at most 15 characters.
static inline void hive_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

static const uint32_t HIVE_EPOLLIN = EPOLLIN;
static const uint32_t HIVE_EPOLLOUT = EPOLLOUT;
static const uint32_t HIVE_EPOLLERR = EPOLLERR;
static const uint32_t HIVE_EPOLLHUP = EPOLLHUP;
static const uint32_t HIVE_EPOLLRDHUP = EPOLLRDHUP;
static const int HIVE_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int HIVE_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int HIVE_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

#endif
