#include "cmd/cmd.h"

const struct cmd_def cmd_sort_table[] = {
    {0},
};
