/*
 * http_get.c: see http_get.h.
 */
#include "http_get.h"

#include "buf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket failed");
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int tm_http_request(int port, const char *method, const char *path, tm_buf *headers, tm_buf *body)
{
    tm_buf_reset(headers);
    tm_buf_reset(body);
    int fd = connect_local(port);
    if (fd < 0)
        return -1;
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    cr_assert(n > 0 && (size_t)n < sizeof req);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    tm_buf all = {0};
    char chunk[4096];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0)
        tm_buf_append(&all, chunk, (size_t)got);
    close(fd);
    int status = -1;
    const char *end = all.data ? strstr(all.data, "\r\n\r\n") : NULL;
    if (end && sscanf(all.data, "HTTP/1.1 %d", &status) == 1) {
        tm_buf_append(headers, all.data, (size_t)(end - all.data) + 2);
        tm_buf_append(body, end + 4, all.len - (size_t)(end + 4 - all.data));
    }
    tm_buf_free(&all);
    return status;
}

int tm_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket failed");
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind failed");
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}
