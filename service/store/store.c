/*
 * store.c: the LMDB state store of one task (see store.h).
 *
 * Invariants:
 * - The environment in <dir>/<app_id>/<partition>/ holds two databases:
 *   "kv", the mirror of the changelog partition, and "meta", whose one key
 *   "applied_offset" holds the changelog offset applied up to (8 bytes,
 *   little-endian, >= 0; absent means 0). Both change in the same write
 *   transaction, so the mirror is always the changelog's state as of exactly
 *   that offset, even when a crash loses the last transactions.
 * - s->applied equals the committed applied_offset.
 * - A key of 1..DIRECT_KEY_MAX bytes not starting with 0xFF is stored as
 *   itself ("direct"). Any other key (empty, too long for an LMDB key, or
 *   starting with 0xFF) is "indirect": stored under 0xFF + SHA-256(key), 33
 *   bytes, with the value [key length: u32 LE][key][value]. So no direct key
 *   starts with 0xFF, and every kv key starting with 0xFF is an indirect key
 *   of exactly 33 bytes. A SHA-256 collision between two keys is out of
 *   reach (about 2^-128 even for 2^64 keys), so none is handled.
 * - The layout depends on no build option of liblmdb: DIRECT_KEY_MAX is a
 *   constant, and open refuses a liblmdb whose key limit is below it.
 * - No transaction outlives a call and at most one is open at a time (one
 *   thread), so the map may be resized between transactions.
 * - s->broken: a map resize failed after LMDB unmapped the old map; the
 *   environment can only be closed, and every other call fails.
 * - A call that finds the files corrupt leaves a REBUILD_MARK file in the
 *   task directory; the next open wipes the store, as if LMDB had refused
 *   the files, instead of failing on every restart.
 *
 * LMDB forbids opening one environment twice in a process (closing either
 * handle drops the other's file locks): callers open each task's store once.
 */
#include "store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"

#define INITIAL_MAPSIZE ((size_t)64 << 20)
#define DIRECT_KEY_MAX 511u /* liblmdb's default MDB_MAXKEYSIZE */
#define INDIRECT_TAG 0xFFu
#define DIGEST_LEN 32u
#define INDIRECT_KEY_LEN (1u + DIGEST_LEN)
#define INDIRECT_HDR 4u /* the key length in front of an indirect record */
#define OFFSET_KEY "applied_offset"
#define REBUILD_MARK "rebuild"
#define DIR_MODE 0750
#define FILE_MODE 0640
/* Descriptors left for the rest of the process beside the stores: three
 * Kafka clients with a socket and a wake-up pipe per broker, the HTTP
 * server and its connections, standard streams; generous, since running
 * short fails a restore. */
#define FD_HEADROOM 256
/* An EIO with less than this free on the state volume is taken for a full
 * volume (see is_no_space): a write cut short by a full disk leaves less
 * free than it needed, and a checkpoint's transaction writes pages by the
 * dozen. */
#define NEARLY_FULL_BYTES ((uint64_t)1 << 20)

/* Our own code for a record LMDB read fine but we cannot decode: just
 * below LMDB's range (MDB_KEYEXIST is its first), never an errno. */
#define BAD_RECORD (MDB_KEYEXIST - 1)

struct tm_store {
    MDB_env *env; /* NULL until opened */
    MDB_dbi kv;
    MDB_dbi meta;
    char *path;      /* the task directory; owned */
    int64_t applied; /* the committed applied_offset */
    unsigned psize;  /* LMDB page size */
    bool sync;
    bool broken; /* a map resize failed: only close is possible */
};

/* ------------------------------------------------------------ SHA-256 -- */

/* SHA-256 (FIPS 180-4) names indirect keys: a collision would silently
 * merge two windows' state, and the keys come from user input, so a hash
 * nobody can collide on purpose. Only long or odd keys pay for it. */
