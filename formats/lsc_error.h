/*
 * lsc_error.h — loopscope's error codes. Functions return 0 or a negative errno; codes of our
 * own sit far below the errno range, generated with their names and messages from the one table
 * below (libuv's UV_ERRNO_MAP). lsc_strerror() covers both kinds.
 */
#ifndef LSC_ERROR_H
#define LSC_ERROR_H

/* X(name, message) — append only: the numbers follow the order. */
#define LSC_ERRNO_MAP(X)                                                                           \
	X(NOTREC, "not a loopscope recording")                                                     \
	X(NEWER, "written by a newer loopscope (unsupported major version); upgrade loopscope")    \
	X(CORRUPT, "corrupt record")                                                               \
	X(TOOBIG, "record longer than the format allows")                                          \
	X(NOELF, "not an ELF file")                                                                \
	X(NOSYMS, "no symbol table")                                                               \
	X(BADFOLDED, "not a folded-stack file")                                                    \
	X(NODATA, "no data of this kind")                                                          \
	X(BADBUDGET, "not a valid budget")                                                         \
	X(NOLOOP, "no event loop in the target (no libuv)")                                        \
	X(BADLOOP, "not a loop selector (main, worker, worker:N, worker:SCRIPT, platform, "        \
		   "loop:TID, all)")                                                               \
	X(NOSUCHLOOP, "no loop of the recording matches the selector")

enum lsc_error {
	LSC__ERR_START = -10000,
#define LSC__X(name, msg) LSC_E##name,
	LSC_ERRNO_MAP(LSC__X)
#undef LSC__X
		LSC__ERR_END
};

const char *lsc_strerror(int err);
const char *lsc_err_name(int err);

#endif
