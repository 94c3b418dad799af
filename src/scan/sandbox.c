/* sandbox.c: the server's side of the sandboxed scan workers (sandbox.h; the worker is
 * sandbox_worker.c, the words between them sandboxInt.h).
 *
 * Workers come from a zygote: the drydock binary itself, started by posix_spawn of
 * /proc/self/exe (the server is threaded, so it never forks a copy of itself: a fork would copy
 * locks held by other threads, and the token key in memory), which warms up, confines itself as
 * far as a process that forks may be, and forks one fresh worker per task on request. That
 * spares each task the program's start (its libraries loaded and relocated, about 35 ms of
 * CPU). The server holds a pidfd of each forked worker (its own end: readable once it ended,
 * and a signal that cannot reach another process); the zygote reaps it and notes its wait
 * status. A zygote that dies is started again; one that cannot start (no pidfds, or it cannot
 * confine itself) leaves the server spawning each worker itself, as it did before there was a
 * zygote. One worker of each kind is asked for ahead of need (DD_SANDBOX_SPARES). Each worker
 * runs one task and ends: the next task always gets a fresh one.
 *
 * What a worker answers is read as untrusted input, within bounds, under a progress timeout
 * (DD_SANDBOX_STALL_SECONDS): a worker that neither takes input nor reports progress for that
 * long is killed. Whatever way a worker ends, the calling thread gets a result or an error
 * code and a reason, and the worker is reaped. */
#include "common/dd.h"
#include "scan/sandbox.h"
#include "scan/sandboxInt.h"
#include "store/blobstore.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/log.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/layer_cache.h"
#include "inventory/inventory.h"
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

#define SB_KINDS 3 /* indexed by enum sb_kind */
#define SB_PIPE_BYTES (1 << 20)

struct proc {
	pid_t pid;  /* -1: none; 0: asked of the zygote, its answer not read yet */
	int sock;   /* our end of its socket */
	int kind;
	int pidfd;  /* a worker the zygote forked: signals it, readable once it ended; else -1 */
	int note;   /* and the zygote's notes about it (its pid, then its wait status); else -1 */
	unsigned gen; /* the zygote asked for it (struct zygote's gen) */
};

/* The fork server (sandboxInt.h). */
struct zygote {
	pthread_mutex_t mu; /* held while a request is sent, and while it is replaced */
	pid_t pid;          /* -1: none */
	int ctl;            /* its control socket */
	unsigned gen;       /* replacements so far: a thread that saw it fail names the one it saw */
	int answered;       /* it forked a worker: it started (else it could not, and is not restarted) */
	int off;            /* none: workers are spawned one by one */
};

/* The inventories of layers read lately, each as if it were an image of its own (sandboxInt.h,
 * SB_F_INVENTORY after SB_F_LAYER): an image of one layer read so needs no second worker. A
 * ring, oldest out first, bounded in entries and bytes; kept as the worker sent them (untrusted:
 * checked when used). */
#define SOLO_SLOTS 512
#define SOLO_BYTES (16u << 20)
#define SOLO_MAX_ONE (1u << 20)

struct solo {
	char *digest, *text;
	size_t len;
};

struct solo_ring {
	pthread_mutex_t mu;
	struct solo v[SOLO_SLOTS];
	size_t next, bytes;
};

struct sandbox {
	pthread_mutex_t mu;
	struct solo_ring solo;
	struct proc spare[SB_KINDS];
	int closing;
	struct zygote zy;
	char **env;          /* a worker's environment: the limits an operator lowered, sanitizer options */
	char uid[24], gid[24]; /* "-": not started as root, no user to become */
	uint64_t memory[SB_KINDS], cpu, files;
	int64_t stall_ms;
	int stopping; /* (atomic) sandbox_stop_background: the layers read for the cache are given up */
	uint64_t tasks[SB_KINDS], spared; /* (atomic) tasks given to workers; images whose layer's inventory served */
};

struct sandbox_run {
	struct sandbox *sb;
	struct proc p;
	int in;         /* a stream's pipe (its write end), else -1 */
	int background; /* a layer read for the layer cache alone: given up when the scanner stops */
	int gave_up;    /* killed for that (stall_kill), not for a stall */
	int64_t last;   /* when the worker last made progress (ms, monotonic) */
	int stalled;    /* killed here for making none */
	int dead;       /* a stream's worker stopped taking input */
	int cut;        /* its answer ended (or stalled) before a frame was whole */
	int have_head;  /* a frame head read while feeding */
	unsigned char head[SB_FRAME_HEAD];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *role(int kind) { return kind == SB_LAYER ? "the layer reader" : "the package database reader"; }

/* ---- starting and ending workers ---- */

#define PROC_NONE ((struct proc){.pid = -1, .sock = -1, .pidfd = -1, .note = -1})

/* Starts /proc/self/exe with argv, its end of a new socket of type as descriptor 3: 0 with
 * *pid and our end in *sock, or -1 with errno. */
static int spawn_exe(struct sandbox *sb, char **argv, int type, pid_t *pid, int *sock)
{
	*pid = -1;
	*sock = -1;
	int sv[2];
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	/* its socket as descriptor 3, /dev/null as 0-2, nothing else (whatever another thread
	 * opened without O_CLOEXEC included) */
	posix_spawn_file_actions_adddup2(&fa, sv[1], SB_SOCK_FD);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, SB_SOCK_FD + 1);
	/* no blocked signal, every disposition the default (the server ignores SIGPIPE and blocks
	 * SIGTERM), and a process group of its own (a terminal's ^C is the server's to handle). Not
	 * a session of its own: with the scheduler's autogroups (on in Debian's kernel) a session is
	 * a scheduling group of its own, and on a busy machine a worker in a new session took 2-3
	 * times the wall time, for the same CPU time, to read a layer as one in the server's */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	int rc = posix_spawn(pid, "/proc/self/exe", &fa, &at, argv, sb->env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		*pid = -1;
		errno = rc;
		return -1;
	}
	*sock = sv[0];
	return 0;
}