static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* One 64-byte block into the state h. */
static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (unsigned i = 0; i < 16; i++)
        w[i] = load_be32(p + 4 * i);
    for (unsigned i = 16; i < 64; i++) {
        uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t t1 = k + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) +
                      SHA256_K[i] + w[i];
        uint32_t t2 =
            (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

static void sha256(const void *data, size_t n, unsigned char out[DIGEST_LEN])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t left = n;
    for (; left >= 64; left -= 64, p += 64)
        sha256_block(h, p);
    /* The tail, 0x80, zeros, and the length in bits: one or two blocks. */
    unsigned char tail[128] = {0};
    if (left > 0)
        memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tail_len = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (unsigned i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < tail_len; off += 64)
        sha256_block(h, tail + off);
    for (unsigned i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* -------------------------------------------------------- key layout -- */

/* Where a change's key lives in "kv" (see the invariants). */
typedef struct slot {
    MDB_val key;
    bool indirect;
    unsigned char derived[INDIRECT_KEY_LEN];
} slot;

/* Why not every key is stored as itself: LMDB rejects empty keys and keys
 * over its limit, and direct keys must stay clear of the 0xFF prefix. */
static bool is_indirect(const void *key, size_t len)
{
    return len == 0 || len > DIRECT_KEY_MAX || *(const unsigned char *)key == INDIRECT_TAG;
}

/* Fills sl for key; sl->key may point into sl, which must not move. */
static void slot_of(slot *sl, const void *key, size_t len)
{
    sl->indirect = is_indirect(key, len);
    if (!sl->indirect) {
        sl->key = (MDB_val){.mv_size = len, .mv_data = (void *)key};
        return;
    }
    sl->derived[0] = INDIRECT_TAG;
    sha256(key, len, sl->derived + 1);
    sl->key = (MDB_val){.mv_size = sizeof sl->derived, .mv_data = sl->derived};
}

static void store_le32(unsigned char *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Writes an indirect record in place (MDB_RESERVE): no copy of the value
 * is built in memory. */
static int put_indirect(tm_store *s, MDB_txn *txn, slot *sl, const tm_kv_change *c)
{
    if (c->key_len > UINT32_MAX || c->value_len > SIZE_MAX - INDIRECT_HDR - c->key_len)
        return MDB_BAD_VALSIZE;
    MDB_val v = {.mv_size = INDIRECT_HDR + c->key_len + c->value_len};
    int rc = mdb_put(txn, s->kv, &sl->key, &v, MDB_RESERVE);
    if (rc != 0)
        return rc;
    unsigned char *p = v.mv_data;
    store_le32(p, (uint32_t)c->key_len);
    if (c->key_len > 0)
        memcpy(p + INDIRECT_HDR, c->key, c->key_len);
    if (c->value_len > 0)
        memcpy(p + INDIRECT_HDR + c->key_len, c->value, c->value_len);
    return 0;
}

/* One change inside a write transaction. Deleting a missing key is fine:
 * the changelog may hold a tombstone for a key the store never saw. */
static int put_change(tm_store *s, MDB_txn *txn, const tm_kv_change *c)
{
    slot sl;
    slot_of(&sl, c->key, c->key_len);
    if (!c->value) {
        int rc = mdb_del(txn, s->kv, &sl.key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (sl.indirect)
        return put_indirect(s, txn, &sl, c);
    MDB_val v = {.mv_size = c->value_len, .mv_data = (void *)c->value};
    return mdb_put(txn, s->kv, &sl.key, &v, 0);
}

/* Turns a stored record back into the caller's key and value. */
static int decode_record(const MDB_val *k, const MDB_val *v, MDB_val *key, MDB_val *value)
{
    *key = *k;
    *value = *v;
    if (k->mv_size == 0 || *(const unsigned char *)k->mv_data != INDIRECT_TAG)
        return 0;
    if (k->mv_size != INDIRECT_KEY_LEN || v->mv_size < INDIRECT_HDR)
        return BAD_RECORD;
    const unsigned char *p = v->mv_data;
    size_t key_len = load_le32(p);
    if (key_len > v->mv_size - INDIRECT_HDR)
        return BAD_RECORD;
    *key = (MDB_val){.mv_size = key_len, .mv_data = (void *)(p + INDIRECT_HDR)};
    *value = (MDB_val){.mv_size = v->mv_size - INDIRECT_HDR - key_len,
                       .mv_data = (void *)(p + INDIRECT_HDR + key_len)};
    return 0;
}

/* ------------------------------------------------------ the offset -- */

static int write_offset(tm_store *s, MDB_txn *txn, int64_t offset)
{
    unsigned char b[8];
    for (unsigned i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)offset >> (8 * i));
    MDB_val k = {.mv_size = sizeof OFFSET_KEY - 1, .mv_data = OFFSET_KEY};
    MDB_val v = {.mv_size = sizeof b, .mv_data = b};
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* A value of the wrong size or sign means the files are not what this
 * module wrote: BAD_RECORD, which open treats as corruption. */
static int read_offset(tm_store *s, MDB_txn *txn, int64_t *out)
{
    MDB_val k = {.mv_size = sizeof OFFSET_KEY - 1, .mv_data = OFFSET_KEY};
    MDB_val v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return BAD_RECORD;
    const unsigned char *p = v.mv_data;
    uint64_t u = 0;
    for (unsigned i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (u > INT64_MAX)
        return BAD_RECORD;
    *out = (int64_t)u;
    return 0;
}

/* ------------------------------------------------ write transactions -- */

/* Doubles the map after MDB_MAP_FULL. Starting small and growing keeps
 * the address space of many tasks modest without a size setting. LMDB
 * unmaps the old map before mapping the new one, so a failure leaves the
 * environment unusable: s->broken. */
static int grow_map(tm_store *s)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != 0)
        return rc;
    if (info.me_mapsize > SIZE_MAX / 2)
        return MDB_MAP_FULL;
    rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
    if (rc != 0)
        s->broken = true;
    return rc;
}

typedef int (*txn_body)(tm_store *s, MDB_txn *txn, void *arg);

/* Runs body in one write transaction and commits, growing the map and
 * starting over whenever the data does not fit: body must depend on its
 * arguments only. Returns 0 or an LMDB/errno code. */
static int write_txn(tm_store *s, txn_body body, void *arg)
{
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc != 0)
            return rc;
        rc = body(s, txn, arg);
        if (rc == 0)
            rc = mdb_txn_commit(txn); /* frees txn, even on failure */
        else
            mdb_txn_abort(txn);
        if (rc != MDB_MAP_FULL)
            return rc;
        rc = grow_map(s);
        if (rc != 0)
            return rc;
    }
}

/* ------------------------------------------------------------ errors -- */

static bool is_corrupt(int rc)
{
    return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ||
           rc == MDB_PAGE_NOTFOUND || rc == MDB_INCOMPATIBLE || rc == BAD_RECORD;
}

static const char *errtext(int rc)
{
    return rc == BAD_RECORD ? "malformed record" : mdb_strerror(rc);
}

/* <task dir>/<name>; owned by the caller. */
static char *file_path(const tm_store *s, const char *name)
{
    tm_buf b = {0};
    tm_buf_printf(&b, "%s/%s", s->path, name);
    return b.data;
}

/* Best effort: if the mark cannot be written, the next open fails on the
 * same corruption and the operator has the message below. */
static void mark_for_rebuild(const tm_store *s)
{
    char *p = file_path(s, REBUILD_MARK);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, FILE_MODE);
    if (fd >= 0)
        close(fd);
    free(p);
}

/* Whether rc means that the state volume is full. LMDB passes ENOSPC and
 * EDQUOT on from write(2), but reports a write cut short, what a full
 * disk usually gives, as EIO: an EIO with almost nothing left on the
 * volume is taken for a full one. MDB_MAP_FULL only comes here when the
 * map cannot double any more. */
static bool is_no_space(const tm_store *s, int rc)
{
    if (rc == ENOSPC || rc == EDQUOT || rc == MDB_MAP_FULL)
        return true;
    struct statvfs v;
    return rc == EIO && statvfs(s->path, &v) == 0 &&
           (uint64_t)v.f_bavail * v.f_frsize < NEARLY_FULL_BYTES;
}

/* The message for a failed call; corruption also marks the store so that
 * the next open rebuilds it. */
static int store_err(const tm_store *s, int rc, const char *what, char *errstr, size_t errlen)
{
    if (is_no_space(s, rc))
        return tm_seterr(errstr, errlen, TM_ESTORE,
                         "state store %s: %s: no space left on the state volume (%s): free space "
                         "on it or make it larger; once there is room, the next start catches "
                         "the state up from the changelog",
                         s->path, what, errtext(rc));
    bool corrupt = is_corrupt(rc);
    if (corrupt)
        mark_for_rebuild(s);
    return tm_seterr(errstr, errlen, TM_ESTORE, "state store %s: %s: %s%s", s->path, what,
                     errtext(rc), corrupt ? " (it will be rebuilt on the next open)" : "");
}

/* The message for a failed open (a full volume named as such); nothing to
 * mark: open wipes corrupt files itself. */
static int open_err(const tm_store *s, int rc, const char *what, char *errstr, size_t errlen)
{
    if (is_no_space(s, rc))
        return store_err(s, rc, what, errstr, errlen);
    return tm_seterr(errstr, errlen, TM_ESTORE, "state store %s: %s: %s", s->path, what,
                     errtext(rc));
}

static int check_usable(const tm_store *s, char *errstr, size_t errlen)
{
    if (!s->broken)
        return 0;
    return tm_seterr(errstr, errlen, TM_ESTORE,
                     "state store %s: unusable since a map resize failed", s->path);
}

/* -------------------------------------------------------------- open -- */

/* dir/app_id/partition; owned by the caller. */
static char *task_path(const char *dir, const char *app_id, int32_t partition)
{
    tm_buf b = {0};
    tm_buf_printf(&b, "%s/%s/%ld", dir, app_id, (long)partition);
    return b.data;
}

static int make_dir(const char *path)
{
    if (mkdir(path, DIR_MODE) == 0 || errno == EEXIST)
        return 0;
    return errno;
}

/* mkdir -p: the state directory may be a fresh volume. Returns 0 or an
 * errno. A component that exists but is no directory shows up as ENOTDIR
 * below it, or when LMDB opens the last one. */
static int make_dirs(const char *path)
{
    char *p = tm_xstrdup(path);
    int err = 0;
    for (char *c = p + 1; *c != '\0' && err == 0; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        err = make_dir(p);
        *c = '/';
    }
    if (err == 0)
        err = make_dir(p);
    free(p);
    return err;
}

static bool marked_for_rebuild(const tm_store *s)
{
    char *p = file_path(s, REBUILD_MARK);
    bool marked = access(p, F_OK) == 0;
    free(p);
    return marked;
}

/* Every file a task directory may hold. */
static const char *const store_files[] = {"data.mdb", "lock.mdb", REBUILD_MARK};
#define N_STORE_FILES (sizeof store_files / sizeof store_files[0])

/* Deletes the store's files (not the directory). Returns 0 or an errno. */
static int wipe_files(const tm_store *s)
{
    int err = 0;
    for (size_t i = 0; i < N_STORE_FILES && err == 0; i++) {
        char *p = file_path(s, store_files[i]);
        if (unlink(p) != 0 && errno != ENOENT)
            err = errno;
        free(p);
    }
    return err;
}

/* The databases and the applied offset; a write transaction because
 * MDB_CREATE makes them in a new environment. */
static int open_dbs(tm_store *s, MDB_txn *txn, void *arg)
{
    (void)arg;
    int rc = mdb_dbi_open(txn, "kv", MDB_CREATE, &s->kv);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (rc == 0)
        rc = read_offset(s, txn, &s->applied);
    return rc;
}

/* Creates and opens s->env. Without sync, commits skip fsync
 * (MDB_NOSYNC | MDB_NOMETASYNC): the store is a cache of the changelog,
 * which Kafka replicates. A process crash loses nothing (the writes are in
 * the page cache); a machine crash may lose the last transactions, which
 * leaves the store behind the changelog with a consistent applied offset,
 * and replaying the tail repairs it; damage from reordered writes is
 * wiped and rebuilt. MDB_NOTLS: without it every environment takes a
 * pthread key for its reader slots, and a process has 1024, so the 1019th
 * store of an instance failed to open (EAGAIN); with it a read transaction
 * owns its slot, which also lets a store pass between threads. Returns 0
 * or an LMDB/errno code, with s->env NULL. */
static int env_open(tm_store *s)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return rc;
    unsigned flags = MDB_NOTLS | (s->sync ? 0 : MDB_NOSYNC | MDB_NOMETASYNC);
    rc = mdb_env_set_maxdbs(env, 2);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, INITIAL_MAPSIZE);
    if (rc == 0)
        rc = mdb_env_open(env, s->path, flags, FILE_MODE);
    MDB_stat st;
    if (rc == 0)
        rc = mdb_env_stat(env, &st);
    if (rc != 0) {
        mdb_env_close(env); /* also after a failed mdb_env_open */
        return rc;
    }
    s->env = env;
    s->psize = st.ms_psize;
    rc = write_txn(s, open_dbs, NULL);
    if (rc != 0) {
        mdb_env_close(env);
        s->env = NULL;
    }
    return rc;
}

