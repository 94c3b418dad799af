/* sandbox.h: reading layers and parsing package databases outside the server process.
 *
 * Every byte the scanner parses comes from whoever can push. So `drydock serve` reads each
 * layer, and parses the package databases of each image, in a worker process of its own: the
 * same binary started again as `drydock scan-worker` (never a fork of the threaded server; a
 * fork of a zygote started so, which forks a fresh worker per task), which, before it sees any
 * input, sets its resource limits (address space, CPU time, open
 * files, no file writes), drops to an unprivileged user when started by root, sets
 * no_new_privs and installs a seccomp filter that allows reading and writing the descriptors
 * it was given, memory management and exiting: no open, no socket, no exec. A worker does one
 * task and exits; a crash, a limit or a hang (no progress for DD_SANDBOX_STALL_SECONDS) fails
 * that one layer or image with a reason, never the server. The server, not the worker, writes
 * the layer cache, from the worker's answer, which it checks as it writes. docs/security.md
 * says what a worker may do. */
#ifndef DD_SANDBOX_H
#define DD_SANDBOX_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct image;
struct inventory;
struct sandbox;

/* Starts the sandbox (and its spare workers): *out owned, sandbox_free it after every call
 * below has returned. 0, or DD_E_INTERNAL with *why (static text). */
int sandbox_new(struct sandbox **out, const char **why);
void sandbox_free(struct sandbox *sb);
/* The layers read for the layer cache alone (sandbox_analyze_layer, the streams) are given up
 * within a fraction of a second, their workers killed: a scanner stopping does not wait for a
 * slow layer nobody needs (an image scan's own reads go on to their end). */
void sandbox_stop_background(struct sandbox *sb);

/* Reads blob `digest` of bs as a layer (its bytes must hash to digest) in a worker, into the
 * layer cache under cache_dir. Nothing when the cache holds it already, and no worker for a
 * blob that starts with '{' (an image config). 0, or an error code
 * with *why (arena text): the layer's own (DD_E_LAYER_INVALID, DD_E_SCAN_LIMIT,
 * DD_E_DIGEST_INVALID) or DD_E_SANDBOX when the worker crashed, hit a limit or hung. */
struct blobstore;
int sandbox_analyze_layer(struct sandbox *sb, struct arena *a, struct blobstore *bs, const char *digest,
			  const char *cache_dir, const char **why);

/* A layer read while it uploads: its bytes are handed to a worker as they arrive (a pipe).
 * begin: NULL when no worker can be started. feed: n more bytes of the file fd from offset
 * off (the staging file; spliced, not copied through the server): 0, or -1 when the worker
 * stopped taking them (not a layer, a failure): stop feeding. end: exactly once; with a
 * digest and cache_dir, the input is complete and the result goes into the cache under
 * digest (0 or an error as for sandbox_analyze_layer); with NULL the worker is killed. */
struct sandbox_run;
struct sandbox_run *sandbox_stream_begin(struct sandbox *sb);
int sandbox_stream_feed(struct sandbox_run *r, int fd, uint64_t off, uint64_t n);
int sandbox_stream_end(struct sandbox_run *r, struct arena *a, const char *digest, const char *cache_dir,
		       const char **why);

/* image_inventory through workers, for an image whose layers all have digests (the store's):
 * each layer missing from the cache under cache_dir is read by a layer worker of its own (into
 * the cache, or a memory file when the cache cannot be written), then one worker merges the
 * layers' entries and parses their package databases. inv's strings are arena memory, the
 * fields inventory_serialize keeps (those matching and the stored report use). 0, or an error
 * code with *why. */
int sandbox_image_inventory(struct sandbox *sb, struct arena *a, const struct image *img, const char *cache_dir,
			    struct inventory *inv, const char **why);

/* What the workers did since sandbox_new: tasks given to layer readers and to package database
 * readers, and images of one layer whose inventory came with their layer's reading (a layer
 * reader also sends its layer's inventory as if it were an image of its own, kept a while by
 * digest: such an image needs no second worker). */
struct sandbox_counts {
	uint64_t layer_tasks, inventory_tasks, inventories_spared;
};
void sandbox_counts(struct sandbox *sb, struct sandbox_counts *out);

/* The worker's side (sandbox_worker.c), `drydock scan-worker`: never returns. */
int sandbox_worker_main(int argc, char **argv);

#endif