/* A worker started on its own (no zygote). */
static int spawn(struct sandbox *sb, int kind, struct proc *p)
{
	*p = PROC_NONE;
	p->kind = kind;
	char mem[24], cpu[24], files[24], name[] = "drydock", cmd[] = "scan-worker", layer[] = "layer",
					       inventory[] = "inventory";
	snprintf(mem, sizeof(mem), "%" PRIu64, sb->memory[kind]);
	snprintf(cpu, sizeof(cpu), "%" PRIu64, sb->cpu);
	snprintf(files, sizeof(files), "%" PRIu64, sb->files);
	char *argv[] = {name, cmd, kind == SB_LAYER ? layer : inventory, sb->uid, sb->gid, mem, cpu, files, NULL};
	return spawn_exe(sb, argv, SOCK_STREAM, &p->pid, &p->sock);
}

/* Starts the zygote (sb->zy.mu held): 0, or -1 with errno. */
static int zygote_start(struct sandbox *sb)
{
	struct zygote *z = &sb->zy;
	char lmem[24], imem[24], cpu[24], files[24], name[] = "drydock", cmd[] = "scan-worker", zygote[] = "zygote";
	snprintf(lmem, sizeof(lmem), "%" PRIu64, sb->memory[SB_LAYER]);
	snprintf(imem, sizeof(imem), "%" PRIu64, sb->memory[SB_INVENTORY]);
	snprintf(cpu, sizeof(cpu), "%" PRIu64, sb->cpu);
	snprintf(files, sizeof(files), "%" PRIu64, sb->files);
	char *argv[] = {name, cmd, zygote, sb->uid, sb->gid, lmem, imem, cpu, files, NULL};
	z->answered = 0;
	return spawn_exe(sb, argv, SOCK_SEQPACKET, &z->pid, &z->ctl);
}

/* Ends the zygote (sb->zy.mu held): its control socket closed, it kills and reaps its
 * children, then exits; killed when it does not within 5 s. Reaped here. */
