/*
 * Unit tests of store.c on a real LMDB under a fresh /tmp directory per
 * test (made and removed by the suite's fixtures, after Criterion forks):
 * apply and its offset, reopen, scan order, long and odd keys, corruption
 * (wiped at open, or marked by a failed call and wiped at the next open),
 * directory creation and errors, clear, map growth, and 2,000 stores open
 * at once (descriptors, LMDB's thread-local keys).
 */
#define _GNU_SOURCE /* unshare */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "store.h"

static char tmp[64];

static void make_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/tm_store_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

/* rm -rf path (no symlinks are made here). */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void remove_tmp(void)
{
    remove_tree(tmp);
}

TestSuite(store, .init = make_tmp, .fini = remove_tmp);

static tm_store *open_store(const char *dir, bool sync, bool *wiped)
{
    tm_store *s = NULL;
    char err[512] = "";
    bool w = true;
    int rc = tm_store_open(&s, dir, "app", 3, sync, &w, err, sizeof err);
    cr_assert_eq(rc, TM_OK, "open: %s", err);
    cr_assert_not_null(s);
    if (wiped)
        *wiped = w;
    else
        cr_assert_not(w, "unexpectedly wiped");
    return s;
}

static void apply(tm_store *s, const tm_kv_change *c, size_t n, int64_t offset)
{
    char err[512] = "";
    cr_assert_eq(tm_store_apply(s, c, n, offset, err, sizeof err), TM_OK, "apply: %s", err);
}

static tm_kv_change put(const char *k, const char *v)
{
    return (tm_kv_change){.key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v)};
}

static tm_kv_change del(const char *k)
{
    return (tm_kv_change){.key = k, .key_len = strlen(k)};
}

/* Every scanned record, copied, as "key=value;" (keys and values here are
 * printable), plus the raw records for binary checks. */
typedef struct seen {
    tm_buf text;
    size_t n;
    int stop_at; /* return 7 at this record (1-based); 0: never */
    unsigned char *keys[8];
    size_t key_lens[8];
    unsigned char *values[8];
    size_t value_lens[8];
} seen;

static int record(void *ctx, const void *key, size_t key_len, const void *value, size_t value_len)
{
    seen *s = ctx;
    if (s->n < 8) {
        s->keys[s->n] = tm_xmalloc(key_len);
        memcpy(s->keys[s->n], key, key_len);
        s->key_lens[s->n] = key_len;
        s->values[s->n] = tm_xmalloc(value_len);
        memcpy(s->values[s->n], value, value_len);
        s->value_lens[s->n] = value_len;
    }
    s->n++;
    tm_buf_append(&s->text, key, key_len);
    tm_buf_putc(&s->text, '=');
    tm_buf_append(&s->text, value, value_len);
    tm_buf_putc(&s->text, ';');
    return s->stop_at > 0 && s->n == (size_t)s->stop_at ? 7 : 0;
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n && i < 8; i++) {
        free(s->keys[i]);
        free(s->values[i]);
    }
    tm_buf_free(&s->text);
}

/* Scans s and returns the records as text ("" when empty); caller frees. */
static char *dump(tm_store *s)
{
    seen r = {0};
    char err[512] = "";
    cr_assert_eq(tm_store_scan(s, record, &r, err, sizeof err), 0, "scan: %s", err);
    char *out = tm_xstrdup(r.text.data ? r.text.data : "");
    seen_free(&r);
    return out;
}

static void assert_dump(tm_store *s, const char *want)
{
    char *got = dump(s);
    cr_assert_str_eq(got, want);
    free(got);
}

static void task_file(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/app/3/%s", tmp, name);
}

Test(store, a_new_store_is_empty_at_offset_zero)
{
    bool wiped = true;
    tm_store *s = open_store(tmp, false, &wiped);
    cr_assert_not(wiped);
    cr_assert_eq(tm_store_applied_offset(s), 0);
    assert_dump(s, "");
    cr_assert_gt(tm_store_bytes(s), 0);
    tm_store_close(s);
    tm_store_close(NULL);
}