/* Opens s, wiping files LMDB cannot read (or marked by an earlier call).
 * Sets *wiped only when it did wipe. Returns 0 or an LMDB/errno code. */
static int open_or_wipe(tm_store *s, bool *wiped)
{
    int rc = marked_for_rebuild(s) ? MDB_CORRUPTED : env_open(s);
    if (!is_corrupt(rc))
        return rc;
    rc = wipe_files(s);
    if (rc == 0)
        rc = env_open(s);
    *wiped = rc == 0;
    return rc;
}

int tm_store_open(tm_store **out, const char *dir, const char *app_id, int32_t partition, bool sync,
                  bool *wiped, char *errstr, size_t errlen)
{
    assert(out && dir && app_id && wiped && partition >= 0);
    *wiped = false;
    tm_store *s = tm_xcalloc(1, sizeof *s);
    s->path = task_path(dir, app_id, partition);
    s->sync = sync;
    bool w = false;
    int err = TM_OK;
    int rc = make_dirs(s->path);
    if (rc != 0) {
        err = open_err(s, rc, "cannot create directory", errstr, errlen);
        goto fail;
    }
    rc = open_or_wipe(s, &w);
    if (rc == ENOMEM) {
        /* mmap refused the map: the address space (ulimit -v) is spent. */
        err = tm_seterr(errstr, errlen, TM_ESTORE,
                        "state store %s: cannot map its %zu MiB: out of address space (each "
                        "task's store maps at least that much; raise ulimit -v, or own fewer "
                        "tasks per instance)",
                        s->path, INITIAL_MAPSIZE >> 20);
        goto fail;
    }
    if (rc != 0) {
        err = open_err(s, rc, "cannot open", errstr, errlen);
        goto fail;
    }
    if (mdb_env_get_maxkeysize(s->env) < (int)DIRECT_KEY_MAX) {
        err = tm_seterr(errstr, errlen, TM_ESTORE,
                        "state store %s: liblmdb's key limit %d is below %u bytes", s->path,
                        mdb_env_get_maxkeysize(s->env), DIRECT_KEY_MAX);
        goto fail;
    }
    *wiped = w;
    *out = s;
    return TM_OK;
fail:
    tm_store_close(s);
    return err;
}

