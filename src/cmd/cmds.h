/* cmds.h: the subcommands dispatched by main.c, one file each. */
#ifndef DD_CMDS_H
#define DD_CMDS_H
#include <stdio.h>
int cmd_serve(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_version_compare(int argc, char **argv);
int cmd_sbom(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_scan_worker(int argc, char **argv); /* hidden: started by the server only */
/* Who runs a subcommand, for the audit log: "cli:<unix user>" (main.c). */
const char *cli_actor(void);
/* Prints one line about the database at path (cmd_db.c); 0, or 1 when it cannot be opened. */
int db_print_summary(const char *path, FILE *f);
#endif
