/* The AES page hash, soft build (see csum-aes-impl.h). */
#define CSUM_AES_NAME	soft
#define CSUM_AES_W	0
#include "csum-aes-impl.h"
