/*
 * config_load.c: tm_config_load (config.h): loads a tm_config from a JSON
 * file, the environment and command-line overrides by running the loader's
 * phases; config_loader.h lists the files that do them.
 *
 * Invariants:
 * - Every option is one row of opts[] (config_options.c). Option names, environment
 *   names, defaults, bounds, the help text and the validation all derive
 *   from that row; no other code spells an option's rules.
 * - Loading runs in two phases. Gathering: each source (defaults, file,
 *   environment, overrides, in that order) only records which raw value it
 *   supplies for which option, a later source replacing an earlier one.
 *   Applying: each winning raw value is then parsed and checked exactly
 *   once, with the name of the source that supplied it in any error. So a
 *   bad value in the file that the environment overrides is never reported.
 * - Defaults are text parsed like an override, so a default can never
 *   escape the checks a user value gets.
 * - A returned config is complete and consistent: dependent defaults are
 *   filled in (dedup.ttl_ms, output.late_topic, output.dlq_topic), the
 *   window offset is normalised, and cross-option rules hold. Consumers
 *   never re-validate it.
 * - Every error message starts with "config" and names the key (or the
 *   environment variable, or the file) it is about.
 */
#include "config_loader.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "alloc.h"

int tm_config_load(tm_config **out, const char *path, char *const *envp,
                   const char *const *overrides, size_t n_overrides, char *errstr, size_t errlen)
{
    loader L = {.errstr = errstr, .errlen = errlen};
    cJSON *root = NULL;
    int rc = 0;
    L.cfg = tm_xcalloc(1, sizeof *L.cfg);
    size_t n_opts;
    config_options(&n_opts); /* for its length: one slot per row */
    L.slots = tm_xcalloc(n_opts, sizeof *L.slots);
    config_load_defaults(&L);
    if (path)
        rc = config_load_file(&L, path, &root);
    if (rc == 0 && envp)
        rc = config_load_env(&L, envp);
    if (rc == 0 && overrides)
        rc = config_load_overrides(&L, overrides, n_overrides);
    if (rc == 0)
        rc = config_apply_all(&L);
    if (rc == 0)
        rc = config_resolve(&L);
    cJSON_Delete(root);
    free(L.kafka_src);
    free(L.slots);
    if (rc != 0) {
        tm_config_free(L.cfg);
        return rc;
    }
    *out = L.cfg;
    return 0;
}