static void zygote_stop(struct sandbox *sb)
{
	struct zygote *z = &sb->zy;
	if (z->ctl >= 0)
		close(z->ctl);
	z->ctl = -1;
	if (z->pid > 0) {
		int64_t until = now_ms() + 5000;
		pid_t got;
		while ((got = waitpid(z->pid, NULL, WNOHANG)) == 0 && now_ms() < until) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
		if (got == 0) {
			kill(z->pid, SIGKILL); /* not reaped yet: still this process's child */
			while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	z->pid = -1;
}

/* A zygote that failed (gen, as the caller saw it): replaced once it had forked a worker; one
 * that never did could not start (a kernel without pidfds, or it could not confine itself), and
 * workers are spawned one by one from then on (said once). */
static void zygote_lost(struct sandbox *sb, unsigned gen)
{
	struct zygote *z = &sb->zy;
	pthread_mutex_lock(&z->mu);
	if (gen == z->gen && !z->off) {
		int answered = z->answered;
		zygote_stop(sb);
		z->gen++;
		if (!answered || zygote_start(sb)) {
			z->off = 1;
			log_warn("the scan workers' fork server could not be started: each worker is started as a program "
				 "of its own (about 40 ms of CPU more per task)");
		} else
			log_warn("the scan workers' fork server ended: started again");
	}
	pthread_mutex_unlock(&z->mu);
}

/* Asks the zygote for a worker of kind: 0 with p pending (pid 0: answer() reads its pid), or
 * -1 when there is no zygote (workers are spawned). */
static int ask(struct sandbox *sb, int kind, struct proc *p)
{
	struct zygote *z = &sb->zy;
	*p = PROC_NONE;
	p->kind = kind;
	for (int attempt = 0; attempt < 2; attempt++) {
		int sv[2], nv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -1;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, nv)) {
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		struct sb_fork req = {.magic = SB_FORK_MAGIC, .kind = (uint32_t)kind};
		int fds[2] = {sv[1], nv[1]};
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(fds))];
		} ctl;
		struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(c), fds, sizeof(fds));
		pthread_mutex_lock(&z->mu);
		int off = z->off;
		unsigned gen = z->gen;
		ssize_t k = -1;
		while (!off && (k = sendmsg(z->ctl, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
			;
		pthread_mutex_unlock(&z->mu);
		close(sv[1]);
		close(nv[1]);
		if (k == (ssize_t)sizeof(req)) {
			p->gen = gen;
			p->pid = 0;
			p->sock = sv[0];
			p->note = nv[0];
			return 0;
		}
		close(sv[0]);
		close(nv[0]);
		if (off)
			return -1;
		zygote_lost(sb, gen); /* it is gone: once more with a new one */
	}
	return -1;
}

/* The zygote's answer to ask(): 0 with p->pid and p->pidfd, or -1 (p discarded) when it failed
 * or is gone. */
static int answer(struct sandbox *sb, struct proc *p)
{
	struct sb_note n;
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = &n, .iov_len = sizeof(n)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
	struct pollfd pf = {.fd = p->note, .events = POLLIN};
	unsigned gen = p->gen; /* the zygote asked, which may have been replaced since */
	ssize_t k = -1;
	int ready;
	while ((ready = poll(&pf, 1, sb->stall_ms > INT_MAX ? INT_MAX : (int)sb->stall_ms)) < 0 && errno == EINTR)
		;
	if (ready > 0)
		while ((k = recvmsg(p->note, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && errno == EINTR)
			;
	int pidfd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); k > 0 && c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
			if (pidfd >= 0)
				close(pidfd);
			memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
		}
	if (k == (ssize_t)sizeof(n) && n.what == SB_N_FORKED && n.value > 0 && pidfd >= 0) {
		p->pid = n.value;
		p->pidfd = pidfd;
		pthread_mutex_lock(&sb->zy.mu);
		if (gen == sb->zy.gen)
			sb->zy.answered = 1;
		pthread_mutex_unlock(&sb->zy.mu);
		return 0;
	}
	if (pidfd >= 0)
		close(pidfd);
	close(p->sock);
	close(p->note);
	*p = (struct proc){.pid = -1, .sock = -1, .kind = p->kind, .pidfd = -1, .note = -1};
	if (k == (ssize_t)sizeof(n) && n.what == SB_N_FAILED) {
		errno = n.value;
		return -1;
	}
	zygote_lost(sb, gen); /* no answer: it is gone, or stuck */
	errno = ECHILD;
	return -1;
}

/* A new worker of kind: forked by the zygote, or spawned when there is none. 0 or -1. */
static int start(struct sandbox *sb, int kind, struct proc *p)
{
	for (int attempt = 0; attempt < 2; attempt++)
		if (!ask(sb, kind, p) && !answer(sb, p))
			return 0;
	return spawn(sb, kind, p);
}

/* Kills p (a spare never used, or a worker whose answer is complete or unwanted): reaped here
 * when this process started it, by the zygote when it forked it. */
static void discard(struct proc *p)
{
	if (p->pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
		close(p->pidfd);
	} else if (p->pid > 0) {
		kill(p->pid, SIGKILL); /* not reaped yet: the pid is still this process's */
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (p->sock >= 0)
		close(p->sock);
	if (p->note >= 0)
		close(p->note);
	*p = (struct proc){.pid = -1, .sock = -1, .kind = p->kind, .pidfd = -1, .note = -1};
}

/* Whether the spare p is still waiting for a task: not ended, and (forked) its zygote still
 * there to say how it ends. */
static int usable(const struct proc *p)
{
	struct pollfd pf[2] = {{.fd = p->pidfd, .events = POLLIN}, {.fd = p->note, .events = POLLIN}};
	return p->pidfd < 0 || poll(pf, 2, 0) == 0;
}

/* A worker of kind for one task: the spare, or a new one. */
static int take(struct sandbox *sb, int kind, struct proc *p, int *was_spare)
{
	pthread_mutex_lock(&sb->mu);
	*p = sb->spare[kind];
	sb->spare[kind] = PROC_NONE;
	pthread_mutex_unlock(&sb->mu);
	if (p->pid == 0 && answer(sb, p)) /* asked ahead, answered only now */
		*p = PROC_NONE;
	if (p->pid > 0 && !usable(p))
		discard(p);
	*was_spare = p->pid > 0;
	return *was_spare ? 0 : start(sb, kind, p);
}

static void refill(struct sandbox *sb, int kind)
{
	struct proc q;
	pthread_mutex_lock(&sb->mu);
	int want = !sb->closing && sb->spare[kind].pid < 0 && DD_SANDBOX_SPARES > 0;
	pthread_mutex_unlock(&sb->mu);
	if (!want || (ask(sb, kind, &q) && spawn(sb, kind, &q))) /* the zygote's answer is read when it is taken */
		return;
	pthread_mutex_lock(&sb->mu);
	if (!sb->closing && sb->spare[kind].pid < 0) {
		sb->spare[kind] = q;
		q = PROC_NONE;
	}
	pthread_mutex_unlock(&sb->mu);
	discard(&q);
}

/* Sends the task: head and text with the first batch of descriptors, a byte with each further
 * batch. 0, or -1 (the worker is gone). */
static int send_task(struct proc *p, int kind, const char *text, const int *fds, size_t nfds)
{
	struct sb_task_head h = {.magic = SB_TASK_MAGIC, .kind = (uint32_t)kind, .nfds = (uint32_t)nfds,
				 .text_len = (uint32_t)strlen(text)};
	size_t done = 0, total = sizeof(h) + h.text_len, sent_fds = 0;
	char plus = '+';
	do {
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int) * SB_FDS_PER_MSG)];
		} ctl;
		size_t batch = nfds - sent_fds < SB_FDS_PER_MSG ? nfds - sent_fds : SB_FDS_PER_MSG;
		struct iovec iov[2];
		struct msghdr msg = {.msg_iov = iov};
		if (done == 0) {
			iov[0] = (struct iovec){.iov_base = &h, .iov_len = sizeof(h)};
			iov[1] = (struct iovec){.iov_base = (void *)text, .iov_len = h.text_len};
			msg.msg_iovlen = h.text_len ? 2 : 1;
		} else {
			iov[0] = (struct iovec){.iov_base = &plus, .iov_len = 1};
			msg.msg_iovlen = 1;
		}
		if (batch) {
			msg.msg_control = ctl.b;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * batch);
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * batch);
			memcpy(CMSG_DATA(c), fds + sent_fds, sizeof(int) * batch);
		}
		ssize_t k = sendmsg(p->sock, &msg, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		sent_fds += batch;
		if (done == 0) {
			/* the rest of head and text, if the socket took only part */
			size_t at = (size_t)k;
			while (at < total) {
				const char *from = at < sizeof(h) ? (const char *)&h + at : text + (at - sizeof(h));
				size_t n = at < sizeof(h) ? sizeof(h) - at : total - at;
				ssize_t m = send(p->sock, from, n, MSG_NOSIGNAL);
				if (m < 0 && errno == EINTR)
					continue;
				if (m <= 0)
					return -1;
				at += (size_t)m;
			}
			done = total;
		}
	} while (sent_fds < nfds);
	return 0;
}

/* A worker doing one task (owned; run_free it). */
static struct sandbox_run *run_start(struct sandbox *sb, int kind, const char *text, const int *fds, size_t nfds,
				     int in)
{
	struct sandbox_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->sb = sb;
	r->in = in;
	for (int attempt = 0; attempt < 2; attempt++) {
		int was_spare;
		if (take(sb, kind, &r->p, &was_spare)) {
			log_error("cannot start a scan worker: %s", strerror(errno));
			break;
		}
		if (!send_task(&r->p, kind, text, fds, nfds)) {
			r->last = now_ms();
			__atomic_add_fetch(&sb->tasks[kind], 1, __ATOMIC_RELAXED);
			if (was_spare)
				refill(sb, kind);
			return r;
		}
		discard(&r->p); /* a spare that died waiting: once more with a new one */
	}
	free(r);
	return NULL;
}

static void run_free(struct sandbox_run *r)
{
	if (!r)
		return;
	if (r->in >= 0)
		close(r->in);
	discard(&r->p);
	free(r);
}

