/*
 * demo.c: see demo.h. Three parts share nothing but the cluster: the
 * generator thread produces with its own plain producer, the runner
 * consumes and commits on this thread, and the observer prints what each
 * commit made visible (what a read_committed consumer would see).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "demo.h"

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "demo_cluster.h"
#include "err.h"
#include "generator.h"
#include "log.h"
#include "runner.h"
#include "stop_flag.h"

/* The sample pipeline: GMV per merchant, 10 s tumbling windows, 2 s of
 * disorder, 5 s allowed lateness, dedup on, clocks clamped. It
 * repartitions (repartition.mode auto with a pointer group_by, SEMANTICS
 * 10): the generator puts a merchant's records in partition merchant mod
 * partitions, not where Kafka's partitioner would, so events cross the
 * repartition topic to the window task of their merchant, whose partition
 * the printed results carry. */
static const char DEMO_CONFIG[] =
    "{\"application_id\":\"demo\","
    "\"input\":{\"topics\":[\"orders\"],"
    "\"event_time\":{\"pointer\":\"/event_time\",\"format\":\"auto\"},"
    "\"group_by\":\"/merchant\",\"event_id\":\"/order_id\"},"
    "\"watermark\":{\"max_out_of_orderness_ms\":2000,\"idle_timeout_ms\":5000},"
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":10000},\"allowed_lateness_ms\":5000,"
    "\"aggregations\":[{\"name\":\"orders\",\"op\":\"count\"},"
    "{\"name\":\"gmv\",\"op\":\"sum\",\"pointer\":\"/amount\"},"
    "{\"name\":\"avg_amount\",\"op\":\"avg\",\"pointer\":\"/amount\"},"
    "{\"name\":\"max_amount\",\"op\":\"max\",\"pointer\":\"/amount\"}],"
    "\"dedup\":{\"enabled\":true},"
    "\"clock_skew\":{\"max_ahead_ms\":60000,\"action\":\"clamp\"},"
    "\"output\":{\"topic\":\"gmv\",\"late_topic\":\"orders-late\",\"dlq_topic\":\"orders-dlq\"},"
    "\"commit_interval_ms\":500,\"metrics\":{\"port\":0},\"log\":{\"level\":\"warn\"}}";

typedef struct generator_thread {
    tm_demo_loader *loader;
    const tm_demo_options *opt;
    tm_stop_flag *stop;
    unsigned long produced;
    char error[256];
} generator_thread;

/* Produces opt->rate events a second in 10 ms steps, for opt->seconds,
 * then asks the runner to stop. */
static void *generate(void *arg)
{
    generator_thread *g = arg;
    tm_generator *gen = tm_generator_new((uint64_t)tm_wall_clock_ms(), g->opt->partitions, 12);
    int64_t start = tm_wall_clock_ms();
    double owed = 0;
    while (!*g->stop) {
        int64_t now = tm_wall_clock_ms();
        if (g->opt->seconds > 0 && now - start >= (int64_t)g->opt->seconds * 1000)
            break;
        owed += g->opt->rate / 100.0;
        for (; owed >= 1; owed--) {
            tm_generated r;
            tm_generator_next(gen, now, &r);
            if (tm_demo_loader_send(g->loader, "orders", r.partition, r.key, r.key_len, r.payload,
                                    r.payload_len, now, g->error, sizeof g->error) < 0)
                goto out;
            g->produced++;
        }
        tm_sleep_ms(10);
    }
out:
    /* Give the last events time to be consumed and their windows time to
     * be committed before stopping. */
    tm_sleep_ms(2000);
    *g->stop = 1;
    tm_generator_free(gen);
    return NULL;
}

typedef struct printer {
    FILE *out;
    unsigned long results;
} printer;

static void print_result(void *ctx, int32_t partition, const char *key, size_t key_len,
                         const char *value, size_t value_len)
{
    printer *p = ctx;
    p->results++;
    if (value)
        fprintf(p->out, "p%d %.*s %.*s\n", (int)partition, (int)key_len, key, (int)value_len,
                value);
    else
        fprintf(p->out, "p%d %.*s retracted\n", (int)partition, (int)key_len, key);
    fflush(p->out);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Loads the sample pipeline with the cluster's address and a fresh state
 * directory. */
static int demo_config(tm_config **cfg, const char *bootstrap, const char *dir, char *errstr,
                       size_t errlen)
{
    char path[512], set_bootstrap[512], set_state[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(DEMO_CONFIG, f) < 0 || fclose(f) != 0)
        return tm_seterr(errstr, errlen, TM_EIO, "cannot write %s", path);
    snprintf(set_bootstrap, sizeof set_bootstrap, "kafka.bootstrap.servers=%s", bootstrap);
    snprintf(set_state, sizeof set_state, "state.dir=%s/state", dir);
    const char *const sets[] = {set_bootstrap, set_state};
    return tm_config_load(cfg, path, NULL, sets, 2, errstr, errlen);
}

static int create_topics(tm_demo_cluster *c, int partitions, char *errstr, size_t errlen)
{
    /* The changelog topic is not here: the service creates it. */
    static const char *const topics[] = {"orders", "gmv", "orders-late", "orders-dlq"};
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++) {
        int rc = tm_demo_cluster_create_topic(c, topics[i], partitions, errstr, errlen);
        if (rc < 0)
            return rc;
    }
    return TM_OK;
}

int tm_demo_run(const tm_demo_options *opt, tm_stop_flag *stop, FILE *out, char *errstr,
                size_t errlen)
{
    char dir[] = "/tmp/tidemark-demo-XXXXXX";
    if (!mkdtemp(dir))
        return tm_seterr(errstr, errlen, TM_EIO, "cannot create a temporary directory");
    tm_demo_cluster *cluster = NULL;
    tm_demo_loader *loader = NULL;
    tm_config *cfg = NULL;
    tm_runner *runner = NULL;
    printer p = {out, 0};
    int rc = tm_demo_cluster_start(&cluster, 1, errstr, errlen);
    if (rc == TM_OK)
        rc = create_topics(cluster, opt->partitions, errstr, errlen);
    if (rc == TM_OK)
        rc = demo_config(&cfg, tm_demo_cluster_bootstrap(cluster), dir, errstr, errlen);
    if (rc == TM_OK)
        rc = tm_demo_loader_open(&loader, tm_demo_cluster_bootstrap(cluster), errstr, errlen);
    if (rc == TM_OK) {
        tm_log_parse_level(cfg->log_level, &tm_log_threshold);
        const tm_runner_options ro = {
            .instance_id = "0", .observer = print_result, .observer_ctx = &p};
        rc = tm_runner_open(&runner, cfg, &ro, errstr, errlen);
    }
    if (rc == TM_OK) {
        fprintf(out,
                "tidemark demo: cluster at %s; %d order events/s for %d s into 'orders' "
                "(%d partitions); window results as they commit:\n",
                tm_demo_cluster_bootstrap(cluster), opt->rate, opt->seconds, opt->partitions);
        generator_thread g = {loader, opt, stop, 0, ""};
        pthread_t th;
        pthread_create(&th, NULL, generate, &g);
        rc = tm_runner_run(runner, stop, errstr, errlen);
        *stop = 1;
        pthread_join(th, NULL);
        if (rc == TM_OK && g.error[0])
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "generator: %s", g.error);
        fprintf(out, "tidemark demo: %lu events produced, %lu window results committed\n",
                g.produced, p.results);
    }
    tm_runner_close(runner);
    tm_demo_loader_close(loader);
    tm_config_free(cfg);
    tm_demo_cluster_stop(cluster);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
