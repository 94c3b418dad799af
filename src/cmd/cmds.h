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
int cmd_query(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
/* The text of `drydock NAME --help`, one per command (each command's file). */
extern const char *const cmd_serve_usage, *const cmd_version_usage, *const cmd_version_compare_usage,
	*const cmd_sbom_usage, *const cmd_db_usage, *const cmd_scan_usage, *const cmd_user_usage, *const cmd_gc_usage,
	*const cmd_query_usage, *const cmd_migrate_usage;
int cmd_scan_worker(int argc, char **argv); /* hidden: started by the server only */
/* Who runs a subcommand, for the audit log: "cli:<unix user>" (main.c). */
const char *cli_actor(void);
/* How a command line printed for the user names this binary: "drydock" when PATH finds this
 * very file under that name, else its absolute path (cli.c). Borrowed, static. */
const char *cli_self(void);
/* s quoted for a POSIX shell when it needs it ('...'), else s itself; slot 0 or 1 picks one of
 * two static buffers, so that two quoted words fit in one printf (cli.c). */
const char *cli_quote(const char *s, int slot);
/* Run as root on a directory another account owns (a service's data directory), become that
 * account, so that what the command creates there stays usable by it; a no-op otherwise.
 * 0, or 1 after a message naming cmd (cli.c). */
int cli_become_owner(const char *dir, const char *cmd);
/* The data directory's metadata path into path (cap bytes), after cli_become_owner: 0, or 1
 * after a message naming cmd when dir holds no registry data (cli.c). */
int cli_data_meta(const char *dir, const char *cmd, char *path, size_t cap);
/* Prints one line about the database at path (cmd_db.c); 0, or 1 when it cannot be opened. */
int db_print_summary(const char *path, FILE *f);
#endif