Test(store, apply_puts_deletes_and_overwrites_in_order)
{
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c[] = {put("a", "1"), put("b", "2"), put("a", "3"), del("b"),
                        put("c", ""),  del("zz"),     put("d", "x"), del("d")};
    apply(s, c, sizeof c / sizeof c[0], 42);
    cr_assert_eq(tm_store_applied_offset(s), 42);
    assert_dump(s, "a=3;c=;");
    apply(s, NULL, 0, 43); /* an offset alone */
    cr_assert_eq(tm_store_applied_offset(s), 43);
    assert_dump(s, "a=3;c=;");
    tm_store_close(s);
}

static void survives_reopen(bool sync)
{
    tm_store *s = open_store(tmp, sync, NULL);
    tm_kv_change c[] = {put("k1", "v1"), put("k2", "v2"), del("k1"), put("k3", "v3")};
    apply(s, c, 4, 1000);
    tm_store_close(s);
    s = open_store(tmp, sync, NULL);
    cr_assert_eq(tm_store_applied_offset(s), 1000);
    assert_dump(s, "k2=v2;k3=v3;");
    tm_store_close(s);
}

Test(store, survives_close_and_reopen_with_sync)
{
    survives_reopen(true);
}

Test(store, survives_a_clean_close_and_reopen_without_sync)
{
    survives_reopen(false);
}

Test(store, scan_is_in_key_order_and_stops_early)
{
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c[] = {put("b", "2"), put("ab", "12"), put("c", "3"), put("a", "1")};
    apply(s, c, 4, 5);
    assert_dump(s, "a=1;ab=12;b=2;c=3;");
    seen r = {.stop_at = 2};
    char err[512] = "";
    cr_assert_eq(tm_store_scan(s, record, &r, err, sizeof err), 7);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.text.data, "a=1;ab=12;");
    seen_free(&r);
    tm_store_close(s);
}

/* The only record of s: its key and value must be exactly these bytes. */
static void assert_only_record(tm_store *s, const void *key, size_t key_len, const void *value,
                               size_t value_len)
{
    seen r = {0};
    char err[512] = "";
    cr_assert_eq(tm_store_scan(s, record, &r, err, sizeof err), 0, "scan: %s", err);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.key_lens[0], key_len);
    cr_assert(key_len == 0 || memcmp(r.keys[0], key, key_len) == 0);
    cr_assert_eq(r.value_lens[0], value_len);
    cr_assert(value_len == 0 || memcmp(r.values[0], value, value_len) == 0);
    seen_free(&r);
}

Test(store, a_2000_byte_key_is_put_overwritten_scanned_and_deleted)
{
    unsigned char key[2000], key2[2000];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 7 + 1);
    memcpy(key2, key, sizeof key);
    key2[1999] ^= 1; /* differs in the last byte only */
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c = {.key = key, .key_len = sizeof key, .value = "first", .value_len = 5};
    apply(s, &c, 1, 1);
    assert_only_record(s, key, sizeof key, "first", 5);
    c.value = "second value";
    c.value_len = 12;
    apply(s, &c, 1, 2);
    assert_only_record(s, key, sizeof key, "second value", 12);
    tm_store_close(s);

    s = open_store(tmp, false, NULL);
    assert_only_record(s, key, sizeof key, "second value", 12);
    tm_kv_change c2 = {.key = key2, .key_len = sizeof key2, .value = "other", .value_len = 5};
    tm_kv_change gone = {.key = key, .key_len = sizeof key};
    apply(s, &c2, 1, 3);
    apply(s, &gone, 1, 4);
    assert_only_record(s, key2, sizeof key2, "other", 5);
    tm_kv_change gone2 = {.key = key2, .key_len = sizeof key2};
    apply(s, &gone2, 1, 5);
    assert_dump(s, "");
    tm_store_close(s);
}

/* Keys LMDB cannot hold as themselves (empty, 0xFF-led so as not to meet
 * the derived keys) next to the longest and shortest direct keys. */