/* ------------------------------------------------------------ limits -- */

void tm_store_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int tm_store_check_fds(size_t n_stores, char *errstr, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return TM_OK;
    size_t need = n_stores * TM_STORE_FDS + FD_HEADROOM;
    if (need <= rl.rlim_cur)
        return TM_OK;
    return tm_seterr(errstr, errlen, TM_ESTORE,
                     "state store: %zu tasks need about %zu open files (%d per LMDB store, %d "
                     "for the rest), but the limit (RLIMIT_NOFILE, hard %llu) is %llu: raise it "
                     "(ulimit -n, the container's nofile limit) or own fewer tasks per instance",
                     n_stores, need, TM_STORE_FDS, FD_HEADROOM, (unsigned long long)rl.rlim_max,
                     (unsigned long long)rl.rlim_cur);
}

/* ------------------------------------------------------------- calls -- */

/* A clean close flushes when commits do not: a graceful restart followed by
 * a machine crash then still finds the store current. */
void tm_store_close(tm_store *s)
{
    if (!s)
        return;
    if (s->env) {
        if (!s->sync && !s->broken)
            (void)mdb_env_sync(s->env, 1);
        mdb_env_close(s->env);
    }
    free(s->path);
    free(s);
}

/* Cached: read at open, updated by apply and clear after their commit. */
int64_t tm_store_applied_offset(const tm_store *s)
{
    assert(s);
    return s->applied;
}

