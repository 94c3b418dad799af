/* space.h: the room left on the filesystem of the data directory, and the reserve that keeps
 * deletes and garbage collection working when it runs out.
 *
 * Pushes ask space_admit() before they store bytes: while less than min_free bytes would be
 * left they are refused (DD_E_NO_SPACE, answered 507), and the registry only reads, deletes and
 * collects. The reserve is a file, DATA/reserve, of `reserve` bytes held back from everyone: a
 * metadata change that frees space (a delete, a step of gc) and fails for lack of room releases
 * DD_RESERVE_STEP_BYTES of it and runs again (SPACE_RETRY), so SQLite, which needs room for its
 * WAL even to delete, can commit it however full the filesystem got. Once there is room above
 * min_free again the reserve is topped up (space_refill) before any push may use that room.
 *
 * The state lives in the filesystem (statvfs and the reserve file's size), so the server and
 * `drydock gc` in another process see and release the same reserve. Nothing here knows about
 * blobs or SQLite; safe from any thread. */
#ifndef DD_SPACE_H
#define DD_SPACE_H
#include <stdint.h>

struct space;

enum space_state {
	SPACE_OK,  /* pushes are admitted */
	SPACE_LOW, /* less than min_free (plus the part of the reserve to rebuild) is free: pushes refused */
	SPACE_FULL /* the filesystem ran out: part of the reserve has been used, or almost nothing is free */
};

struct space_stat {
	enum space_state state;
	int64_t free_bytes;  /* as an unprivileged writer may use them (statvfs f_bavail) */
	int64_t total_bytes;
	int64_t free_inodes; /* -1 when the filesystem does not count them */
	int64_t min_free;
	int64_t reserve_held, reserve_wanted;
};

/* Watches the filesystem of dir, keeping min_free bytes free (0: no floor) and a reserve file of
 * `reserve` bytes (0: none) at dir/reserve, which is not created here (space_refill does).
 * Returns owned memory. */
int space_open(const char *dir, int64_t min_free, int64_t reserve, struct space **out);
void space_free(struct space *sp);
/* The free space and its state now; 0 or DD_E_IO. */
int space_stat(struct space *sp, struct space_stat *out);
/* 0 when n more bytes may be stored (n: a request's body, or 1 for a new upload session whose
 * size is not known yet) and min_free and the reserve still fit; DD_E_NO_SPACE otherwise. n <= 0
 * is always admitted (a request that stores nothing new). Tops the reserve up first when there
 * is room for it. sp NULL admits everything. */
int space_admit(struct space *sp, int64_t n);
/* Gives back one step of the reserve to the filesystem: 1 when it released some, 0 when there
 * was none left to release (or sp is NULL). */
int space_release(struct space *sp);
/* Grows the reserve, a step at a time, while that leaves min_free free; 0, or the error of the
 * filesystem. */
int space_refill(struct space *sp);
/* "ok", "low", "full". */
const char *space_state_name(enum space_state s);

/* Runs CALL, an int expression whose value goes to rc: a metadata change that frees space (a
 * delete, a step of gc). While it fails for lack of room (DD_E_NO_SPACE), a step of the reserve
 * is released and it runs again. A failed transaction changed nothing, so running it again is
 * safe. */
#define SPACE_RETRY(sp, rc, call)                                                        \
	do {                                                                             \
		(rc) = (call);                                                           \
		while ((rc) == DD_E_NO_SPACE && space_release(sp))                       \
			(rc) = (call);                                                   \
	} while (0)

#endif