Test(store, empty_0xff_led_and_boundary_length_keys)
{
    char k511[512], k512[513];
    memset(k511, 'm', 511);
    k511[511] = '\0';
    memset(k512, 'm', 512);
    k512[512] = '\0';
    const char ff[] = "\xff\x01";
    const char ffa[] = "\xff\x01"
                       "a";
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c[] = {
        {.key = "", .key_len = 0, .value = "empty", .value_len = 5},
        {.key = ff, .key_len = 2, .value = "ff", .value_len = 2},
        {.key = ffa, .key_len = 3, .value = "ffa", .value_len = 3},
        put(k511, "511"),
        put(k512, "512"),
        put("m", ""),
    };
    apply(s, c, sizeof c / sizeof c[0], 9);
    seen r = {0};
    char err[512] = "";
    cr_assert_eq(tm_store_scan(s, record, &r, err, sizeof err), 0, "scan: %s", err);
    cr_assert_eq(r.n, 6);
    /* Direct keys first, in key order; then the others, in hash order. */
    cr_assert_eq(r.key_lens[0], 1);
    cr_assert_eq(r.key_lens[1], 511);
    size_t found = 0;
    for (size_t i = 2; i < 6; i++) {
        for (size_t j = 0; j < sizeof c / sizeof c[0]; j++) {
            if (r.key_lens[i] == c[j].key_len && memcmp(r.keys[i], c[j].key, c[j].key_len) == 0) {
                cr_assert_eq(r.value_lens[i], c[j].value_len);
                cr_assert(memcmp(r.values[i], c[j].value, c[j].value_len) == 0);
                found++;
            }
        }
    }
    cr_assert_eq(found, 4);
    seen_free(&r);
    tm_kv_change d[] = {{.key = "", .key_len = 0}, {.key = ff, .key_len = 2}, del(k512)};
    apply(s, d, 3, 10);
    char *got = dump(s);
    cr_assert_eq(strlen(got), strlen("m=;") + 511 + strlen("=511;") +
                                  strlen("\xff\x01"
                                         "a=ffa;"));
    cr_assert(strstr(got, "\xff\x01"
                          "a=ffa;") != NULL);
    free(got);
    tm_store_close(s);
}

static void overwrite_file(const char *path, off_t from, size_t n, unsigned char byte)
{
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0, "open %s", path);
    unsigned char junk[4096];
    memset(junk, byte, sizeof junk);
    while (n > 0) {
        size_t k = n < sizeof junk ? n : sizeof junk;
        cr_assert_eq(pwrite(fd, junk, k, from), (ssize_t)k);
        from += (off_t)k;
        n -= k;
    }
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return st.st_size;
}

Test(store, a_garbage_data_file_is_wiped_and_reopened_empty)
{
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c[] = {put("a", "1"), put("b", "2")};
    apply(s, c, 2, 77);
    tm_store_close(s);
    char data[256];
    task_file(data, sizeof data, "data.mdb");
    overwrite_file(data, 0, (size_t)file_size(data), 0xA5);

    bool wiped = false;
    s = open_store(tmp, false, &wiped);
    cr_assert(wiped);
    cr_assert_eq(tm_store_applied_offset(s), 0);
    assert_dump(s, "");
    apply(s, c, 1, 1);
    assert_dump(s, "a=1;");
    tm_store_close(s);

    s = open_store(tmp, false, &wiped);
    cr_assert_not(wiped, "a healthy store is not wiped again");
    assert_dump(s, "a=1;");
    tm_store_close(s);
}

Test(store, a_truncated_data_file_is_wiped)
{
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c = put("a", "1");
    apply(s, &c, 1, 5);
    tm_store_close(s);
    char data[256];
    task_file(data, sizeof data, "data.mdb");
    cr_assert_eq(truncate(data, 100), 0);
    bool wiped = false;
    s = open_store(tmp, false, &wiped);
    cr_assert(wiped);
    assert_dump(s, "");
    tm_store_close(s);
}

/* Finds the page of data.mdb that holds needle (the page size is the OS's,
 * as LMDB uses it); -1 if none or several. */