typedef struct apply_arg {
    const tm_kv_change *changes;
    size_t n;
    int64_t offset;
} apply_arg;

static int apply_body(tm_store *s, MDB_txn *txn, void *arg)
{
    const apply_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        int rc = put_change(s, txn, &a->changes[i]);
        if (rc != 0)
            return rc;
    }
    return write_offset(s, txn, a->offset);
}

/* The changes and their offset in one transaction: after a crash the store
 * holds either both or neither, so replay from the offset is exact. */
int tm_store_apply(tm_store *s, const tm_kv_change *changes, size_t n, int64_t applied_offset,
                   char *errstr, size_t errlen)
{
    assert(s && (changes || n == 0) && applied_offset >= 0);
    int err = check_usable(s, errstr, errlen);
    if (err < 0)
        return err;
    apply_arg a = {.changes = changes, .n = n, .offset = applied_offset};
    int rc = write_txn(s, apply_body, &a);
    if (rc != 0)
        return store_err(s, rc, "apply", errstr, errlen);
    s->applied = applied_offset;
    return TM_OK;
}

typedef int (*scan_fn)(void *ctx, const void *key, size_t key_len, const void *value,
                       size_t value_len);

/* Walks the cursor; *stop gets fn's first non-zero result. Returns 0 or an
 * LMDB code. */
