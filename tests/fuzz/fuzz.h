/*
 * fuzz.h — what the libFuzzer targets share: the parsers under test take paths, so an input is
 * handed to them as a memfd's /proc/self/fd path (no file system traffic, nothing left behind),
 * and renderers write into a stream that discards everything.
 */
#ifndef LSC_FUZZ_H
#define LSC_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding data; *path names it. -1 when the kernel refuses (the target then does
 * nothing). The caller closes the descriptor. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

static ssize_t discard(void *cookie, const char *buf, size_t size)
{
	return (ssize_t)size;
}

/* A stream that accepts everything and keeps nothing: renderers run in full, no syscalls. */
static inline FILE *fuzz_sink(void)
{
	static FILE *sink;

	if (!sink) {
		sink = fopencookie(NULL, "w", (cookie_io_functions_t){.write = discard});
		if (!sink)
			abort();
	}
	return sink;
}

#endif
