/*
 * config_help.c: tidemark --help: the option reference, one line per row of
 * the option table, and how the sources combine.
 */
#include "config_loader.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static void type_text(const opt *o, char *buf, size_t n)
{
    switch (o->type) {
    case T_INT:
        if (o->min == INT64_MIN)
            snprintf(buf, n, "int64");
        else if (o->max != INT64_MAX)
            snprintf(buf, n, "int64 %" PRId64 "..%" PRId64, o->min, o->max);
        else if (o->min == 1)
            snprintf(buf, n, "int64 > 0");
        else
            snprintf(buf, n, "int64 >= %" PRId64, o->min);
        return;
    case T_ENUM:
        config_join_choices(o->choices, "|", buf, n);
        return;
    case T_STRING:
        if (o->choices)
            config_join_choices(o->choices, "|", buf, n);
        else
            snprintf(buf, n, "%s", o->check == config_check_pointer ? "JSON pointer" : "string");
        return;
    case T_FRACTION:
        snprintf(buf, n, "number in (0, 1]");
        return;
    case T_BOOL:
        snprintf(buf, n, "bool");
        return;
    case T_LIST:
        snprintf(buf, n, "list of strings");
        return;
    case T_GROUP_BY:
        snprintf(buf, n, "pointer|list|$record_key");
        return;
    case T_AGGS:
        snprintf(buf, n, "list of objects");
        return;
    case T_KAFKA:
        snprintf(buf, n, "string|number|bool");
        return;
    }
}

void tm_config_print_help(void *file)
{
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    FILE *f = file;
    char type[96];
    fprintf(f, "%-34s %-29s %-30s %s\n", "OPTION", "TYPE", "DEFAULT", "DESCRIPTION");
    for (size_t i = 0; i < n_opts; i++) {
        const opt *o = &opts[i];
        const char *def = o->def                    ? o->def
                          : o->def_help             ? o->def_help
                          : (o->flags & F_REQUIRED) ? "(required)"
                                                    : "(none)";
        type_text(o, type, sizeof type);
        fprintf(f, "%-34s %-29s %-30s %s%s\n", o->name, type, def, o->help,
                o->flags & F_STATE ? " [state]" : "");
    }
    fputs("\nSources, later wins: the JSON file (nested objects, e.g. "
          "{\"window\":{\"size_ms\":60000}}),\n"
          "then environment variables TIDEMARK_<OPTION> (upper case, '.' -> '_', e.g.\n"
          "TIDEMARK_WINDOW_SIZE_MS; TIDEMARK_KAFKA_BOOTSTRAP_SERVERS -> "
          "kafka.bootstrap.servers),\n"
          "then --set key=value overrides. Lists from the environment or overrides are\n"
          "comma-separated, or JSON text starting with '['. Unknown keys and unknown\n"
          "TIDEMARK_* variables are errors. Every integer option, from any source, is\n"
          "between -2^53 and 2^53 (9007199254740992).\n"
          "\n"
          "[state]: the key shapes the state an application keeps; a restart with another\n"
          "value refuses to start (exit 2) rather than restore state of another shape:\n"
          "use a new application_id, or delete the state with tidemark reset. Every other\n"
          "key may change between restarts.\n",
          f);
}
