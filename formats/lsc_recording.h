/*
 * lsc_recording.h — reading and writing loopscope recordings (docs/format.md).
 *
 * Writing: a file header, then records appended one at a time (a varint length and a packed
 * Record), so the file is valid after every append and readable after a crash.
 * Reading: every complete record; a cut tail is reported (info.truncated, .truncated_at), not an
 * error; a record that does not decode is an error (LSC_ECORRUPT) naming its byte offset. No
 * length field is trusted beyond the bytes actually present or LSC_MAX_RECORD.
 *
 * The recording owns every message it hands out; pointers are borrowed until lsc_recording_free().
 */
#ifndef LSC_RECORDING_H
#define LSC_RECORDING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loopscope.pb-c.h"
#include "lsc_error.h"
#include "lsc_hist.h"

#define LSC_FORMAT_MAGIC     "LSCR"
#define LSC_FORMAT_MAJOR     1
#define LSC_FORMAT_MINOR     0
#define LSC_FILE_HEADER_SIZE 8
#define LSC_MAX_RECORD	     (64u << 20)

/* ---- writing */

struct lsc_writer;
/* Creates (or truncates) path and writes the file header. */
int lsc_writer_open(const char *path, struct lsc_writer **out);
/* Creates path, which must not exist (-EEXIST: not even as a link): a file that is surely
 * the writer's own, for a privileged writer in a directory others may write (segments). */
int lsc_writer_create(const char *path, struct lsc_writer **out);
/* Opens an existing recording to append records (finalize, symbolize). */
int lsc_writer_append_to(const char *path, struct lsc_writer **out);
int lsc_writer_append(struct lsc_writer *w, const Loopscope__Record *r);
/* Closes and frees; returns the first write error seen, if any. */
int lsc_writer_close(struct lsc_writer *w);
void lsc_file_header(uint8_t out[LSC_FILE_HEADER_SIZE]);
/* Packs r as it goes in a file (varint length, body) into buf without allocating.
 * Returns the bytes used, or -ENOSPC. For hot paths (the agent's writer thread). */
ssize_t lsc_record_encode(const Loopscope__Record *r, uint8_t *buf, size_t cap);

/* The name a Window's handle counts use for a libuv handle type number ("tcp", "timer"; the
 * numbers are the same in Debian's libuv 1.44 and Node's 1.46), or NULL when it has none. */
const char *lsc_handle_type_name(unsigned type);

/* counts[1..ntypes-1] (by libuv handle type) as HandleCount records in hc, the nonzero ones,
 * pointed at by hcp (both ntypes long at least); returns how many. A type without a name is
 * "unknown". No allocation: the agent's writer thread calls it. */
size_t lsc_handle_counts(const uint32_t *counts, unsigned ntypes, Loopscope__HandleCount *hc,
			 Loopscope__HandleCount **hcp);

/* The hash of a stack's frames (leaf first), never 0: for writers that intern stacks (the agent,
 * attach). One multiply a frame: the agent runs it on every allocation in --heap full. */
uint64_t lsc_hash_frames(const uint64_t *f, uint32_t n);

/* ---- reading */

struct lsc_read_info {
	uint64_t size;	       /* bytes in the file */
	uint64_t records;      /* complete records read */
	int truncated;	       /* the file ends inside a record */
	uint64_t truncated_at; /* where that record begins */
	uint64_t error_at;     /* on LSC_ECORRUPT/LSC_ETOOBIG: where the bad record begins */
	int major, minor;
};

struct lsc_recording {
	const Loopscope__Header *header; /* the first; NULL if none */
	const Loopscope__Footer *footer; /* the last; NULL when the process died */
	const Loopscope__Mapping **mappings;
	size_t nmappings;
	const Loopscope__Stack **stacks; /* sorted by id */
	size_t nstacks;
	const Loopscope__Thread **threads;
	size_t nthreads;
	const Loopscope__Window **windows; /* in file order */
	size_t nwindows;
	const Loopscope__Event **events;
	size_t nevents;
	const Loopscope__Samples **samples;
	size_t nsamples;
	const Loopscope__Symbol **symbols; /* sorted by addr */
	size_t nsymbols;
	const Loopscope__Process **processes; /* descendants `run` saw (finalize) */
	size_t nprocesses;
	const Loopscope__HeapSnapshotFile **heap_snapshots; /* `run --heap-snapshot-on` */
	size_t nheap_snapshots;
	int cut; /* cut to a span of its time that is not all of it (lsc_recording_cut) */
	struct lsc_read_info info;
	Loopscope__Record **records_; /* owned */
	size_t nrecords_;
};

