/*
 * The HTTP client (service/live/http_client.h) against a real server on
 * 127.0.0.1 (tests/support/fake_http.h): URLs taken apart and refused, a
 * request as it arrives, a non-2xx answer, a connection closed without
 * an answer, a refused one and a server that never answers, each an error
 * message and never a crash.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "fake_http.h"
#include "http_client.h"
#include "http_get.h"
#include "proc.h"

static tm_http_url parse_ok(const char *url)
{
    tm_http_url u;
    char err[256];
    cr_assert_eq(tm_http_url_parse(url, &u, err, sizeof err), 0, "%s: %s", url, err);
    return u;
}

static void parse_refused(const char *url, const char *why)
{
    tm_http_url u;
    char err[256] = "";
    cr_assert_eq(tm_http_url_parse(url, &u, err, sizeof err), TM_EINVAL, "%s accepted", url);
    cr_assert(strstr(err, why), "%s: '%s' lacks '%s'", url, err, why);
}

Test(http_client, urls)
{
    tm_http_url u = parse_ok("http://pushgateway");
    cr_assert_str_eq(u.host, "pushgateway");
    cr_assert_str_eq(u.port, "80");
    cr_assert_str_eq(u.path, "");
    u = parse_ok("http://pushgateway.monitoring:9091/");
    cr_assert_str_eq(u.host, "pushgateway.monitoring");
    cr_assert_str_eq(u.port, "9091");
    cr_assert_str_eq(u.path, "", "a trailing / would double when a path is appended");
    u = parse_ok("HTTP://10.0.0.7:9091/gateway/x//");
    cr_assert_str_eq(u.host, "10.0.0.7");
    cr_assert_str_eq(u.path, "/gateway/x");
    u = parse_ok("http://[::1]:9091/p");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_str_eq(u.port, "9091");
    cr_assert_str_eq(u.path, "/p");

    parse_refused("https://pushgateway:9091", "https is not supported");
    parse_refused("pushgateway:9091", "expected http://");
    parse_refused("http://user:pw@pushgateway", "no user");
    parse_refused("http://pushgateway/?x=1", "no user, query");
    parse_refused("http://:9091", "host is empty");
    parse_refused("http://pushgateway:0", "port must be 1-65535");
    parse_refused("http://pushgateway:99999", "port must be 1-65535");
    parse_refused("http://pushgateway:91x", "port must be 1-65535");
    parse_refused("http://[::1", "IPv6");
}

/* A request to 127.0.0.1:port with the given body. */
static int send_to(int port, const char *path, const char *body, int64_t timeout_ms, char *err,
                   size_t errlen)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    tm_http_url u = parse_ok(url);
    if (!u.path[0])
        snprintf(u.path, sizeof u.path, "/");
    tm_http_client_request req = {.method = "PUT",
                                  .url = &u,
                                  .content_type = "text/plain",
                                  .body = body,
                                  .body_len = strlen(body),
                                  .connect_timeout_ms = 1000,
                                  .timeout_ms = timeout_ms};
    return tm_http_send(&req, err, errlen);
}

Test(http_client, sends_the_request_and_takes_a_2xx)
{
    tm_fake_http *s = tm_fake_http_start(202, "", false);
    char err[256] = "";
    cr_assert_eq(send_to(tm_fake_http_port(s), "/a/b", "x 1\ny 2\n", 5000, err, sizeof err), 0,
                 "%s", err);
    const char *req = tm_fake_http_request(s, 0, 2000);
    cr_assert(req);
    cr_assert(strncmp(req, "PUT /a/b HTTP/1.1\r\n", 19) == 0, "%s", req);
    cr_assert(strstr(req, "\r\nContent-Type: text/plain\r\n"), "%s", req);
    cr_assert(strstr(req, "\r\nContent-Length: 8\r\n"), "%s", req);
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", tm_fake_http_port(s));
    cr_assert(strstr(req, host), "%s", req);
    cr_assert(strstr(req, "\r\n\r\nx 1\ny 2\n"), "the body follows the headers: %s", req);
    tm_fake_http_stop(s);
}

Test(http_client, another_status_is_an_error_with_the_servers_words)
{
    tm_fake_http *s = tm_fake_http_start(400, "text format parsing error in line 3\n", false);
    char err[256] = "";
    cr_assert_eq(send_to(tm_fake_http_port(s), "/", "bad", 5000, err, sizeof err), TM_EIO);
    cr_assert(strstr(err, "400 Fake") && strstr(err, "text format parsing error in line 3"), "%s",
              err);
    tm_fake_http_stop(s);
}

Test(http_client, a_connection_closed_without_an_answer_is_an_error)
{
    tm_fake_http *s = tm_fake_http_start(0, "", false);
    char err[256] = "";
    cr_assert_eq(send_to(tm_fake_http_port(s), "/", "x", 5000, err, sizeof err), TM_EIO);
    cr_assert(strstr(err, "closed the connection without an answer"), "%s", err);
    tm_fake_http_stop(s);
}

Test(http_client, a_refused_connection_is_an_error)
{
    char err[256] = "";
    int port = tm_test_free_port();
    cr_assert_eq(send_to(port, "/", "x", 5000, err, sizeof err), TM_EIO);
    cr_assert(strstr(err, "refused"), "%s", err);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    cr_assert(strstr(err, where), "the message names the address: %s", err);
}

Test(http_client, a_server_that_never_answers_times_out)
{
    tm_fake_http *s = tm_fake_http_start(200, "", true);
    char err[256] = "";
    int64_t t0 = tm_test_now_ms();
    cr_assert_eq(send_to(tm_fake_http_port(s), "/", "x", 300, err, sizeof err), TM_EIO);
    int64_t took = tm_test_now_ms() - t0;
    cr_assert(strstr(err, "reading the answer: timed out"), "%s", err);
    cr_assert(took >= 250 && took < 2000, "the whole request took %lld ms, its bound 300",
              (long long)took);
    cr_assert(tm_fake_http_request(s, 0, 1000), "the request was sent whole");
    tm_fake_http_stop(s);
}
