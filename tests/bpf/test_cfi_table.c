/*
 * test_cfi_table.c — the hybrid unwinder's table (bpf/cfi_table.c) on this very process, no root
 * needed: rows sorted, one per address, and the page index agreeing with a plain search; a
 * function of this test (built with frame pointers) has the frame-pointer rule in its body, libc's
 * code CFI rules, _start's and clone3's the root; and walking this thread's stack and a new
 * thread's with the rows (frame pointers where there is none), as bpf/stack.bpf.h does in the
 * kernel, reaches _start and clone3 through libc, which keeps no frame pointers.
 */
#include "task.h"
#include "cfi_table.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

static int mem_fd = -1;

/* Reads this process's memory as the kernel's walk reads a target's: an address that is not
 * mapped is an error, never a crash (and never an ASan report). */
static int peek(uint64_t addr, uint64_t *out)
{
	return pread(mem_fd, out, sizeof(*out), (off_t)addr) == sizeof(*out) ? 0 : -1;
}

/* The row in force at pc through the index, as stack.bpf.h's uw_find finds it. */
static const struct lscb_uw_row *find_indexed(const struct lsc_cfi_table *t, uint64_t pc)
{
	uint32_t lo = 0, hi = t->nobjs, mid;
	const struct lscb_uw_obj *o;
	uint64_t k;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->objs[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || pc >= (o = &t->objs[lo - 1])->hi)
		return NULL;
	k = o->page0 + ((pc - o->lo) >> LSCB_UW_PAGE_SHIFT);
	lo = (uint32_t)t->pages[k];
	hi = (uint32_t)t->pages[k + 1];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}

/*
 * Walks from a caller's state (ip a return address, sp and bp as it finds them) by the rows, as
 * uw_step does: how many frames, 0 when the walk did not end at a root row; the file of the
 * root's code into file.
 */
static int walk(const struct lsc_cfi_table *t, uint64_t ip, uint64_t sp, uint64_t bp, char *file,
		size_t cap)
{
	int n = 0;

	file[0] = 0;
	while (ip && n < LSCB_MAX_FRAMES) {
		const struct lscb_uw_row *r = find_indexed(t, ip - 1);
		int kind = r ? LSCB_UW_KIND(r) : LSCB_UW_FP;
		uint64_t cfa, ra, next[2];
		Dl_info di;

		n++;
		if (kind == LSCB_UW_ROOT) {
			if (dladdr((void *)(ip - 1), &di) && di.dli_fname)
				snprintf(file, cap, "%s", di.dli_fname);
			return n;
		}
		if (kind == LSCB_UW_FP) {
			if (!bp || bp < sp || peek(bp, &next[0]) || peek(bp + 8, &next[1]))
				break;
			ip = next[1];
			sp = bp + 16;
			bp = next[0];
			continue;
		}
		if (kind != LSCB_UW_CFA && kind != LSCB_UW_DEREF)
			break;
		if (LSCB_UW_REG(r) != 7 && LSCB_UW_REG(r) != 6)
			break;
		cfa = (LSCB_UW_REG(r) == 7 ? sp : bp) + (uint64_t)(int64_t)r->cfa_off;
		if (kind == LSCB_UW_DEREF && peek(cfa, &cfa))
			break;
		if (kind == LSCB_UW_DEREF)
			cfa += LSCB_UW_ADD(r);
		if (cfa <= sp || peek(cfa - 8, &ra))
			break;
		if (LSCB_UW_RBP(r) == LSCB_UW_RBP_CFA && peek(cfa + r->rbp_off, &bp))
			break;
		sp = cfa;
		ip = ra;
	}
	return 0;
}

static struct lsc_cfi_table table;

/* This function's caller's frame: its return address, and its rsp and rbp once returned. */
static __attribute__((noinline)) int walk_from_here(char *root, size_t cap)
{
	uint64_t *fp = __builtin_frame_address(0);

	return walk(&table, fp[1], (uint64_t)(fp + 2), fp[0], root, cap);
}

static void *thread_walk(void *arg)
{
	return (void *)(intptr_t)walk_from_here(arg, 512);
}

