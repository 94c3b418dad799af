/* dd.h: included first by every drydock source file. It pulls in the libc headers the code
 * uses, then banned.h, so a banned call fails to compile wherever it is written. */
#ifndef DD_H
#define DD_H
#define _GNU_SOURCE 1
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "limits.h"

#define DD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include "banned.h"
#endif
