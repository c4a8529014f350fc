/* The AES page hash, vaes256 build (see csum-aes-impl.h). */
#define CSUM_AES_NAME	vaes256
#define CSUM_AES_W	256
#include "csum-aes-impl.h"
