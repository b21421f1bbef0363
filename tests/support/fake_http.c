/*
 * fake_http.c: see fake_http.h. The thread polls with a short timeout so
 * that stop is noticed within POLL_MS; one connection at a time is enough
 * for clients that send one request each.
 */
#include "fake_http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "proc.h"

#define POLL_MS 20
#define MAX_REQUESTS 16

struct tm_fake_http {
    int listen_fd, port, status;
    char *reply;
    bool silent;
    atomic_bool stop;
    pthread_t thread;
    pthread_mutex_t lock;
    char *requests[MAX_REQUESTS];
    size_t n_requests;
};

/* Waits for fd to be readable: true, or false once stop is asked. */
static bool wait_readable(tm_fake_http *s, int fd)
{
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, POLL_MS) > 0)
            return true;
    }
    return false;
}

/* Reads one request: headers up to the blank line, then Content-Length
 * bytes of body. */
static void read_request(tm_fake_http *s, int fd, tm_buf *req)
{
    size_t want = SIZE_MAX;
    while (req->len < want && wait_readable(s, fd)) {
        char chunk[4096];
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0)
            break;
        tm_buf_append(req, chunk, (size_t)got);
        tm_buf_putc(req, '\0');
        req->len--; /* a string, the terminator not counted */
        const char *end = strstr(req->data, "\r\n\r\n");
        const char *cl = strstr(req->data, "Content-Length: ");
        if (end && want == SIZE_MAX)
            want = (size_t)(end + 4 - req->data) + (cl ? strtoull(cl + 16, NULL, 10) : 0);
    }
}

static void *serve(void *arg)
{
    tm_fake_http *s = arg;
    while (wait_readable(s, s->listen_fd)) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        tm_buf req = {0};
        read_request(s, fd, &req);
        pthread_mutex_lock(&s->lock);
        if (s->n_requests < MAX_REQUESTS)
            s->requests[s->n_requests++] = tm_xstrdup(req.data ? req.data : "");
        pthread_mutex_unlock(&s->lock);
        tm_buf_free(&req);
        if (s->silent) {
            while (!atomic_load(&s->stop))
                tm_test_sleep_ms(POLL_MS);
        } else if (s->status > 0) {
            tm_buf ans = {0};
            tm_buf_printf(&ans,
                          "HTTP/1.1 %d Fake\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n%s",
                          s->status, strlen(s->reply), s->reply);
            send(fd, ans.data, ans.len, MSG_NOSIGNAL);
            tm_buf_free(&ans);
        }
        close(fd);
    }
    return NULL;
}

tm_fake_http *tm_fake_http_start(int status, const char *reply, bool silent)
{
    tm_fake_http *s = tm_xcalloc(1, sizeof *s);
    s->status = status;
    s->reply = tm_xstrdup(reply);
    s->silent = silent;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s->listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->listen_fd, 8), 0);
    cr_assert_eq(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

int tm_fake_http_port(const tm_fake_http *s)
{
    return s->port;
}

const char *tm_fake_http_request(tm_fake_http *s, size_t i, int64_t timeout_ms)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        const char *r = i < s->n_requests ? s->requests[i] : NULL;
        pthread_mutex_unlock(&s->lock);
        if (r || tm_test_now_ms() >= deadline)
            return r;
        tm_test_sleep_ms(POLL_MS);
    }
}

void tm_fake_http_stop(tm_fake_http *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    for (size_t i = 0; i < s->n_requests; i++)
        free(s->requests[i]);
    pthread_mutex_destroy(&s->lock);
    free(s->reply);
    free(s);
}
