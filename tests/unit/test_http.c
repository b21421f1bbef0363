/*
 * The HTTP server, over real sockets: routing to the handler, HEAD, the
 * query string, methods and malformed requests, and several requests in a
 * row on one server.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
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
    const char junk[] = "hello\r\n\r\n";
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
