/* cmd_scan_worker.c: `drydock scan-worker`, hidden: the sandboxed process that reads one layer
 * or parses one image's package databases for `drydock serve` (src/scan/sandbox.h). It is
 * started only by the server, with its socket as descriptor 3. */
#include "common/dd.h"
#include "cmds.h"
#include "scan/sandbox.h"

int cmd_scan_worker(int argc, char **argv) { return sandbox_worker_main(argc, argv); }