/* ---- reading a worker's answer ---- */

/* A background run is looked at this often for the scanner's stop (sandbox_stop_background). */
#define GIVE_UP_MS 200

static int given_up(const struct sandbox_run *r)
{
	return r->background && __atomic_load_n(&r->sb->stopping, __ATOMIC_RELAXED);
}

static void stall_kill(struct sandbox_run *r)
{
	if (!r->stalled && given_up(r)) {
		r->gave_up = 1;
		log_debug("scan worker %d: a layer read for the cache alone, given up: the scanner stops", (int)r->p.pid);
	}
	if (!r->stalled && r->p.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, r->p.pidfd, SIGKILL, NULL, 0);
	else if (!r->stalled && r->p.pid > 0)
		kill(r->p.pid, SIGKILL);
	r->stalled = 1;
}

/* How long to wait on r's worker now (ms): until its stall time, and a background run looks at
 * the scanner's stop every GIVE_UP_MS; -1 when it is killed (stalled, or given up). */
static int64_t poll_budget(struct sandbox_run *r)
{
	int64_t left = r->last + r->sb->stall_ms - now_ms();
	if (left <= 0 || given_up(r)) {
		stall_kill(r);
		return -1;
	}
	return r->background && left > GIVE_UP_MS ? GIVE_UP_MS : left;
}

/* Up to n bytes of the answer: > 0, 0 at its end, -1 when the worker stalled (killed). */
static ssize_t read_some(struct sandbox_run *r, void *buf, size_t n)
{
	for (;;) {
		if (r->stalled)
			return -1;
		ssize_t k = recv(r->p.sock, buf, n, MSG_DONTWAIT);
		if (k > 0) {
			r->last = now_ms();
			return k;
		}
		if (k == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return 0; /* reset: the worker is gone */
		int64_t left = poll_budget(r);
		if (left < 0)
			return -1;
		struct pollfd pf = {.fd = r->p.sock, .events = POLLIN};
		poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left);
	}
}

