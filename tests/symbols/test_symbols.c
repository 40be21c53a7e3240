/*
 * test_symbols.c — symbolization on binaries whose answers are known: a library built by the tests
 * with DWARF (function, file, line), its stripped copy (.dynsym only: exported names, nothing
 * else), a C++ method (demangled), a perf map (JIT names), /proc/kallsyms (kernel names), and a
 * recording finalized against the library, with the build-id check.
 */
#include "task.h"
#include "rec_builder.h"
#include "lsc_symbols.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sys/stat.h>

void *lsc_fixture_exported(int *line);
void *lsc_fixture_call_local(int *line);
void *lsc_fixture_cpp(int *line);

static const char *fixture_path(void)
{
	static char path[1024];
	Dl_info info;

	ASSERT_TRUE(dladdr((void *)lsc_fixture_exported, &info) != 0);
	snprintf(path, sizeof(path), "%s", info.dli_fname);
	return path;
}

static void lookup_self(void *addr, struct lsc_frame *f, int *found)
{
	struct lsc_symbolizer *s;

	ASSERT_OK(lsc_symbolizer_new(&s));
	ASSERT_OK(lsc_symbolizer_add_process(s, getpid()));
	/* A return address: the call is the byte before it. */
	*found = lsc_symbolizer_lookup(s, (uint64_t)addr - 1, 0, f) == 0;
	/* The strings belong to s: copy what the caller checks. */
	static char fn[256], file[256], mod[512];
	snprintf(fn, sizeof(fn), "%s", f->function ? f->function : "");
	snprintf(file, sizeof(file), "%s", f->file ? f->file : "");
	snprintf(mod, sizeof(mod), "%s", f->module ? f->module : "");
	f->function = fn;
	f->file = file;
	f->module = mod;
	lsc_symbolizer_free(s);
}

TEST(function_file_and_line_from_dwarf)
{
	struct lsc_frame f;
	int line, found;
	void *ra = lsc_fixture_exported(&line);

	lookup_self(ra, &f, &found);
	ASSERT_TRUE(found);
	ASSERT_STR_EQ(f.function, "lsc_fixture_exported");
	ASSERT_TRUE(strstr(f.file, "tests/symbols/fixture.c") != NULL);
	ASSERT_EQ(f.line, line);
	ASSERT_STR_EQ(f.module, fixture_path());

	ra = lsc_fixture_call_local(&line);
	lookup_self(ra, &f, &found);
	ASSERT_STR_EQ(f.function, "lsc_fixture_local"); /* a local symbol, from .symtab */
	ASSERT_EQ(f.line, line);
}

TEST(cpp_names_are_demangled)
{
	struct lsc_frame f;
	int line, found;
	void *ra = lsc_fixture_cpp(&line);

	lookup_self(ra, &f, &found);
	ASSERT_TRUE(found);
	ASSERT_STR_EQ(f.function, "lsc::Fixture::method(int*)");
	ASSERT_TRUE(strstr(f.file, "fixture_cpp.cc") != NULL);
	ASSERT_EQ(f.line, line);
}

TEST(stripped_copy_has_dynsym_names_only)
{
	char cmd[2200], stripped[256];
	struct lsc_module *full, *bare;
	struct lsc_frame f;
	uint64_t exported, local;
	size_t n1, n2;
	const uint8_t *b1, *b2;

	snprintf(stripped, sizeof(stripped), "/tmp/lsc-fixture-stripped-%d.so", (int)getpid());
	snprintf(cmd, sizeof(cmd), "strip --strip-all -o %s %s", stripped, fixture_path());
	ASSERT_OK(system(cmd));
	ASSERT_OK(lsc_module_open(fixture_path(), &full));
	ASSERT_OK(lsc_module_open(stripped, &bare));
	unlink(stripped);
	ASSERT_OK(lsc_module_find(full, "lsc_fixture_exported", &exported));
	ASSERT_OK(lsc_module_find(full, "lsc_fixture_local", &local));
	ASSERT_CMP(lsc_module_nsymbols(bare), <, lsc_module_nsymbols(full));
	/* Same build, same build-id: the stripped copy is the same binary. */
	b1 = lsc_module_build_id(full, &n1);
	b2 = lsc_module_build_id(bare, &n2);
	ASSERT_TRUE(b1 && b2);
	ASSERT_EQ(n1, n2);
	ASSERT_EQ(memcmp(b1, b2, n1), 0);

	ASSERT_OK(lsc_module_lookup(bare, exported + 4, &f));
	ASSERT_STR_EQ(f.function, "lsc_fixture_exported");
	ASSERT_TRUE(f.file == NULL); /* no DWARF left */
	ASSERT_EQ(lsc_module_lookup(bare, local + 4, &f), LSC_ENODATA);
	ASSERT_TRUE(f.function == NULL);
	ASSERT_EQ(lsc_module_find(bare, "lsc_fixture_local", &local), LSC_ENODATA);
	lsc_module_free(full);
	lsc_module_free(bare);
	ASSERT_EQ(lsc_module_open("/etc/hostname", &bare), LSC_ENOELF);
	ASSERT_EQ(lsc_module_open("/nonexistent", &bare), -ENOENT);
}

