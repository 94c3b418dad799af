/* sandboxInt.h: what the server (sandbox.c) and a sandboxed scan worker (sandbox_worker.c)
 * say to each other over the socket between them. Not for other modules.
 *
 * A worker is forked by the zygote (below), or started as
 * `drydock scan-worker KIND UID GID MEMORY CPU FILES` with its socket
 * as descriptor 3 (0, 1 and 2 are /dev/null, nothing else is open). It confines itself, then
 * waits for one task: a head, its text, and its descriptors (SCM_RIGHTS, in batches). It
 * answers with frames, each a type byte, a 64-bit length (host order: both ends are the same
 * program on the same machine) and that many bytes, and exits. The server treats every frame
 * as untrusted input: lengths are bounded, texts are checked, a layer is checked as it is
 * written into the cache. */
#ifndef DD_SANDBOX_INT_H
#define DD_SANDBOX_INT_H
#include <stdint.h>

#define SB_TASK_MAGIC 0x42534444u /* "DDSB" */
#define SB_SOCK_FD 3 /* the worker's socket */

enum sb_kind {
	SB_LAYER = 1,     /* read one layer (descriptor 0 of the task) into the cache's format */
	SB_INVENTORY = 2, /* merge layers (cache entries) and parse their package databases */
};

/* The task: text, then descriptors. SB_LAYER text: the digest the bytes must hash to, or
 * nothing (a layer read as it uploads: the upload hashes it). SB_INVENTORY text:
 * one line per layer in order, "DIGEST\tINDEX", INDEX naming which descriptor holds its entry
 * (an image naming a layer twice passes it once). */
struct sb_task_head {
	uint32_t magic, kind, nfds, text_len;
};

#define SB_MAX_TASK_TEXT (DD_MAX_LAYERS * (DD_MAX_DIGEST_BYTES + 16) + 64)
#define SB_FDS_PER_MSG 250 /* the kernel passes at most 253 descriptors in one message */

/* Frames, worker to server. */
enum sb_frame {
	SB_F_PROGRESS = 'P', /* no payload: after every SB_PROGRESS_BYTES of input, and every layer merged */
	SB_F_ERROR = 'E',    /* u32 error code (err.h), then the reason (at most SB_MAX_ERROR_TEXT bytes) */
	SB_F_LAYER = 'L',    /* the layer in the layer cache's format (layer_cache_encode) */
	SB_F_INVENTORY = 'I', /* the inventory as inventory_serialize writes it */
	SB_F_DAMAGED = 'R',  /* u32 index: the entry of that layer (of the task's lines) is not readable */
};
#define SB_FRAME_HEAD 9
#define SB_MAX_ERROR_TEXT 4096
#define SB_PROGRESS_BYTES (1u << 20)

/* Built with AddressSanitizer (the sanitizer test flavour): a worker has no address-space
 * limit (the sanitizer reserves terabytes of shadow memory), and its environment turns off the
 * sanitizer's SIGSEGV, SIGBUS and SIGFPE handlers, whose reports need files the filter forbids:
 * a crash ends the worker with the signal, as in the plain build. */
#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif
#endif

/* The zygote: `drydock scan-worker zygote UID GID LAYER_MEMORY INVENTORY_MEMORY CPU FILES`, its
 * control socket (SOCK_SEQPACKET) as descriptor 3. It warms up both kinds, confines itself as far
 * as a process that forks may be, and then forks one worker per request:
 *
 *   server -> zygote, on the control socket: a struct sb_fork, with two descriptors (SCM_RIGHTS):
 *     the worker's end of its task socket, and the zygote's end of a note socket (SOCK_SEQPACKET)
 *     that is this worker's alone;
 *   zygote -> server, on that note socket: SB_N_FORKED with the worker's pid and a pidfd of it
 *     (SCM_RIGHTS; opened by its parent before it could be reaped, so it names that process),
 *     or SB_N_FAILED with an errno; later SB_N_ENDED with its wait status, once it is reaped.
 *
 * The forked child confines itself the rest of the way (its own seccomp filter, without fork,
 * on top of the zygote's; its memory and CPU limits; no process) and then is a worker started
 * as above in every way, on that task socket. The zygote never reads a task: no child holds
 * anything of another's. The control socket closed (the server gone), it kills and reaps its
 * children and exits. */
#define SB_FORK_MAGIC 0x5a594444u /* "DDYZ" */
struct sb_fork {
	uint32_t magic, kind;
};
enum sb_note_what {
	SB_N_FORKED = 'P', /* value: the pid; a pidfd attached */
	SB_N_FAILED = 'F', /* value: errno */
	SB_N_ENDED = 'X',  /* value: the wait status */
};
struct sb_note {
	uint32_t what;
	int32_t value;
};

/* Exit codes beyond 0 (a result sent). */
#define SB_EXIT_FAILED 1   /* an SB_F_ERROR frame was sent */
#define SB_EXIT_NOMEM 3    /* the memory limit was reached (an SB_F_ERROR frame says so) */
#define SB_EXIT_CONFINE 4  /* it could not confine itself (an SB_F_ERROR frame says why) */
#define SB_EXIT_PROTOCOL 5 /* no task, or a malformed one */
#define SB_EXIT_ZYGOTE 6   /* the zygote could not confine itself: the server starts workers itself */

#endif
