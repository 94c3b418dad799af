/* cmd_version.c: `drydock version`. */
#include "common/dd.h"
#include "cmds.h"

#ifndef DD_VERSION
#define DD_VERSION "0.1.0-dev"
#endif

const char *const cmd_version_usage = "usage: drydock version\n  prints drydock's version\n";

int cmd_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("drydock %s\n", DD_VERSION);
	return 0;
}