TEST(rows_are_sorted_and_indexed_and_say_fp_cfi_and_root)
{
	const struct lscb_uw_row *r;
	size_t i, fp = 0, cfi = 0, roots = 0;
	uint64_t pc;
	void *libc_fn;

	ASSERT_EQ(lsc__cfi_table_build(getpid(), &table), 0);
	printf("# %zu rows, %u modules, %u objects indexed by %zu pages\n", table.n, table.modules,
	       table.nobjs, table.npages);
	ASSERT_CMP(table.n, >, 1000);
	for (i = 0; i < table.n; i++) {
		if (i)
			ASSERT_CMP(table.rows[i - 1].pc, <, table.rows[i].pc);
		fp += LSCB_UW_KIND(&table.rows[i]) == LSCB_UW_FP;
		cfi += LSCB_UW_KIND(&table.rows[i]) == LSCB_UW_CFA;
		roots += LSCB_UW_KIND(&table.rows[i]) == LSCB_UW_ROOT;
	}
	printf("# frame-pointer rows %zu, CFA rows %zu, roots %zu\n", fp, cfi, roots);
	ASSERT_CMP(roots, >=, 2); /* this executable's _start, libc's clone and clone3 */
	/* the index finds what a plain search finds (outside every module: frame pointers) */
	for (i = 0; i < table.n; i += 7) {
		const struct lscb_uw_row *plain;

		pc = table.rows[i].pc + (i % 13);
		r = find_indexed(&table, pc);
		plain = lsc__cfi_table_find(&table, pc);
		if (r)
			ASSERT_TRUE(r == plain);
		else
			ASSERT_TRUE(!plain || LSCB_UW_KIND(plain) == LSCB_UW_FP);
	}
	/* this test keeps frame pointers: its body's rule is theirs */
	r = lsc__cfi_table_find(&table, (uint64_t)(uintptr_t)walk + 16);
	ASSERT_TRUE(r != NULL);
	ASSERT_EQ(LSCB_UW_KIND(r), LSCB_UW_FP);
	/* libc keeps none: a CFA from rsp */
	libc_fn = dlsym(RTLD_DEFAULT, "qsort");
	ASSERT_TRUE(libc_fn != NULL);
	r = lsc__cfi_table_find(&table, (uint64_t)(uintptr_t)libc_fn);
	ASSERT_TRUE(r != NULL);
	ASSERT_EQ(LSCB_UW_KIND(r), LSCB_UW_CFA);
	ASSERT_EQ(LSCB_UW_REG(r), 7);
	ASSERT_EQ(r->cfa_off, 8);
	lsc__cfi_table_release(&table);
}

TEST(walking_by_the_rows_reaches_start_and_clone3)
{
	char root[512], troot[512], exe[512], real[PATH_MAX];
	pthread_t th;
	ssize_t len;
	void *n;
	int k;

	mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ASSERT_CMP(mem_fd, >=, 0);
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_CMP(len, >, 0);
	exe[len] = 0;
	ASSERT_EQ(lsc__cfi_table_build(getpid(), &table), 0);
	/* main's caller is libc's __libc_start_call_main, without frame pointers; the root is
	 * this executable's _start (its only root row) */
	k = walk_from_here(root, sizeof(root));
	printf("# this thread: %d frames to a root in %s\n", k, root);
	ASSERT_CMP(k, >=, 4);
	ASSERT_TRUE(realpath(root, real) != NULL);
	ASSERT_STR_EQ(real, exe);
	/* a thread's: libc's start_thread, then clone3 */
	ASSERT_EQ(pthread_create(&th, NULL, thread_walk, troot), 0);
	ASSERT_EQ(pthread_join(th, &n), 0);
	printf("# a new thread: %d frames to a root in %s\n", (int)(intptr_t)n, troot);
	ASSERT_CMP((int)(intptr_t)n, >=, 3);
	ASSERT_TRUE(strstr(troot, "/libc.so") != NULL);
	lsc__cfi_table_release(&table);
	close(mem_fd);
}

TEST_MAIN(TEST_ENTRY(rows_are_sorted_and_indexed_and_say_fp_cfi_and_root),
	  TEST_ENTRY(walking_by_the_rows_reaches_start_and_clone3))
