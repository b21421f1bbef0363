/*
 * http_client.h: a minimal HTTP/1.1 client over POSIX sockets, for the one
 * request a command sends at its end (`tidemark verify --push-gateway`
 * pushing its figures): plain http:// only, one request per connection
 * (Connection: close), the answer read to its end and only its status
 * line kept, with a snippet of the body for the error message.
 *
 * Every wait is bounded: the connect by connect_timeout_ms, the whole
 * request (connect, send, answer) by timeout_ms. The host name is resolved
 * with getaddrinfo, which has no timeout of its own (the resolver's
 * configuration bounds it). Never raises SIGPIPE. Errors come back as
 * messages; nothing here exits or logs.
 */
#ifndef TM_HTTP_CLIENT_H
#define TM_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* An http:// URL taken apart. */
typedef struct tm_http_url {
    char host[256];  /* a name or an address (an IPv6 one without its brackets) */
    char port[6];    /* "80" unless the URL says */
    char path[1024]; /* "" or "/..." without a trailing '/' (appended to by callers) */
} tm_http_url;

/*
 * Parses "http://host[:port][/path]" (host may be "[v6 address]"; no user
 * info, query or fragment). Returns 0 and fills *out, or TM_EINVAL with a
 * message (an https:// URL is refused by name: there is no TLS here).
 */
int tm_http_url_parse(const char *url, tm_http_url *out, char *errstr, size_t errlen);

/* What one request is. */
typedef struct tm_http_client_request {
    const char *method;       /* "PUT", "POST"... */
    const tm_http_url *url;   /* where; url->path must start with '/' */
    const char *content_type; /* of the body */
    const char *body;
    size_t body_len;
    int64_t connect_timeout_ms; /* the TCP connect */
    int64_t timeout_ms;         /* the whole request, from its start */
} tm_http_client_request;

/*
 * Sends the request and reads the answer. Returns 0 when the server
 * answered 2xx, else TM_EIO with a message: the failed step and its cause
 * (connection refused, timed out after N ms...), or the status line and
 * the start of the body for another status. Borrows req. Blocking; safe
 * from any thread (no shared state).
 */
int tm_http_send(const tm_http_client_request *req, char *errstr, size_t errlen);

#endif
