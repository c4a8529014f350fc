#include "tcp_established.c"