static int read_exact(struct sandbox_run *r, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t k = read_some(r, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static ssize_t answer_read(void *ctx, void *buf, size_t n)
{
	struct sandbox_run *r = ctx;
	ssize_t k = read_some(r, buf, n);
	if (k <= 0) {
		r->cut = 1;
		errno = EIO;
		return -1;
	}
	return k;
}

/* The next frame that is not progress: 0 with its type and length, or -1 (the answer ended,
 * the worker stalled, or a progress frame had a payload). */
static int next_frame(struct sandbox_run *r, int *type, uint64_t *len)
{
	for (;;) {
		unsigned char h[SB_FRAME_HEAD];
		if (r->have_head) {
			memcpy(h, r->head, sizeof(h));
			r->have_head = 0;
		} else if (read_exact(r, h, sizeof(h)))
			return -1;
		*type = h[0];
		memcpy(len, h + 1, 8);
		if (*type != SB_F_PROGRESS)
			return 0;
		if (*len)
			return -1;
	}
}

/* How a forked worker ended (its socket closed, or it stalled): waits for its end as ended()
 * does, then for the zygote's note of its wait status. 1 with *status, or 0 when the zygote
 * cannot say (it is gone). */
static int forked_end(struct sandbox_run *r, int *status)
{
	struct pollfd pf = {.fd = r->p.pidfd, .events = POLLIN};
	int stall = r->sb->stall_ms > INT_MAX ? INT_MAX : (int)r->sb->stall_ms, k;
	if (!r->stalled) {
		while ((k = poll(&pf, 1, stall)) < 0 && errno == EINTR)
			;
		if (k == 0)
			stall_kill(r);
	}
	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	pf = (struct pollfd){.fd = r->p.note, .events = POLLIN};
	for (;;) {
		while ((k = poll(&pf, 1, stall)) < 0 && errno == EINTR)
			;
		struct sb_note n;
		ssize_t got = k > 0 ? recv(r->p.note, &n, sizeof(n), MSG_DONTWAIT) : -1;
		if (got != (ssize_t)sizeof(n))
			return 0;
		if (n.what == SB_N_ENDED) {
			*status = n.value;
			return 1;
		}
	}
}

/* How the worker ended, once it ended without a complete answer: reaps it and says why. */
static int ended(struct sandbox_run *r, struct arena *a, const char **why)
{
	const char *who = role(r->p.kind);
	int status = 0;
	pid_t got = -1;
	if (r->p.pid < 0) {
		*why = arena_printf(a, "%s ended without an answer", who);
		return DD_E_SANDBOX;
	}
	if (r->p.pidfd >= 0)
		got = forked_end(r, &status) ? r->p.pid : -1;
	else if (!r->stalled) { /* its socket is closed: it is exiting, or closed it and lingers */
		int64_t until = now_ms() + r->sb->stall_ms;
		while ((got = waitpid(r->p.pid, &status, WNOHANG)) == 0 && now_ms() < until) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
		if (got == 0)
			stall_kill(r);
	}
	if (got == 0 || (got < 0 && r->p.pidfd < 0)) {
		while ((got = waitpid(r->p.pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	pid_t pid = r->p.pid;
	r->p.pid = -1;
	if (r->gave_up) { /* logged by stall_kill */
		*why = arena_printf(a, "%s was stopped with the scanner", who);
		return DD_E_SANDBOX;
	}
	if (r->stalled)
		*why = arena_printf(a, "%s made no progress for %" PRId64 " s and was stopped", who, r->sb->stall_ms / 1000);
	else if (got < 0)
		*why = arena_printf(a, "%s ended without an answer", who);
	else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		const char *abbrev = sigabbrev_np(sig);
		if (sig == SIGSYS)
			*why = arena_printf(a, "%s made a system call its sandbox forbids and was killed (SIGSYS)", who);
		else if (sig == SIGXCPU)
			*why = arena_printf(a, "%s exceeded its CPU time limit (%" PRIu64 " s)", who, r->sb->cpu);
		else if (sig == SIGXFSZ)
			*why = arena_printf(a, "%s tried to write a file and was killed (SIGXFSZ)", who);
		else if (sig == SIGKILL)
			*why = arena_printf(a, "%s was killed (SIGKILL: the CPU time limit, or the system out of memory)", who);
		else
			*why = arena_printf(a, "%s crashed (signal %d, SIG%s)", who, sig, abbrev ? abbrev : "?");
	} else
		*why = arena_printf(a, "%s exited (status %d) without an answer", who, WEXITSTATUS(status));
	log_warn("scan worker %d: %s", (int)pid, *why);
	return DD_E_SANDBOX;
}

/* An answer that breaks the protocol: the worker is not trusted for anything after it. */
static int garbled(struct sandbox_run *r, struct arena *a, const char **why)
{
	discard(&r->p);
	*why = arena_printf(a, "%s sent a malformed answer", role(r->p.kind));
	log_warn("scan worker: %s", *why);
	return DD_E_SANDBOX;
}

/* An error frame of len bytes: the worker's code and reason (printable text only). */
static int worker_error(struct sandbox_run *r, struct arena *a, uint64_t len, const char **why)
{
	if (len < 4 || len > 4 + SB_MAX_ERROR_TEXT)
		return garbled(r, a, why);
	char *buf = arena_alloc(a, (size_t)len + 1);
	if (read_exact(r, buf, (size_t)len))
		return ended(r, a, why);
	uint32_t code;
	memcpy(&code, buf, 4);
	char *text = buf + 4;
	for (char *p = text; p < buf + len; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	int kind = r->p.kind;
	discard(&r->p);
	static const int theirs[] = {DD_E_LAYER_INVALID, DD_E_SCAN_LIMIT, DD_E_DIGEST_INVALID, DD_E_PKGDB_CORRUPT,
				     DD_E_IMAGE_INVALID};
	for (size_t i = 0; i < DD_ARRAY_LEN(theirs); i++)
		if ((int)code == theirs[i]) {
			*why = text;
			return (int)code;
		}
	if (code == DD_E_NOMEM)
		*why = arena_printf(a, "%s exceeded its memory limit (%" PRIu64 " MiB)", role(kind),
				    r->sb->memory[kind] >> 20);
	else
		*why = arena_printf(a, "%s failed: %s", role(kind), text);
	log_warn("scan worker: %s", *why);
	return DD_E_SANDBOX;
}

/* ---- the inventories of layers read lately (struct solo_ring) ---- */

/* Keeps text (malloc'd, taken over) as digest's. */
static void solo_put(struct sandbox *sb, const char *digest, char *text, size_t len)
{
	char *d = strdup(digest);
	if (!d) {
		free(text);
		return;
	}
	struct solo_ring *ring = &sb->solo;
	pthread_mutex_lock(&ring->mu);
	for (size_t i = 0; i < SOLO_SLOTS; i++) /* the same layer read again (its cache entry was lost) */
		if (ring->v[i].digest && !strcmp(ring->v[i].digest, digest)) {
			ring->bytes -= ring->v[i].len;
			free(ring->v[i].digest);
			free(ring->v[i].text);
			ring->v[i] = (struct solo){0};
		}
	for (size_t k = 0; k < SOLO_SLOTS && (ring->v[ring->next].digest || ring->bytes + len > SOLO_BYTES); k++) {
		struct solo *o = &ring->v[(ring->next + k) % SOLO_SLOTS];
		if (!o->digest)
			continue;
		ring->bytes -= o->len;
		free(o->digest);
		free(o->text);
		*o = (struct solo){0};
	}
	struct solo *e = &ring->v[ring->next];
	if (e->digest) { /* cannot be: the loop above emptied the slot */
		free(d);
		free(text);
	} else {
		*e = (struct solo){.digest = d, .text = text, .len = len};
		ring->bytes += len;
		ring->next = (ring->next + 1) % SOLO_SLOTS;
	}
	pthread_mutex_unlock(&ring->mu);
}

/* The inventory of an image of one layer from that layer's own, when it was read lately: 1 and
 * inv filled, or 0 (a worker must merge it). */
static int solo_use(struct sandbox *sb, struct arena *a, const struct image_layer *il, struct inventory *inv)
{
	const char *why;
	if (!il->digest || image_check_layer_size(a, il, &why))
		return 0;
	struct solo_ring *ring = &sb->solo;
	char *text = NULL;
	size_t len = 0;
	pthread_mutex_lock(&ring->mu);
	for (size_t i = 0; i < SOLO_SLOTS && !text; i++)
		if (ring->v[i].digest && !strcmp(ring->v[i].digest, il->digest)) {
			len = ring->v[i].len;
			text = arena_alloc_uninit(a, len + 1);
			memcpy(text, ring->v[i].text, len);
			text[len] = 0;
		}
	pthread_mutex_unlock(&ring->mu);
	struct inventory got;
	inventory_init(&got, inv->arena);
	if (!text || inventory_deserialize(&got, text, len, &why))
		return 0;
	for (size_t i = 0; i < got.n; i++) /* the worker read it before the upload named it */
		got.pkgs[i].layer = il->digest;
	*inv = got;
	__atomic_add_fetch(&sb->spared, 1, __ATOMIC_RELAXED);
	return 1;
}

/* After a layer's entry, its worker sends that layer's inventory (as if it were an image of its
 * own) when it could make one: kept for solo_use. Nothing is lost without it. */
static void solo_receive(struct sandbox_run *r, const char *digest)
{
	int type;
	uint64_t len;
	if (next_frame(r, &type, &len) || type != SB_F_INVENTORY || len > SOLO_MAX_ONE)
		return;
	char *text = malloc((size_t)len + 1);
	if (!text || read_exact(r, text, (size_t)len)) {
		free(text);
		return;
	}
	text[len] = 0;
	solo_put(r->sb, digest, text, (size_t)len);
}

/* The end of a layer task: its entry into the cache as digest, and its read-only descriptor
 * into *out_fd when out_fd is not NULL (when the cache cannot be written, a memory file's). */
static int finish_layer(struct sandbox_run *r, struct arena *a, const char *digest, const char *cache_dir,
			int *out_fd, const char **why)
{
	int type;
	uint64_t len;
	if (out_fd)
		*out_fd = -1;
	if (next_frame(r, &type, &len))
		return ended(r, a, why);
	if (type == SB_F_ERROR)
		return worker_error(r, a, len, why);
	if (type != SB_F_LAYER)
		return garbled(r, a, why);
	struct layer_cache_tmp t = {.fd = -1};
	int fd = -1, rc;
	if (layer_cache_begin(cache_dir, digest, &t)) {
		if (cache_dir)
			log_warn("cannot write in the layer cache '%s': the layer is kept in memory", cache_dir);
		fd = memfd_create("layer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0) {
			discard(&r->p);
			*why = "cannot make a memory file for the layer";
			return DD_E_IO;
		}
	}
	const char *rwhy;
	rc = layer_cache_receive(t.fd >= 0 ? t.fd : fd, answer_read, r, len, &rwhy);
	if (rc) {
		layer_cache_abort(&t);
		if (fd >= 0)
			close(fd);
		if (rc == DD_E_LAYER_INVALID)
			return garbled(r, a, why);
		if (r->cut)
			return ended(r, a, why);
		discard(&r->p);
		*why = "cannot write the layer into the layer cache";
		return DD_E_IO;
	}
	solo_receive(r, digest);
	discard(&r->p); /* the answer is whole: whatever the worker does now does not matter */
	if (t.fd >= 0) {
		if (layer_cache_commit(&t)) {
			*why = "cannot write the layer into the layer cache";
			return DD_E_IO;
		}
		if (out_fd && (*out_fd = layer_cache_open(cache_dir, digest)) < 0) {
			*why = "the layer cache lost an entry just written";
			return DD_E_IO;
		}
	} else if (out_fd) { /* sealed: the worker that reads it cannot change it */
		fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
		*out_fd = fd;
		lseek(fd, 0, SEEK_SET);
	} else
		close(fd);
	return 0;
}

/* ---- layers ---- */

/* Reads the blob file in a layer worker: the entry into the cache (and *out_fd, as
 * finish_layer gives it). */
/* blob: a descriptor of the layer's bytes, taken over. */
static int read_layer(struct sandbox *sb, struct arena *a, int blob, const char *digest, const char *cache_dir,
		      int *out_fd, int background, const char **why)
{
	if (background && __atomic_load_n(&sb->stopping, __ATOMIC_RELAXED)) {
		close(blob);
		*why = "the scanner stops";
		return DD_E_SANDBOX;
	}
	struct sandbox_run *r = run_start(sb, SB_LAYER, digest, &blob, 1, -1);
	close(blob);
	if (!r) {
		*why = "cannot start a worker to read it";
		return DD_E_SANDBOX;
	}
	r->background = background;
	int rc = finish_layer(r, a, digest, cache_dir, out_fd, why);
	run_free(r);
	return rc;
}

int sandbox_analyze_layer(struct sandbox *sb, struct arena *a, struct blobstore *bs, const char *digest,
			  const char *cache_dir, const char **why)
{
	*why = NULL;
	int fd = layer_cache_open(cache_dir, digest);
	if (fd >= 0) { /* read before */
		close(fd);
		return 0;
	}
	int64_t size;
	if (bs->ops->blob_open_fd(bs, digest, &fd, &size)) {
		*why = "cannot open its blob";
		return DD_E_IMAGE_INVALID;
	}
	char first = 0;
	if (pread(fd, &first, 1, 0) == 1 && first == '{') { /* an image config (every push has one): no worker */
		close(fd);
		*why = "not a layer (a JSON document)";
		return DD_E_LAYER_INVALID;
	}
	return read_layer(sb, a, fd, digest, cache_dir, NULL, 1, why);
}

struct sandbox_run *sandbox_stream_begin(struct sandbox *sb)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return NULL;
	fcntl(p[1], F_SETPIPE_SZ, SB_PIPE_BYTES); /* fewer wake-ups; a smaller pipe works too */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	struct sandbox_run *r = run_start(sb, SB_LAYER, "", &p[0], 1, p[1]);
	close(p[0]);
	if (!r)
		close(p[1]);
	else
		r->background = 1;
	return r;
}

/* Waits until the pipe takes bytes again: 0, or -1 when the worker stopped taking them (it
 * answered early, closed its end, or stalled). */
static int wait_writable(struct sandbox_run *r)
{
	for (;;) {
		int64_t left = poll_budget(r);
		if (left < 0)
			return -1;
		struct pollfd pf[2] = {{.fd = r->in, .events = POLLOUT}, {.fd = r->p.sock, .events = POLLIN}};
		if (poll(pf, 2, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR)
			return -1;
		if (pf[1].revents) { /* a frame while it should be reading: progress, or its answer */
			unsigned char h[SB_FRAME_HEAD];
			if (read_exact(r, h, sizeof(h)))
				return -1;
			uint64_t len;
			memcpy(&len, h + 1, 8);
			if (h[0] != SB_F_PROGRESS || len) {
				memcpy(r->head, h, sizeof(h));
				r->have_head = 1;
				return -1;
			}
			continue;
		}
		if (pf[0].revents & (POLLERR | POLLHUP))
			return -1;
		if (pf[0].revents & POLLOUT)
			return 0;
	}
}

int sandbox_stream_feed(struct sandbox_run *r, int fd, uint64_t off, uint64_t n)
{
	char buf[1 << 16];
	size_t bn = 0, bpos = 0; /* bytes copied through buf when splice cannot be used */
	int copy = 0;
	while (!r->dead && (n || bpos < bn)) {
		ssize_t k;
		if (!copy) {
			loff_t o = (loff_t)off;
			k = splice(fd, &o, r->in, NULL, n < SB_PIPE_BYTES ? (size_t)n : SB_PIPE_BYTES,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (k < 0 && (errno == EINVAL || errno == ENOSYS)) {
				copy = 1;
				continue;
			}
		} else {
			if (bpos == bn) {
				ssize_t g = pread(fd, buf, n < sizeof(buf) ? (size_t)n : sizeof(buf), (off_t)off);
				if (g <= 0) {
					r->dead = 1; /* shorter than reported: cut back (the stream is ended) */
					break;
				}
				bn = (size_t)g;
				bpos = 0;
				n -= (uint64_t)g;
				off += (uint64_t)g;
			}
			k = write(r->in, buf + bpos, bn - bpos);
			if (k > 0) {
				bpos += (size_t)k;
				r->last = now_ms();
				continue;
			}
		}
		if (k > 0) {
			off += (uint64_t)k;
			n -= (uint64_t)k;
			r->last = now_ms();
			continue;
		}
		if (k == 0) { /* the file is shorter than reported: cut back under the stream */
			r->dead = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if ((errno != EAGAIN && errno != EWOULDBLOCK) || wait_writable(r))
			r->dead = 1;
	}
	return r->dead ? -1 : 0;
}

int sandbox_stream_end(struct sandbox_run *r, struct arena *a, const char *digest, const char *cache_dir,
		       const char **why)
{
	*why = NULL;
	int rc = 0;
	if (digest && cache_dir) {
		close(r->in); /* the worker reads to the end of its input */
		r->in = -1;
		rc = finish_layer(r, a, digest, cache_dir, NULL, why);
	}
	run_free(r);
	return rc;
}

/* ---- images ---- */

/* One inventory task over the layers' entries: 0 and inv, an error, or DD_E_NOT_FOUND with
 * *damaged the layer whose entry could not be read. */
static int inventory_task(struct sandbox *sb, struct arena *a, const struct image *img, const char *const *digests,
			  const size_t *idx, const int *fds, size_t nfds, struct inventory *inv, size_t *damaged,
			  const char **why)
{
	size_t cap = 1;
	for (size_t i = 0; i < img->nlayers; i++)
		cap += strlen(digests[i]) + 24;
	char *text = arena_alloc(a, cap);
	size_t n = 0;
	for (size_t i = 0; i < img->nlayers; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s\t%zu\n", digests[i], idx[i]);
	struct sandbox_run *r = run_start(sb, SB_INVENTORY, text, fds, nfds, -1);
	if (!r) {
		*why = "cannot start a worker to read the package databases";
		return DD_E_SANDBOX;
	}
	int type, rc;
	uint64_t len;
	if (next_frame(r, &type, &len))
		rc = r->have_head ? garbled(r, a, why) : ended(r, a, why);
	else if (type == SB_F_ERROR)
		rc = worker_error(r, a, len, why);
	else if (type == SB_F_DAMAGED) {
		uint32_t i;
		if (len != 4 || read_exact(r, &i, 4) || i >= img->nlayers)
			rc = garbled(r, a, why);
		else {
			*damaged = i;
			rc = DD_E_NOT_FOUND;
		}
	} else if (type != SB_F_INVENTORY || len > DD_MAX_STORED_TEXT_BYTES)
		rc = garbled(r, a, why);
	else {
		char *buf = arena_alloc_uninit(a, (size_t)len + 1);
		const char *dwhy;
		if (read_exact(r, buf, (size_t)len))
			rc = ended(r, a, why);
		else if (inventory_deserialize(inv, buf, (size_t)len, &dwhy))
			rc = garbled(r, a, why);
		else
			rc = 0;
	}
	run_free(r);
	return rc;
}

int sandbox_image_inventory(struct sandbox *sb, struct arena *a, const struct image *img, const char *cache_dir,
			    struct inventory *inv, const char **why)
{
	*why = NULL;
	size_t n = img->nlayers;
	const char **digests = arena_alloc(a, (n + 1) * sizeof(*digests));
	size_t *idx = arena_alloc(a, (n + 1) * sizeof(*idx));
	int *fds = arena_alloc(a, (n + 1) * sizeof(*fds));
	size_t nfds = 0, damaged = n;
	int rc = 0, retried = 0;
	if (n == 1 && solo_use(sb, a, &img->layers[0], inv)) /* read as it uploaded: no worker */
		return 0;
again:
	for (size_t i = 0; i < n && !rc; i++) {
		const struct image_layer *il = &img->layers[i];
		if (!il->digest) { /* only the CLI's docker-archives lack them; the server's images never */
			*why = arena_printf(a, "layer %s: no digest", il->file);
			rc = DD_E_IMAGE_INVALID;
			break;
		}
		if ((rc = image_check_layer_size(a, il, why)))
			break;
		size_t k = nfds;
		for (size_t j = 0; j < i; j++) /* a layer named twice is passed once */
			if (digests[j] && !strcmp(digests[j], il->digest))
				k = idx[j];
		if (k < nfds) {
			digests[i] = il->digest;
			idx[i] = k;
			continue;
		}
		int fd = layer_cache_open(cache_dir, il->digest), blob;
		digests[i] = il->digest;
		if (fd < 0 && (rc = image_layer_open(a, il, &blob, why)))
			break;
		if (fd < 0 && (rc = read_layer(sb, a, blob, il->digest, cache_dir, &fd, 0, why))) {
			*why = arena_printf(a, "layer %s: %s", il->digest, *why);
			break;
		}
		idx[i] = nfds;
		fds[nfds++] = fd;
	}
	if (!rc && n == 1 && solo_use(sb, a, &img->layers[0], inv)) /* its layer was just read */
		rc = 0;
	else if (!rc) {
		rc = inventory_task(sb, a, img, digests, idx, fds, nfds, inv, &damaged, why);
		if (rc == DD_E_NOT_FOUND && !retried) { /* a damaged cache entry: read that layer again, once */
			retried = 1;
			if (cache_dir)
				layer_cache_remove(cache_dir, digests[damaged]);
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			nfds = 0;
			memset(digests, 0, (n + 1) * sizeof(*digests));
			rc = 0;
			goto again;
		}
		if (rc == DD_E_NOT_FOUND) {
			*why = arena_printf(a, "the layer cache's entry of %s cannot be read", digests[damaged]);
			rc = DD_E_IO;
		}
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

void sandbox_stop_background(struct sandbox *sb)
{
	if (sb)
		__atomic_store_n(&sb->stopping, 1, __ATOMIC_RELAXED);
}

void sandbox_counts(struct sandbox *sb, struct sandbox_counts *out)
{
	out->layer_tasks = __atomic_load_n(&sb->tasks[SB_LAYER], __ATOMIC_RELAXED);
	out->inventory_tasks = __atomic_load_n(&sb->tasks[SB_INVENTORY], __ATOMIC_RELAXED);
	out->inventories_spared = __atomic_load_n(&sb->spared, __ATOMIC_RELAXED);
}

/* ---- the sandbox ---- */

/* Copies the environment a worker sees: the limits an operator or a test lowered, and the
 * sanitizers' options; nothing else. */
static char **worker_env(void)
{
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **out = calloc(n + 2, sizeof(*out)); /* one more: ASAN_OPTIONS */
	if (!out)
		return NULL;
	size_t k = 0;
	static const char *const keep[] = {"DRYDOCK_MAX_", "DRYDOCK_SANDBOX_TEST_HOOKS=", "ASAN_OPTIONS=",
					   "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
	for (char **e = environ; e && *e; e++)
		for (size_t i = 0; i < DD_ARRAY_LEN(keep); i++)
			if (!strncmp(*e, keep[i], strlen(keep[i]))) {
#ifdef SB_ASAN
				if (!strcmp(keep[i], "ASAN_OPTIONS=")) /* set below */
					break;
#endif
				out[k++] = strdup(*e);
				break;
			}
#ifdef SB_ASAN
	const char *asan = getenv("ASAN_OPTIONS");
	size_t an = (asan ? strlen(asan) : 0) + 96;
	if ((out[k] = malloc(an)))
		snprintf(out[k++], an, "ASAN_OPTIONS=%s%shandle_segv=0:handle_sigbus=0:handle_sigfpe=0", asan ? asan : "",
			 asan && *asan ? ":" : "");
#endif
	for (size_t i = 0; i < k; i++)
		if (!out[i]) { /* out of memory */
			for (size_t j = 0; j < k; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	return out;
}

int sandbox_new(struct sandbox **out, const char **why)
{
	*out = NULL;
	*why = NULL;
	struct sandbox *sb = calloc(1, sizeof(*sb));
	if (!sb || !(sb->env = worker_env())) {
		free(sb);
		*why = "out of memory";
		return DD_E_NOMEM;
	}
	pthread_mutex_init(&sb->mu, NULL);
	pthread_mutex_init(&sb->solo.mu, NULL);
	pthread_mutex_init(&sb->zy.mu, NULL);
	sb->zy.pid = -1;
	sb->zy.ctl = -1;
	for (int k = 0; k < SB_KINDS; k++)
		sb->spare[k] = PROC_NONE;
	sb->memory[SB_LAYER] = layer_limit("DRYDOCK_MAX_SANDBOX_MEMORY", DD_SANDBOX_LAYER_MEMORY);
	sb->memory[SB_INVENTORY] = layer_limit("DRYDOCK_MAX_SANDBOX_MEMORY", DD_SANDBOX_INVENTORY_MEMORY);
	sb->cpu = layer_limit("DRYDOCK_MAX_SANDBOX_CPU_SECONDS", DD_SANDBOX_CPU_SECONDS);
	sb->stall_ms = (int64_t)layer_limit("DRYDOCK_MAX_SANDBOX_STALL_SECONDS", DD_SANDBOX_STALL_SECONDS) * 1000;
	sb->files = DD_SANDBOX_FILES;
	snprintf(sb->uid, sizeof(sb->uid), "-");
	snprintf(sb->gid, sizeof(sb->gid), "-");
	if (geteuid() == 0) { /* workers run as nobody (65534 where there is no such user) */
		struct passwd pw, *res = NULL;
		char buf[4096];
		uid_t uid = 65534;
		gid_t gid = 65534;
		if (!getpwnam_r("nobody", &pw, buf, sizeof(buf), &res) && res && res->pw_uid != 0) {
			uid = res->pw_uid;
			gid = res->pw_gid;
		}
		snprintf(sb->uid, sizeof(sb->uid), "%u", (unsigned)uid);
		snprintf(sb->gid, sizeof(sb->gid), "%u", (unsigned)gid);
	}
	/* the zygote needs pidfds (Linux 5.3): without them, every worker is spawned */
	int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self >= 0)
		close(self);
	else {
		sb->zy.off = 1;
		log_warn("no pidfds (Linux 5.3): each scan worker is started as a program of its own");
	}
	if (!sb->zy.off && zygote_start(sb)) {
		*why = "cannot start a scan worker (is /proc mounted?)";
		sandbox_free(sb);
		return DD_E_INTERNAL;
	}
	for (int k = SB_LAYER; k <= SB_INVENTORY; k++) {
		if (sb->zy.off && spawn(sb, k, &sb->spare[k])) {
			*why = "cannot start a scan worker (is /proc mounted?)";
			sandbox_free(sb);
			return DD_E_INTERNAL;
		}
		if (!sb->zy.off)
			refill(sb, k); /* asked ahead: the zygote answers once it has warmed up */
	}
	*out = sb;
	return 0;
}

void sandbox_free(struct sandbox *sb)
{
	if (!sb)
		return;
	pthread_mutex_lock(&sb->mu);
	sb->closing = 1;
	pthread_mutex_unlock(&sb->mu);
	for (int k = 0; k < SB_KINDS; k++)
		discard(&sb->spare[k]);
	pthread_mutex_lock(&sb->zy.mu);
	zygote_stop(sb);
	pthread_mutex_unlock(&sb->zy.mu);
	pthread_mutex_destroy(&sb->zy.mu);
	for (char **e = sb->env; e && *e; e++)
		free(*e);
	free(sb->env);
	for (size_t i = 0; i < SOLO_SLOTS; i++) {
		free(sb->solo.v[i].digest);
		free(sb->solo.v[i].text);
	}
	pthread_mutex_destroy(&sb->solo.mu);
	pthread_mutex_destroy(&sb->mu);
	free(sb);
}
