#include "cmd/cmd.h"

const struct cmd_def cmd_sets_table[] = {
    {0},
};
