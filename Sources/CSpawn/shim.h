// Starting a child process (exec tasks, MCP servers): what posix_spawn cannot do (resource limits, the parent-death
// signal) done between vfork and execve, with only async-signal-safe calls (the drone is multi-threaded: nothing else
// is safe there).
#ifndef HIVE_CSPAWN_SHIM_H
#define HIVE_CSPAWN_SHIM_H
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/// pipe2(O_CLOEXEC) through syscall(2): Swift's Glibc module is imported without _GNU_SOURCE, which declares pipe2.
static inline int hive_pipe(int fds[2]) { return (int)syscall(SYS_pipe2, fds, O_CLOEXEC); }

/// One resource limit for the child (soft = hard = value).
struct hive_rlimit {
    int resource;
    uint64_t value;
};

/// Starts `path` in a new session (so the child and everything it starts form one process group the drone can kill
/// as a whole), with stdin/stdout/stderr from the given fds (stderr apart on `err_fd`: an MCP server's logs apart from
/// its messages), working directory `dir`, the limits applied, every signal at its default action and unblocked, and
/// every other fd closed at exec. The one spawner of the project: exec tasks and MCP servers both start here.
///
/// vfork, not fork: the child borrows the parent's memory until it execs, so no page table is copied (a drone with a
/// model mapped has a large one: fork cost grew with it and was most of an exec task's price). While the child
/// borrows, the calling thread is suspended and every signal is blocked in it, so no handler of the drone's can run
/// on the borrowed stack; the child resets every handler to its default before it unblocks. Between vfork and execve
/// the child makes only async-signal-safe calls and writes no memory but its own locals and the error pipe.
/// (Where vfork is replaced by fork, as ThreadSanitizer does, the error still travels through the pipe.)
///
/// The child is killed (SIGKILL) when the drone thread that started it dies (PR_SET_PDEATHSIG is tied to the
/// creating thread, not the process: whoever calls this must be a thread that outlives the child, or accept that
/// the child dies with it). A drone killed with `kill -9` takes its tasks' leaders along. The signal reaches only the
/// child, not what it started; the drone records each group (`ProcessGroups`) and kills what a dead predecessor left
/// behind when it starts again.
///
/// Returns the child's pid (also its process group and session id), or -1 with `*error` set to the errno of the step
/// that failed: vfork in the parent, or setsid/dup2/chdir/setrlimit/execve in the child (reported through a
/// close-on-exec pipe, so a failed exec is an error here, not an exit status 127 later). A child that failed is reaped.
static inline __attribute__((noinline)) pid_t hive_spawn_io(const char *path, char *const argv[], char *const envp[],
                                                           const char *dir, int in_fd, int out_fd, int err_fd,
                                                           const struct hive_rlimit *limits, int nlimits, int *error) {
    int report[2];
    if (hive_pipe(report) != 0) { *error = errno; return -1; }
    pid_t parent = getpid();
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid = vfork();
    if (pid < 0) {
        *error = errno;
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        int e = 0;
        // Every handler to its default first (the drone ignores SIGPIPE; its children must not), then unblocked:
        // a handler of the drone's must never run here, on the parent's stack.
        struct sigaction dfl;
        dfl.sa_handler = SIG_DFL;
        dfl.sa_flags = 0;
        sigemptyset(&dfl.sa_mask);
        for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (setsid() < 0) { e = errno; goto failed; }
        // Dies with the drone. Set after vfork, so the drone may already be gone: then its death was missed, and the
        // child goes at once (its parent is now a reaper, not the drone).
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) { e = errno; goto failed; }
        if (getppid() != parent) _exit(127);
        if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) { e = errno; goto failed; }
        if (chdir(dir) != 0) { e = errno; goto failed; }
        // Every inherited fd but stdio closes at exec (fds the drone opened without O_CLOEXEC included).
#ifdef SYS_close_range
        if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
        {
            long max = sysconf(_SC_OPEN_MAX);
            for (long fd = 3; fd < max && fd < 65536; fd++) if (fd != report[1]) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        }
        for (int i = 0; i < nlimits; i++) {
            struct rlimit r;
            r.rlim_cur = limits[i].value;
            r.rlim_max = limits[i].value;
            if (setrlimit(limits[i].resource, &r) != 0) { e = errno; goto failed; }
        }
        execve(path, argv, envp);
        e = errno;
    failed:
        (void)!write(report[1], &e, sizeof e);
        _exit(127);
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(report[1]);
    int childError = 0;
    ssize_t n;
    do { n = read(report[0], &childError, sizeof childError); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof childError) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *error = childError;
        return -1;
    }
    return pid;
}

/// Whether `pid` has exited, without reaping it (the zombie keeps its pid and process group id reserved, so
/// killing the group afterwards cannot hit a recycled pid). A child that cannot be waited for counts as exited.
static inline int hive_has_exited(pid_t pid) {
    siginfo_t info;
    info.si_pid = 0;
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno != EINTR) return 1;
    }
    return info.si_pid == pid;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
/// A close-on-exec fd that polls readable once `pid` exits (Linux 5.3+), or -1.
static inline int hive_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/// Reaps `pid`; its wait status, or -1.
static inline int hive_reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

static inline int hive_exited(int status) { return WIFEXITED(status); }
static inline int hive_exit_status(int status) { return WEXITSTATUS(status); }
static inline int hive_signaled(int status) { return WIFSIGNALED(status); }
static inline int hive_term_signal(int status) { return WTERMSIG(status); }
static inline int hive_spawn_errno(void) { return errno; }

static const int HIVE_RLIMIT_NOFILE = RLIMIT_NOFILE;
static const int HIVE_RLIMIT_CORE = RLIMIT_CORE;
static const int HIVE_RLIMIT_FSIZE = RLIMIT_FSIZE;
static const int HIVE_RLIMIT_CPU = RLIMIT_CPU;
static const int HIVE_RLIMIT_AS = RLIMIT_AS;

#endif