int lsc_recording_read(const char *path, struct lsc_recording **out, struct lsc_read_info *info);
/* The whole of a file, malloc'ed (*buf NULL on error): 0 or a negative errno (-EISDIR). */
int lsc_read_file(const char *path, uint8_t **buf, size_t *len);
int lsc_recording_parse(const uint8_t *buf, size_t len, struct lsc_recording **out,
			struct lsc_read_info *info);
void lsc_recording_free(struct lsc_recording *r);

/* One session's segment files (the exporter's --record-dir), in order, read as one recording
 * (lsc_segments.c). On an error naming one file, *bad is its index (n: the set as a whole). */
int lsc_recording_read_segments(const char *const *paths, size_t n, struct lsc_recording **out,
				struct lsc_read_info *info, size_t *bad);
/* Cuts r to the span [since, until) (ns from its start; until UINT64_MAX: to its end): the
 * windows that begin in it, the events and sample batches up to the end of the last of them,
 * every time made relative to since (the header's start moved there). The footer stays only
 * when the span reaches it. LSC_ENODATA: nothing of the recording is in the span. */
int lsc_recording_cut(struct lsc_recording *r, uint64_t since, uint64_t until);

const Loopscope__Stack *lsc_recording_stack(const struct lsc_recording *r, uint32_t id);
/* Where stack id sits in r->stacks (sorted by id), or r->nstacks when the recording has none:
 * an index for tables sized by the stacks present, not by the ids a file may claim. */
size_t lsc_recording_stack_index(const struct lsc_recording *r, uint32_t id);
const Loopscope__Symbol *lsc_recording_symbol(const struct lsc_recording *r, uint64_t addr);
const Loopscope__Mapping *lsc_recording_mapping(const struct lsc_recording *r, uint64_t addr);
/* The last Thread record of tid (what is known of it by the end), or NULL. */
const Loopscope__Thread *lsc_recording_thread(const struct lsc_recording *r, uint32_t tid);
/* The thread of the program's main loop: the one whose tid is the process id when it has
 * windows (Node runs more loops on other threads), else the first loop with windows; 0: none. */
uint32_t lsc_recording_main_loop(const struct lsc_recording *r);

/* A heap snapshot, rebuilt from the changes each one records (docs/format.md): the values of one
 * heap sample kind for every stack with a nonzero value, as of the last complete snapshot whose
 * number is at most upto (0: the last complete one). */
struct lsc_heap_values {
	uint32_t *stack_id;
	uint64_t *value;
	size_t n;
	uint32_t snapshot; /* its number */
	uint64_t t_ns;	   /* its time */
};
/* 0, LSC_ENODATA (no complete snapshot of that kind), -ENOMEM. */
int lsc_recording_heap_snapshot(const struct lsc_recording *r, int kind, uint32_t upto,
				struct lsc_heap_values *out);
void lsc_heap_values_free(struct lsc_heap_values *v);
/* Whether batches of this kind are heap snapshots (rather than adding up). */
int lsc_recording_kind_is_snapshot(const struct lsc_recording *r, int kind);

/* Histograms between memory and the file. from_proto validates (LSC_ECORRUPT). to_proto fills p
 * with pointers into idx/cnt, which must hold LSC_HIST_BUCKETS entries. */
int lsc_hist_from_proto(struct lsc_hist *h, const Loopscope__Histogram *p);
void lsc_hist_to_proto(const struct lsc_hist *h, Loopscope__Histogram *p, uint32_t *idx,
		       uint64_t *cnt);

#endif