static off_t page_holding(const char *path, const char *needle)
{
    size_t psize = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (size_t)file_size(path);
    unsigned char *buf = tm_xmalloc(size);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, buf, size, 0), (ssize_t)size);
    close(fd);
    off_t found = -1;
    int hits = 0;
    size_t n = strlen(needle);
    for (size_t pg = 0; pg + psize <= size; pg += psize) {
        for (size_t i = 0; i + n <= psize; i++) {
            if (memcmp(buf + pg + i, needle, n) == 0) {
                found = (off_t)pg;
                hits++;
                break;
            }
        }
    }
    free(buf);
    return hits == 1 ? found : -1;
}

/* Damage LMDB only meets once it reads the kv tree: the flags of the
 * tree's one leaf page (LMDB's page header: pgno, 8 bytes; pad, 2; flags,
 * 2) no longer say leaf. Open succeeds, scan fails and marks the store, and
 * the next open wipes it instead of failing again on every restart. */
Test(store, corruption_found_by_a_scan_is_wiped_at_the_next_open)
{
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c = put("a-distinctive-key-0123456789", "v");
    apply(s, &c, 1, 12);
    tm_store_close(s);
    char data[256];
    task_file(data, sizeof data, "data.mdb");
    off_t page = page_holding(data, "a-distinctive-key-0123456789");
    cr_assert_geq(page, 0, "the key's leaf page");
    overwrite_file(data, page + 10, 2, 0);

    bool wiped = true;
    s = open_store(tmp, false, &wiped);
    cr_assert_not(wiped);
    cr_assert_eq(tm_store_applied_offset(s), 12);
    seen r = {0};
    char err[512] = "";
    cr_assert_eq(tm_store_scan(s, record, &r, err, sizeof err), TM_ESTORE);
    cr_assert_eq(r.n, 0);
    cr_assert(strstr(err, "rebuilt") != NULL, "%s", err);
    seen_free(&r);
    tm_store_close(s);

    s = open_store(tmp, false, &wiped);
    cr_assert(wiped);
    cr_assert_eq(tm_store_applied_offset(s), 0);
    assert_dump(s, "");
    tm_store_close(s);
    s = open_store(tmp, false, &wiped);
    cr_assert_not(wiped, "the mark is gone with the wipe");
    tm_store_close(s);
}

Test(store, missing_directories_are_created)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/x/y/z", tmp);
    tm_store *s = open_store(dir, false, NULL);
    tm_store_close(s);
    char task[300];
    snprintf(task, sizeof task, "%s/app/3", dir);
    struct stat st;
    cr_assert_eq(stat(task, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0027, 0, "no group write, nothing for others");
    snprintf(task, sizeof task, "%s/app/3/data.mdb", dir);
    cr_assert_eq(stat(task, &st), 0);
}

static void assert_open_fails(const char *dir, const char *what)
{
    tm_store *s = (tm_store *)&s; /* must stay untouched */
    tm_store *before = s;
    char err[512] = "";
    bool wiped = true;
    cr_assert_eq(tm_store_open(&s, dir, "app", 3, false, &wiped, err, sizeof err), TM_ESTORE);
    cr_assert_eq(s, before, "*out written only on success");
    cr_assert_not(wiped);
    cr_assert(strstr(err, dir) != NULL, "the path is in '%s'", err);
    cr_assert(strstr(err, what) != NULL, "'%s' is in '%s'", what, err);
}

/* As root, permissions do not stop writes; a regular file where a
 * directory should be does, for everyone. */
Test(store, a_file_in_the_path_gives_estore_naming_the_path)
{
    char file[256], dir[300];
    snprintf(file, sizeof file, "%s/plainfile", tmp);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(dir, sizeof dir, "%s/sub", file);
    assert_open_fails(dir, "Not a directory");
}