TEST(perf_map_names_jit_frames)
{
	char path[256];
	struct lsc_symbolizer *s;
	struct lsc_frame f;
	FILE *m;

	snprintf(path, sizeof(path), "/tmp/lsc-perf-%d.map", (int)getpid());
	m = fopen(path, "w");
	fputs("3e5a00001000 40 JS:*fib /app/cpu.js:2:13\n"
	      "3e5a00002000 100 Builtin:ArgumentsAdaptorTrampoline\n"
	      "garbage line\n",
	      m);
	fclose(m);
	ASSERT_OK(lsc_symbolizer_new(&s));
	ASSERT_OK(lsc_symbolizer_set_perf_map(s, path));
	unlink(path);
	ASSERT_OK(lsc_symbolizer_lookup(s, 0x3e5a00001020, 0, &f));
	ASSERT_STR_EQ(f.function, "JS:*fib /app/cpu.js:2:13");
	ASSERT_EQ(f.kind, LSC_FRAME_JIT);
	ASSERT_OK(lsc_symbolizer_lookup(s, 0x3e5a000020ff, 0, &f));
	ASSERT_STR_EQ(f.function, "Builtin:ArgumentsAdaptorTrampoline");
	ASSERT_EQ(lsc_symbolizer_lookup(s, 0x3e5a00001040, 0, &f), LSC_ENODATA); /* past the end */
	lsc_symbolizer_free(s);
}

TEST(kallsyms_names_kernel_frames)
{
	struct lsc_symbolizer *s;
	struct lsc_frame f;
	char line[512], name[256], type;
	unsigned long long addr = 0, a;
	FILE *k = fopen("/proc/kallsyms", "r");

	ASSERT_TRUE(k != NULL);
	while (fgets(line, sizeof(line), k))
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 &&
		    !strcmp(name, "schedule")) {
			addr = a;
			break;
		}
	fclose(k);
	if (addr == 0)
		LSC_FAIL(
			"/proc/kallsyms shows no address for 'schedule': run as root (as CI does)");
	ASSERT_OK(lsc_symbolizer_new(&s));
	ASSERT_OK(lsc_symbolizer_set_kallsyms(s, NULL));
	ASSERT_OK(lsc_symbolizer_lookup(s, addr + 2, 1, &f));
	ASSERT_STR_EQ(f.function, "schedule");
	ASSERT_EQ(f.kind, LSC_FRAME_KERNEL);
	lsc_symbolizer_free(s);
}

static int find_mapping(struct dl_phdr_info *info, size_t size, void *arg)
{
	uint64_t *out = arg;
	int i;

	if (!strstr(info->dlpi_name, "lsc_symfixture"))
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X)) {
			out[0] = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			out[1] = out[0] + info->dlpi_phdr[i].p_memsz;
			out[2] = info->dlpi_phdr[i].p_offset;
		}
	return 1;
}

