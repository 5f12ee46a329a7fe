/* Small, fast processes for bench/run, so that what is measured is the init
 * and not a shell's start-up. Built by bench/run with the system cc.
 *
 *   helpers stamp FILE            write CLOCK_MONOTONIC ns to FILE, exit 0
 *   helpers flood N               write N numbered 100-byte lines to stdout
 *   helpers run-log FILE MODE     append "ns pid" to FILE, then pause (MODE
 *                                 "pause") or exit 1 (MODE "exit")
 *   helpers term-stamp READY OUT  on SIGTERM write the time to OUT and exit 0
 *   helpers ignore-term READY     ignore SIGTERM, sleep forever
 *   helpers orphans N OUT         make N orphans that exit at once; write how
 *                                 long (us) until PID 1 has reaped them all
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void write_num(const char *path, long long v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", v);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, buf, n) < 0) {}
        close(fd);
    }
}

static const char *out_path;
static void on_term(int sig) {
    (void)sig;
    write_num(out_path, now_ns());
    _exit(0);
}

/* How many children PID 1 has (zombies included), ourselves among them. */
static long init_children(void) {
    static char buf[1 << 20];
    int fd = open("/proc/1/task/1/children", O_RDONLY);
    if (fd < 0) return -1;
    long n = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++) n += buf[i] == ' ';
    }
    close(fd);
    return n;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "stamp")) {
        write_num(argv[2], now_ns());
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "flood")) {
        long n = atol(argv[2]), done = 0;
        static char buf[100 * 1000];
        for (int i = 0; i < 1000; i++) {
            memset(buf + i * 100, 'x', 99);
            buf[i * 100 + 99] = '\n';
        }
        while (done < n) {
            long chunk = n - done < 1000 ? n - done : 1000;
            for (long i = 0; i < chunk; i++) {
                char num[24];
                snprintf(num, sizeof num, "%010ld", done + i + 1);
                memcpy(buf + i * 100, num, 10);
            }
            size_t len = chunk * 100, off = 0;
            while (off < len) {
                ssize_t w = write(1, buf + off, len - off);
                if (w <= 0) return 1;
                off += w;
            }
            done += chunk;
        }
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "run-log")) {
        long long t = now_ns();
        char buf[64];
        int n = snprintf(buf, sizeof buf, "%lld %d\n", t, (int)getpid());
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            if (write(fd, buf, n) < 0) {}
            close(fd);
        }
        if (!strcmp(argv[3], "exit")) return 1;
        for (;;) pause();
    }
    if (argc >= 4 && !strcmp(argv[1], "term-stamp")) {
        out_path = argv[3];
        signal(SIGTERM, on_term);
        write_num(argv[2], getpid());
        for (;;) pause();
    }
    if (argc >= 3 && !strcmp(argv[1], "ignore-term")) {
        signal(SIGTERM, SIG_IGN);
        write_num(argv[2], getpid());
        for (;;) pause();
    }
    if (argc >= 4 && !strcmp(argv[1], "orphans")) {
        int n = atoi(argv[2]);
        int p[2];
        if (pipe(p)) return 1;
        pid_t mid = fork();
        if (mid == 0) {
            for (int i = 0; i < n; i++) {
                pid_t c = fork();
                if (c == 0) {
                    char b;
                    close(p[1]);
                    if (read(p[0], &b, 1) < 0) {}
                    _exit(0);
                }
                if (c < 0) { perror("fork"); break; }
            }
            _exit(0);
        }
        waitpid(mid, NULL, 0);
        /* All n are orphans of the init now, blocked on the pipe. */
        long long t0 = now_ns();
        close(p[1]);
        while (init_children() > 1) usleep(500);
        write_num(argv[3], (now_ns() - t0) / 1000);
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of helpers.c\n");
    return 2;
}
