#include "tcp_ext_peer.c"
