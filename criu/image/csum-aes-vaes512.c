/* The AES page hash, vaes512 build (see csum-aes-impl.h). */
#define CSUM_AES_NAME	vaes512
#define CSUM_AES_W	512
#include "csum-aes-impl.h"
