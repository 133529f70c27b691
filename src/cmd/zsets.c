#include "cmd/cmd.h"

const struct cmd_def cmd_zsets_table[] = {
    {0},
};
