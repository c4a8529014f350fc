#include "tcp_close.c"