static int scan_cursor(MDB_cursor *cur, scan_fn fn, void *ctx, int *stop)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        MDB_val key, value;
        rc = decode_record(&k, &v, &key, &value);
        if (rc != 0)
            return rc;
        *stop = fn(ctx, key.mv_data, key.mv_size, value.mv_data, value.mv_size);
        if (*stop != 0)
            return 0;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Restore reads the whole mirror once; one read transaction gives it a
 * consistent snapshot and ends before the call returns. */
int tm_store_scan(tm_store *s, scan_fn fn, void *ctx, char *errstr, size_t errlen)
{
    assert(s && fn);
    int err = check_usable(s, errstr, errlen);
    if (err < 0)
        return err;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return store_err(s, rc, "scan", errstr, errlen);
    int stop = 0;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, s->kv, &cur);
    if (rc == 0) {
        rc = scan_cursor(cur, fn, ctx, &stop);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != 0)
        return store_err(s, rc, "scan", errstr, errlen);
    return stop;
}

/* From the last committed meta page, without touching the disk. */
uint64_t tm_store_bytes(const tm_store *s)
{
    assert(s);
    MDB_envinfo info;
    if (s->broken || mdb_env_info(s->env, &info) != 0)
        return 0;
    return ((uint64_t)info.me_last_pgno + 1) * s->psize;
}

static int clear_body(tm_store *s, MDB_txn *txn, void *arg)
{
    (void)arg;
    int rc = mdb_drop(txn, s->kv, 0);
    return rc != 0 ? rc : write_offset(s, txn, 0);
}

/* Empties the mirror and its offset together, so that a restore from the
 * changelog's start follows. */
int tm_store_clear(tm_store *s, char *errstr, size_t errlen)
{
    assert(s);
    int err = check_usable(s, errstr, errlen);
    if (err < 0)
        return err;
    int rc = write_txn(s, clear_body, NULL);
    if (rc != 0)
        return store_err(s, rc, "clear", errstr, errlen);
    s->applied = 0;
    return TM_OK;
}

/* ------------------------------------------------------------ removal -- */

/* Removes one task directory: its store's files, then the directory (which
 * fails, naming it, if it holds anything else). Returns 0 or an errno. */
static int remove_task_dir(const char *path)
{
    tm_buf b = {0};
    int err = 0;
    for (size_t i = 0; i < N_STORE_FILES && err == 0; i++) {
        tm_buf_reset(&b);
        tm_buf_printf(&b, "%s/%s", path, store_files[i]);
        if (unlink(b.data) != 0 && errno != ENOENT)
            err = errno;
    }
    tm_buf_free(&b);
    if (err == 0 && rmdir(path) != 0 && errno != ENOENT)
        err = errno;
    return err;
}

int tm_store_remove_all(const char *dir, const char *app_id, size_t *removed, char *errstr,
                        size_t errlen)
{
    *removed = 0;
    tm_buf app = {0}, task = {0};
    tm_buf_printf(&app, "%s/%s", dir, app_id);
    int rc = TM_OK;
    DIR *d = opendir(app.data);
    if (!d) {
        if (errno != ENOENT)
            rc = tm_seterr(errstr, errlen, TM_EIO, "state directory %s: %s", app.data,
                           strerror(errno));
        goto out;
    }
    for (struct dirent *e = readdir(d); e && rc == TM_OK; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        tm_buf_reset(&task);
        tm_buf_printf(&task, "%s/%s", app.data, e->d_name);
        int err = remove_task_dir(task.data);
        if (err)
            rc =
                tm_seterr(errstr, errlen, TM_EIO, "cannot remove %s: %s", task.data, strerror(err));
        else
            (*removed)++;
    }
    closedir(d);
    if (rc == TM_OK && rmdir(app.data) != 0)
        rc = tm_seterr(errstr, errlen, TM_EIO, "cannot remove %s: %s", app.data, strerror(errno));
out:
    tm_buf_free(&app);
    tm_buf_free(&task);
    return rc;
}
