/* Helpers shared by the subcommands (src/cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hb_cli_usage(const char *usage)
{
    if (hb_world_rank() == 0) fputs(usage, stdout);
}

hb_status hb_cli_double(const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v)) {
        return HB_ERR0(HB_EARG, "option %s: expected a number, found \"%s\"", opt, text);
    }
    *out = v;
    return HB_OK;
}

hb_status hb_cli_long(const char *opt, const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno) {
        return HB_ERR0(HB_EARG, "option %s: expected an integer, found \"%s\"", opt, text);
    }
    *out = v;
    return HB_OK;
}

int hb_cli_is_override(const char *arg)
{
    const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');
    return eq && dot && dot < eq && arg[0] != '-';
}
