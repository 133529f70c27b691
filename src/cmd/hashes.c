#include "cmd/cmd.h"

const struct cmd_def cmd_hashes_table[] = {
    {0},
};