Test(store, an_unwritable_parent_gives_estore_naming_the_path)
{
    if (geteuid() == 0) {
        remove_tmp(); /* a skipped test does not run .fini */
        cr_skip_test("root ignores directory permissions");
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/ro", tmp);
    cr_assert_eq(mkdir(dir, 0500), 0);
    assert_open_fails(dir, "Permission denied");
}

Test(store, clear_empties_the_store_and_resets_the_offset)
{
    tm_store *s = open_store(tmp, false, NULL);
    tm_kv_change c[] = {put("a", "1"), put("b", "2")};
    apply(s, c, 2, 50);
    char err[512] = "";
    cr_assert_eq(tm_store_clear(s, err, sizeof err), TM_OK, "%s", err);
    cr_assert_eq(tm_store_applied_offset(s), 0);
    assert_dump(s, "");
    tm_store_close(s);
    s = open_store(tmp, false, NULL);
    cr_assert_eq(tm_store_applied_offset(s), 0);
    assert_dump(s, "");
    apply(s, c, 1, 3);
    assert_dump(s, "a=1;");
    tm_store_close(s);
}

/* 100 MiB of 1 MiB values: 60 applies of one value, then one apply of 40,
 * which cannot fit the initial 64 MiB map and must grow it transparently. */
Test(store, the_map_grows_past_64_mib, .timeout = 60)
{
    const size_t mib = (size_t)1 << 20;
    unsigned char *value = tm_xmalloc(mib);
    tm_store *s = open_store(tmp, false, NULL);
    uint64_t initial = tm_store_bytes(s);
    char keys[100][8];
    tm_kv_change c[40];
    for (size_t i = 0; i < 100; i++)
        snprintf(keys[i], sizeof keys[i], "k%03zu", i);
    memset(value, 0x5A, mib);
    for (size_t i = 0; i < 60; i++) {
        c[0] = (tm_kv_change){.key = keys[i], .key_len = 4, .value = value, .value_len = mib};
        apply(s, c, 1, (int64_t)i + 1);
    }
    uint64_t at60 = tm_store_bytes(s);
    cr_assert_gt(at60, initial);
    cr_assert_gt(at60, 60 * mib);
    for (size_t i = 0; i < 40; i++)
        c[i] = (tm_kv_change){.key = keys[60 + i], .key_len = 4, .value = value, .value_len = mib};
    apply(s, c, 40, 100);
    cr_assert_gt(tm_store_bytes(s), (uint64_t)100 * mib);
    cr_assert_gt(tm_store_bytes(s), at60);
    tm_store_close(s);

    s = open_store(tmp, false, NULL);
    cr_assert_eq(tm_store_applied_offset(s), 100);
    seen r = {0};
    char err[512] = "";
    cr_assert_eq(tm_store_scan(s, record, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.n, 100);
    cr_assert_eq(r.value_lens[7], mib);
    cr_assert_eq(r.values[7][mib - 1], 0x5A);
    seen_free(&r);
    /* A reopened big store takes more writes: the map grows again. */
    c[0] = (tm_kv_change){.key = "more", .key_len = 4, .value = value, .value_len = mib};
    apply(s, c, 1, 101);
    tm_store_close(s);
    free(value);
}

Test(store, bytes_grow_with_the_data)
{
    tm_store *s = open_store(tmp, false, NULL);
    uint64_t before = tm_store_bytes(s);
    static unsigned char value[256 * 1024];
    tm_kv_change c = {.key = "big", .key_len = 3, .value = value, .value_len = sizeof value};
    apply(s, &c, 1, 1);
    cr_assert_geq(tm_store_bytes(s), before + sizeof value);
    tm_store_close(s);
}

/* An instance may own thousands of tasks, each with its own store: 2,000
 * open at once in one process, each written and read back. Without
 * MDB_NOTLS every environment took one of the process's 1,024 pthread
 * keys, and the 1,019th failed to open. Needs 3 descriptors a store: the
 * test raises the soft limit as the service does, and is skipped where
 * even the hard limit is too low. */
Test(store, two_thousand_stores_are_open_at_once)
{
    enum { N = 2000 };
    char err[512] = "";
    tm_store_raise_fd_limit();
    if (tm_store_check_fds(N, err, sizeof err) != TM_OK)
        cr_skip_test("%s", err);
    tm_store **stores = tm_xcalloc(N, sizeof *stores);
    for (int32_t p = 0; p < N; p++) {
        bool wiped = true;
        int rc = tm_store_open(&stores[p], tmp, "app", p, false, &wiped, err, sizeof err);
        cr_assert_eq(rc, TM_OK, "store %d of %d: %s", (int)p + 1, N, err);
        cr_assert_not(wiped);
        char key[16];
        snprintf(key, sizeof key, "k%d", (int)p);
        tm_kv_change c = put(key, key);
        apply(stores[p], &c, 1, p + 1);
    }
    for (int32_t p = 0; p < N; p++) {
        char want[40];
        snprintf(want, sizeof want, "k%d=k%d;", (int)p, (int)p);
        cr_assert_eq(tm_store_applied_offset(stores[p]), p + 1);
        assert_dump(stores[p], want);
    }
    for (int32_t p = 0; p < N; p++)
        tm_store_close(stores[p]);
    free(stores);
}

/* Past the open-file limit, the check names the task count, what they
 * need and the limit; raising the soft limit to the hard one lifts it. */
Test(store, too_few_file_descriptors_are_named_with_the_counts)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < 1024)
        cr_skip_test("hard RLIMIT_NOFILE %llu is below 1024", (unsigned long long)rl.rlim_max);
    rl.rlim_cur = 512; /* this test's process only: Criterion forks each test */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    char err[512] = "";
    cr_assert_eq(tm_store_check_fds(50, err, sizeof err), TM_OK, "%s", err);
    cr_assert_eq(tm_store_check_fds(100, err, sizeof err), TM_ESTORE);
    cr_assert(strstr(err, "100 tasks need about 556 open files") && strstr(err, "is 512"), "%s",
              err);
    tm_store_raise_fd_limit();
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_eq(rl.rlim_cur, rl.rlim_max);
    cr_assert_eq(tm_store_check_fds(100, err, sizeof err), TM_OK, "%s", err);
}

