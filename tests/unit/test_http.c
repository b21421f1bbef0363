/*
 * The HTTP server, over real sockets: routing to the handler, HEAD, the
 * query string, methods and malformed requests, and several requests in a
 * row on one server. Then the attacks of issue 9 on the health endpoint: a
 * client sending its request a byte at a time, idle connections and a
 * flood of connections from one address must not keep /healthz from
 * answering within a second (the kubelet's default probe timeout): each
 * probe there has a 1 s deadline, a bound of the attack, not a benchmark.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "http.h"
#include "http_get.h"

/* Echoes the path; /missing is a 404. */
static void echo(void *ctx, const char *path, tm_http_response *res)
{
    (*(int *)ctx)++;
    if (strcmp(path, "/missing") == 0)
        res->status = 404;
    res->content_type = "text/x-echo";
    tm_buf_printf(&res->body, "path=%s\n", path);
}

static tm_http *start(int *calls)
{
    tm_http *s = NULL;
    char err[256];
    cr_assert_eq(tm_http_start(&s, 0, echo, calls, err, sizeof err), 0, "%s", err);
    cr_assert_gt(tm_http_port(s), 0);
    return s;
}

Test(http, get_reaches_the_handler_with_the_path)
{
    int calls = 0;
    tm_http *s = start(&calls);
    tm_buf h = {0}, body = {0};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tm_http_request(tm_http_port(s), "GET", "/metrics?x=1", &h, &body), 200);
        cr_assert_str_eq(body.data, "path=/metrics\n");
        cr_assert(strstr(h.data, "Content-Type: text/x-echo\r\n"), "%s", h.data);
        cr_assert(strstr(h.data, "Content-Length: 14\r\n"), "%s", h.data);
    }
    cr_assert_eq(tm_http_request(tm_http_port(s), "GET", "/missing", &h, &body), 404);
    cr_assert_eq(calls, 4);
    tm_buf_free(&h);
    tm_buf_free(&body);
    tm_http_stop(s);
}

Test(http, head_has_the_length_but_no_body)
{
    int calls = 0;
    tm_http *s = start(&calls);
    tm_buf h = {0}, body = {0};
    cr_assert_eq(tm_http_request(tm_http_port(s), "HEAD", "/healthz", &h, &body), 200);
    cr_assert_eq(body.len, 0);
    cr_assert(strstr(h.data, "Content-Length: 14\r\n"), "%s", h.data);
    tm_buf_free(&h);
    tm_buf_free(&body);
    tm_http_stop(s);
}

Test(http, other_methods_are_refused_without_calling_the_handler)
{
    int calls = 0;
    tm_http *s = start(&calls);
    tm_buf h = {0}, body = {0};
    cr_assert_eq(tm_http_request(tm_http_port(s), "POST", "/metrics", &h, &body), 405);
    cr_assert_eq(tm_http_request(tm_http_port(s), "DELETE", "/x", &h, &body), 405);
    cr_assert_eq(calls, 0);
    tm_buf_free(&h);
    tm_buf_free(&body);
    tm_http_stop(s);
}

Test(http, a_malformed_request_is_a_400_and_the_server_goes_on)
{
    int calls = 0;
    tm_http *s = start(&calls);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tm_http_port(s))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    /* A request line without an HTTP version. */
    const char junk[] = "hello world\r\n\r\n";
    cr_assert_eq(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    char answer[256] = {0};
    cr_assert_gt(read(fd, answer, sizeof answer - 1), 0);
    close(fd);
    cr_assert(strncmp(answer, "HTTP/1.1 400 ", 13) == 0, "%s", answer);
    tm_buf h = {0}, body = {0};
    cr_assert_eq(tm_http_request(tm_http_port(s), "GET", "/", &h, &body), 200);
    tm_buf_free(&h);
    tm_buf_free(&body);
    tm_http_stop(s);
}

Test(http, a_taken_port_is_an_error_naming_it)
{
    int calls = 0;
    tm_http *s = start(&calls);
    tm_http *t = NULL;
    char err[256];
    cr_assert_eq(tm_http_start(&t, tm_http_port(s), echo, &calls, err, sizeof err), TM_EIO);
    cr_assert(strstr(err, "cannot listen on port"), "%s", err);
    tm_http_stop(s);
}

/* ---- the attacks of issue 9 ---- */

enum {
    PROBE_DEADLINE_MS = 1000, /* the kubelet's default timeoutSeconds */
    DRIP_INTERVAL_MS = 1500,  /* the slow client of issue 9 */
    DRIP_BYTES = 4,           /* 4.5 s of dripping, then it closes */
    IDLE_CONNECTIONS = 10,
    FLOOD_CONNECTIONS = 1000,
};

/* Connects a TCP socket from from_ip (any port) to 127.0.0.1:port without
 * waiting for the handshake; the socket is non-blocking. */
static int connect_from(const char *from_ip, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in src = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, from_ip, &src.sin_addr), 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof src), 0, "bind %s: %s", from_ip,
                 strerror(errno));
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&dst, sizeof dst);
    cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
    return fd;
}