/* A recording whose one stack is in the fixture; finalize it with the right or a wrong build-id. */
static size_t finalize_with(int right_build_id, char *fn, size_t cap)
{
	uint64_t map[3] = {0}, frames[2];
	struct lsc_recording *r;
	struct lsc_module *m;
	const uint8_t *bid;
	char path[256];
	size_t added, blen;
	int line;
	struct rb b;
	Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
	Loopscope__Mapping mp = LOOPSCOPE__MAPPING__INIT;
	uint8_t wrong[20] = {1, 2, 3};

	dl_iterate_phdr(find_mapping, map);
	ASSERT_CMP(map[0], >, 0);
	ASSERT_OK(lsc_module_open(fixture_path(), &m));
	bid = lsc_module_build_id(m, &blen);
	snprintf(path, sizeof(path), "/tmp/lsc-finalize-%d.lsr", (int)getpid());
	rb_open(&b, path);
	rb_header(&b, (uint32_t)getpid(), "test", "synthetic");
	mp.has_id = mp.has_start = mp.has_end = mp.has_file_offset = mp.has_build_id = 1;
	mp.id = 1;
	/* The executable segment's page range, as /proc/PID/maps would show it. */
	mp.start = map[0] & ~0xfffULL;
	mp.end = map[1];
	mp.file_offset = map[2] & ~0xfffULL;
	mp.path = (char *)fixture_path();
	mp.build_id.data = right_build_id ? (uint8_t *)bid : wrong;
	mp.build_id.len = right_build_id ? blen : sizeof(wrong);
	rec.body_case = LOOPSCOPE__RECORD__BODY_MAPPING;
	rec.mapping = &mp;
	rb_put(&b, &rec);
	frames[0] = (uint64_t)lsc_fixture_exported(&line);
	frames[1] = frames[0];
	rb_stack(&b, frames, 1, 0);
	rb_close(&b);
	lsc_module_free(m);

	ASSERT_OK(lsc_recording_symbolize(path, NULL, NULL, &added));
	ASSERT_OK(lsc_recording_read(path, &r, NULL));
	fn[0] = 0;
	if (lsc_recording_symbol(r, frames[0]))
		snprintf(fn, cap, "%s", lsc_recording_symbol(r, frames[0])->function);
	lsc_recording_free(r);
	unlink(path);
	return added;
}

TEST(finalize_adds_symbols_only_from_the_recorded_build)
{
	char fn[256];

	ASSERT_EQ(finalize_with(1, fn, sizeof(fn)), 1);
	/* frame 0 is a leaf: looked up as is, inside lsc_fixture_exported */
	ASSERT_STR_EQ(fn, "lsc_fixture_exported");
	ASSERT_EQ(finalize_with(0, fn, sizeof(fn)), 0);
	ASSERT_STR_EQ(fn, "");
}

static void put_file(const char *file, const void *data, size_t len)
{
	FILE *f = fopen(file, "wb");

	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(fwrite(data, 1, len, f), len);
	ASSERT_EQ(fclose(f), 0);
}

/*
 * A crash leaves a recording cut anywhere, and symbolize is what is run on it. The golden
 * node.lsr without its Symbol records is such a recording before finalize: JIT frames for a perf
 * map to name, kernel frames for kallsyms. Cut at every byte offset, symbolized, it reads back
 * whole: every complete record of the cut, then the symbols added, and no cut tail in between
 * (the old code appended after the tail, whose missing bytes the first symbols then filled:
 * read back, the file was corrupt or lost the symbols).
 */