/* Writes s to the file at path; 0 or -1. */
static int write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* A mount namespace of this process's own: as root directly, otherwise
 * inside a user namespace that maps our user to root. */
static int own_mount_namespace(void)
{
    if (unshare(CLONE_NEWNS) == 0)
        return 0;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return -1;
    char map[64];
    snprintf(map, sizeof map, "0 %d 1", (int)uid);
    if (write_file("/proc/self/uid_map", map) != 0 || write_file("/proc/self/setgroups", "deny"))
        return -1;
    snprintf(map, sizeof map, "0 %d 1", (int)gid);
    return write_file("/proc/self/gid_map", map);
}

/* In a child process: mounts a 4 MiB tmpfs on dir, seen by this process
 * only, fills a store on it, and writes the message of the apply that
 * failed to fd ("never full" if none did). */
static void fill_a_small_volume(const char *dir, int fd)
{
    if (own_mount_namespace() != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tm-test", dir, "tmpfs", 0, "size=4m") != 0) {
        dprintf(fd, "cannot mount a tmpfs on %s: %s", dir, strerror(errno));
        _exit(1);
    }
    tm_store *s = NULL;
    char err[1024] = "";
    bool wiped;
    if (tm_store_open(&s, dir, "app", 3, false, &wiped, err, sizeof err) != TM_OK) {
        dprintf(fd, "open: %s", err);
        _exit(1);
    }
    size_t len = (size_t)256 << 10;
    char *value = tm_xcalloc(1, len);
    int rc = TM_OK;
    for (int i = 0; i < 100 && rc == TM_OK; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%03d", i);
        tm_kv_change c = {key, strlen(key), value, len};
        rc = tm_store_apply(s, &c, 1, i + 1, err, sizeof err);
    }
    dprintf(fd, "%s", rc == TM_OK ? "never full" : err);
    free(value);
    tm_store_close(s);
    _exit(0);
}

/* A full state volume: the message says so, names the store and what to
 * do (it read "apply: Input/output error"). */
Test(store, a_full_volume_is_named_as_such)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        fill_a_small_volume(tmp, fds[1]);
    }
    close(fds[1]);
    char msg[1024];
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof msg && (r = read(fds[0], msg + len, sizeof msg - 1 - len)) > 0)
        len += (size_t)r;
    msg[len] = '\0';
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", msg);
    char want[256];
    snprintf(want, sizeof want, "state store %s/app/3: apply: no space left on the state volume",
             tmp);
    cr_expect(strstr(msg, want), "%s", msg);
    cr_expect(strstr(msg, "free space on it or make it larger"), "%s", msg);
}
