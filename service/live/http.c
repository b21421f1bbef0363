/*
 * http.c: see http.h.
 */
#include "http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "log.h"

/* The limits (http.h has the picture). Our clients are Prometheus (one
 * connection per scrape), the kubelet (one per probe, up to three probes
 * at once) and an operator's curl; each sends its request at once and
 * reads a small answer. */
enum {
    /* All connections at once: the clients above need a handful; 64 bounds
     * the file descriptors and the memory (64 x MEMORY_LIMIT = 1 MiB) an
     * attacker can take. */
    CONNECTION_LIMIT = 64,
    /* Per client address: one address (one attacker) holds 8 of the 64 at
     * most, so it takes eight addresses to crowd out the kubelet and
     * Prometheus, which come from addresses of their own; 8 covers the
     * kubelet's three concurrent probes with room to spare. */
    PER_IP_LIMIT = 8,
    /* Seconds a connection may stay silent (neither a byte of request nor
     * a byte of answer taken) before it is closed: real clients send their
     * request in one go, so 3 s frees an idle connection's slot quickly. */
    TIMEOUT_S = 3,
    /* Bytes of memory per connection for the request line, the headers and
     * the answer's headers: room for the 8 KiB of request the old server
     * read and for the answer's headers; a request that does not fit is
     * answered 414 or 431 and the connection closed. The answer's body is
     * allocated apart. */
    MEMORY_LIMIT = 16 * 1024,
};

struct tm_http {
    struct MHD_Daemon *daemon;
    int port;
    tm_http_handler handler;
    void *ctx;
    pthread_t starter;   /* the thread in tm_http_start */
    char start_err[256]; /* libmicrohttpd's first message during start */
};

/* libmicrohttpd's messages. During tm_http_start (on the starting thread:
 * the polling thread does not exist before the listen socket does) the
 * first one is kept for the error; later ones (a connection refused over a
 * limit, a client breaking the protocol) are debug lines: an attacker
 * decides how many there are. */
__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    tm_http *s = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    if (pthread_equal(pthread_self(), s->starter) && s->start_err[0] == '\0')
        snprintf(s->start_err, sizeof s->start_err, "%s", msg);
    TM_LOG(TM_LOG_DEBUG, "http", "%s", msg);
}

static enum MHD_Result queue(struct MHD_Connection *conn, tm_http_response *res)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(res->body.len, res->body.data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    /* One request per connection, as Prometheus and the kubelet use it: no
     * connection waits for a next request. */
    enum MHD_Result ok =
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Called on the polling thread once the request line and headers are in
 * (url without the query string); a request body is never read. HEAD gets
 * the headers of the GET answer. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    tm_http *s = cls;
    tm_http_response res = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
        s->handler(s->ctx, url, &res);
    } else {
        res.status = MHD_HTTP_METHOD_NOT_ALLOWED;
        tm_buf_puts(&res.body, "only GET and HEAD\n");
    }
    enum MHD_Result rc = queue(conn, &res);
    tm_buf_free(&res.body);
    return rc;
}

/* One socket for IPv6 and IPv4 (clients arrive mapped), unless the kernel
 * has no IPv6. */
static unsigned int address_family_flags(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    close(fd);
    return MHD_USE_DUAL_STACK;
}

int tm_http_start(tm_http **out, int port, tm_http_handler handler, void *ctx, char *errstr,
                  size_t errlen)
{
    tm_http *s = tm_xcalloc(1, sizeof *s);
    s->handler = handler;
    s->ctx = ctx;
    s->starter = pthread_self();
    /* One internal thread waits on epoll for every connection: a slow or
     * silent client costs a slot, never the thread. */
    const unsigned int flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | address_family_flags();
    struct MHD_OptionItem limits[] = {
        {MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_LIMIT, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, TIMEOUT_S, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, MEMORY_LIMIT, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* The logger first, so that no message of the start goes elsewhere. */
    s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_log, s, MHD_OPTION_ARRAY, limits,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        int rc = tm_seterr(errstr, errlen, TM_EIO, "cannot listen on port %d: %s", port,
                           s->start_err[0] ? s->start_err : "libmicrohttpd did not start");
        free(s);
        return rc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return TM_OK;
}

int tm_http_port(const tm_http *s)
{
    return s->port;
}

void tm_http_stop(tm_http *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon); /* joins the thread, closes every connection */
    free(s);
}
