#ifndef TESTBLOB_H
#define TESTBLOB_H

#include <stdint.h>

#include "compel/rpc.h"

enum {
	TB_CMD_FIRST = COMPEL_CMD_USER,
	TB_CMD_ADD = TB_CMD_FIRST,
	TB_CMD_GETPID,
	TB_CMD_FDS,
	TB_CMD_CRASH,
	TB_CMD_LEAK,
	TB_CMD_STRING = 64,
};

struct testblob_args {
	int64_t x, y, result;
	char str[64];
};

#endif
