#include "cmd/cmd.h"

const struct cmd_def cmd_lists_table[] = {
    {0},
};