TEST(symbolize_a_recording_cut_at_every_byte_offset)
{
	static const char perf[] = "3e5a00001000 100 JS:*fib /app/cpu.js:2:13\n"
				   "3e5a00001f00 200 JS:~main /app/cpu.js:9:1\n";
	static const char kallsyms[] = "ffffffff81a00000 T ksys_write\n"
				       "ffffffff81c00000 T entry_SYSCALL_64_after_hwframe\n"
				       "ffffffff81d00000 T end_of_text\n";
	char file[256], pmap[256], ksyms[256];
	struct lsc_recording *g, *r;
	struct lsc_writer *w;
	struct lsc_read_info info;
	uint8_t *buf;
	size_t i, len, cut, added, symbolized = 0;
	FILE *f;
	int err;

	snprintf(file, sizeof(file), "/tmp/lsc-cut-%d.lsr", (int)getpid());
	snprintf(pmap, sizeof(pmap), "/tmp/lsc-cut-%d.map", (int)getpid());
	snprintf(ksyms, sizeof(ksyms), "/tmp/lsc-cut-%d.kallsyms", (int)getpid());
	put_file(pmap, perf, strlen(perf));
	put_file(ksyms, kallsyms, strlen(kallsyms));
	/* the golden, as the capture wrote it before finalize: every record but the symbols */
	ASSERT_OK(lsc_recording_read(LSC_SOURCE_DIR "/tests/golden/node.lsr", &g, NULL));
	ASSERT_OK(lsc_writer_open(file, &w));
	for (i = 0; i < g->nrecords_; i++)
		if (g->records_[i]->body_case != LOOPSCOPE__RECORD__BODY_SYMBOL)
			ASSERT_OK(lsc_writer_append(w, g->records_[i]));
	ASSERT_OK(lsc_writer_close(w));
	lsc_recording_free(g);
	f = fopen(file, "rb");
	ASSERT_TRUE(f != NULL);
	buf = malloc(1 << 16);
	len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	ASSERT_CMP(len, >, LSC_FILE_HEADER_SIZE);
	for (cut = 0; cut <= len; cut++) {
		put_file(file, buf, cut);
		err = lsc_recording_symbolize(file, pmap, ksyms, &added);
		if (cut < LSC_FILE_HEADER_SIZE) {
			ASSERT_EQ(err, LSC_ENOTREC); /* not a recording yet: left as it is */
			continue;
		}
		ASSERT_OK(err);
		err = lsc_recording_read(file, &r, &info);
		if (err)
			LSC_FAIL("cut at %zu of %zu, %zu symbols added: %s at byte %llu", cut, len,
				 added, lsc_strerror(err), (unsigned long long)info.error_at);
		/* nothing to add leaves the file as it was; otherwise the tail is gone */
		if (added)
			ASSERT_EQ(info.truncated, 0);
		ASSERT_EQ(r->nsymbols, added);
		/* every JIT and kernel frame of every stack in the cut is named now (the native
		 * ones depend on this machine's libc) */
		for (i = 0; i < r->nstacks; i++) {
			size_t k;

			for (k = 0; k < r->stacks[i]->n_frames; k++)
				if ((r->stacks[i]->frames[k] >> 32 == 0x3e5a ||
				     r->stacks[i]->frames[k] >> 63) &&
				    !lsc_recording_symbol(r, r->stacks[i]->frames[k]))
					LSC_FAIL("cut at %zu: no symbol for 0x%llx", cut,
						 (unsigned long long)r->stacks[i]->frames[k]);
		}
		symbolized += added > 0;
		lsc_recording_free(r);
	}
	printf("# %zu cuts of %zu bytes, %zu of them symbolized\n", len + 1, len, symbolized);
	ASSERT_CMP(symbolized, >, len / 4); /* the test saw symbols added behind most cuts */
	free(buf);
	unlink(file);
	unlink(pmap);
	unlink(ksyms);
}

/* A recording names its modules' paths, and anyone can write a recording: a FIFO or a device
 * there is refused at once (the old open blocked on a FIFO until a writer came). */
TEST(modules_are_regular_files_only)
{
	struct lsc_module *m = NULL;
	char fifo[256];

	snprintf(fifo, sizeof(fifo), "/tmp/lsc-fifo-%d", (int)getpid());
	unlink(fifo);
	ASSERT_OK(mkfifo(fifo, 0600));
	alarm(5); /* a blocked open fails the case here, not at the harness's watchdog */
	ASSERT_EQ(lsc_module_open(fifo, &m), LSC_ENOELF);
	ASSERT_EQ(lsc_module_open("/dev/zero", &m), LSC_ENOELF);
	ASSERT_EQ(lsc_module_open("/proc/self", &m), LSC_ENOELF);
	alarm(0);
	ASSERT_TRUE(m == NULL);
	unlink(fifo);
}

TEST_MAIN(TEST_ENTRY(function_file_and_line_from_dwarf), TEST_ENTRY(cpp_names_are_demangled),
	  TEST_ENTRY(stripped_copy_has_dynsym_names_only), TEST_ENTRY(perf_map_names_jit_frames),
	  TEST_ENTRY(kallsyms_names_kernel_frames),
	  TEST_ENTRY(finalize_adds_symbols_only_from_the_recorded_build),
	  TEST_ENTRY(symbolize_a_recording_cut_at_every_byte_offset),
	  TEST_ENTRY(modules_are_regular_files_only))
