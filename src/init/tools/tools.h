/* tsrun-init's tool modes (every mode but init; tools/modes.c lists them), outside the executor core. */
#ifndef TSRUN_INIT_TOOLS_H
#define TSRUN_INIT_TOOLS_H
#include "../init.h"

int mode_check_plan(void);
int mode_wait(const char *pidarg, const char *timeoutarg, int input);
int mode_bpf_devices(const char *dir);

#endif
