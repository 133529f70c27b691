/* counterd: named counters served by the corekv runtime.
 *   counterd [--port N] [--shards N] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter_cmds.h"

static struct rt *the_rt;
static void on_signal(int sig)
{
    (void)sig;
    if (the_rt)
        rt_stop(the_rt);
}

int main(int argc, char **argv)
{
    struct rt_options o;
    rt_options_default(&o);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            o.port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shards"))
            o.nshards = (unsigned)atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: counterd [--port N] [--shards N]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char err[256];
    the_rt = rt_create(&o, &counter_commands, err, sizeof err);
    if (!the_rt) {
        fprintf(stderr, "counterd: %s\n", err);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int rc = rt_run(the_rt);
    rt_destroy(the_rt);
    return rc ? 1 : 0;
}
