/*
 * fixture.c — functions with known names and lines for test_symbols.c. Each returns the return
 * address of a call made on the line it reports, so the test can symbolize a real address and
 * know the answer. Built with -g -O0 as a shared library; a stripped copy keeps only .dynsym.
 */
#include <stddef.h>

__attribute__((noinline)) void *lsc_fixture_here(void)
{
	return __builtin_return_address(0);
}

void *lsc_fixture_exported(int *line)
{
	*line = __LINE__ + 1;
	return lsc_fixture_here();
}

static __attribute__((noinline)) void *lsc_fixture_local(int *line)
{
	*line = __LINE__ + 1;
	return lsc_fixture_here();
}

void *lsc_fixture_call_local(int *line)
{
	return lsc_fixture_local(line);
}