/* Waits for events on fd until the deadline; false when it passed. */
static bool wait_until(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - tm_monotonic_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return true;
        cr_assert(n == 0 || errno == EINTR, "poll: %s", strerror(errno));
    }
}

/* GET /healthz from 127.0.0.1, the whole exchange (connect, request,
 * answer until the server closes) within deadline_ms: the status, or -1
 * when the deadline passed first. */
static int probe_within(int port, int deadline_ms)
{
    int64_t deadline = tm_monotonic_ms() + deadline_ms;
    int fd = connect_from("127.0.0.1", port);
    int status = -1;
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_until(fd, POLLOUT, deadline))
        goto out;
    cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    cr_assert_eq(err, 0, "connect: %s", strerror(err));
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
    tm_buf answer = {0};
    for (;;) {
        if (!wait_until(fd, POLLIN, deadline)) {
            tm_buf_free(&answer);
            goto out;
        }
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        cr_assert_geq(n, 0, "read: %s", strerror(errno));
        if (n == 0)
            break;
        tm_buf_append(&answer, chunk, (size_t)n);
    }
    cr_assert_gt(answer.len, 0, "the server closed the probe's connection without an answer");
    cr_assert_eq(sscanf(answer.data, "HTTP/1.1 %d ", &status), 1, "%s", answer.data);
    tm_buf_free(&answer);
out:
    close(fd);
    return status;
}

/* Every probe of /healthz answers 200 within PROBE_DEADLINE_MS; n probes. */
static void probe_n(int port, int n, const char *during)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(probe_within(port, PROBE_DEADLINE_MS), 200,
                     "probe %d of /healthz: no answer within %d ms %s", i + 1, PROBE_DEADLINE_MS,
                     during);
}

typedef struct drip {
    int fd; /* connected */
    atomic_bool done;
} drip;

/* The slow client: one byte of a request every DRIP_INTERVAL_MS, then it
 * closes the connection. */
static void *drip_main(void *arg)
{
    drip *d = arg;
    const char req[] = "GET /healthz HTTP/1.1\r\n";
    for (int i = 0; i < DRIP_BYTES; i++) {
        if (send(d->fd, &req[i], 1, MSG_NOSIGNAL) != 1)
            break; /* the server hung up on it: allowed */
        tm_sleep_ms(DRIP_INTERVAL_MS);
    }
    close(d->fd);
    atomic_store(&d->done, true);
    return NULL;
}

Test(http_attack, a_slow_drip_client_does_not_delay_healthz)
{
    int calls = 0;
    tm_http *s = start(&calls);
    drip d = {.fd = connect_from("127.0.0.1", tm_http_port(s))};
    cr_assert(wait_until(d.fd, POLLOUT, tm_monotonic_ms() + 10000), "the slow client connects");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, drip_main, &d), 0);
    int probes = 0;
    while (!atomic_load(&d.done)) {
        probe_n(tm_http_port(s), 1, "while a client sends a byte every 1.5 s");
        probes++;
        tm_sleep_ms(100);
    }
    pthread_join(t, NULL);
    cr_assert_geq(probes, DRIP_BYTES, "the probes ran while the client dripped");
    tm_http_stop(s);
}

Test(http_attack, idle_connections_do_not_delay_healthz)
{
    int calls = 0;
    tm_http *s = start(&calls);
    /* Each from its own address (127.0.0.2 up), so that no per-address
     * limit applies: the server must serve the probe while it holds all ten. */
    int idle[IDLE_CONNECTIONS];
    for (int i = 0; i < IDLE_CONNECTIONS; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.0.%d", i + 2);
        idle[i] = connect_from(from, tm_http_port(s));
        cr_assert(wait_until(idle[i], POLLOUT, tm_monotonic_ms() + 10000));
    }
    probe_n(tm_http_port(s), 3, "with 10 idle connections open");
    for (int i = 0; i < IDLE_CONNECTIONS; i++)
        close(idle[i]);
    tm_http_stop(s);
}

/* 1,000 sockets and a few more for the test itself. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    const rlim_t want = FLOOD_CONNECTIONS + 64;
    if (rl.rlim_cur >= want)
        return;
    cr_assert(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want,
              "the hard fd limit %lu is below %lu", (unsigned long)rl.rlim_max,
              (unsigned long)want);
    rl.rlim_cur = want;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
}

Test(http_attack, a_connection_flood_from_one_address_does_not_delay_healthz)
{
    raise_fd_limit();
    int calls = 0;
    tm_http *s = start(&calls);
    /* The attacker is 127.0.0.2; the probe comes from 127.0.0.1, as the
     * kubelet comes from the node's address. */
    static int flood[FLOOD_CONNECTIONS];
    for (int i = 0; i < FLOOD_CONNECTIONS; i++)
        flood[i] = connect_from("127.0.0.2", tm_http_port(s));
    probe_n(tm_http_port(s), 3, "after 1,000 connections from 127.0.0.2");
    for (int i = 0; i < FLOOD_CONNECTIONS; i++)
        close(flood[i]);
    tm_http_stop(s);
}
