/*
 * test_safety.c — the CLI never damages what it does not own, and checks its options where they
 * are given (issue 11, points 3 and 5). Run as root, as CI runs, in a scratch directory holding
 * device nodes made with mknod (the numbers of /dev/null and /dev/full), FIFOs and planted
 * symbolic links: each case asserts what is left on disk afterwards, not only the exit code.
 * The fake-node case stands in for the agent's side of LOOPSCOPE_RUN_DIR (a file per PID);
 * node_children_leave_no_perf_maps is the end-to-end check with real node children (run adds no
 * --perf-basic-prof: no process of the run writes a map).
 */
#include "task.h"
#include "proc.h"
#include "rec_builder.h"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>

#define GOLDEN LSC_SOURCE_DIR "/tests/golden/"
#define EXE    LSC_BUILD_DIR "/loopscope"

static char dir[256];

static const char *path(const char *name)
{
	static char bufs[8][512];
	static int k;
	char *b = bufs[k++ % 8];

	snprintf(b, 512, "%s/%s", dir, name);
	return b;
}

static void scratch(void)
{
	char cmd[600];

	if (geteuid() != 0)
		LSC_FAIL("these cases make device nodes and chown files: run as root (CI does)");
	snprintf(dir, sizeof(dir), "/tmp/lsc-safety-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ(system(cmd), 0);
	ASSERT_OK(mkdir(dir, 0755));
}

/* A case that passed leaves nothing behind; a failed one leaves its scratch for a look. */
static void cleanup(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ(system(cmd), 0);
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	ASSERT_TRUE(f != NULL);
	fputs(text, f);
	ASSERT_OK(fclose(f));
}

static void slurp(const char *p, char *buf, size_t cap)
{
	int fd = open(p, O_RDONLY | O_NONBLOCK);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : 0;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* The path is still a character device with these numbers. */
static void expect_chr(const char *p, unsigned maj, unsigned min)
{
	struct stat st;

	if (lstat(p, &st))
		LSC_FAIL("%s is gone: %s", p, strerror(errno));
	if (!S_ISCHR(st.st_mode))
		LSC_FAIL("%s is no longer a character device (mode %o)", p, st.st_mode);
	ASSERT_EQ(major(st.st_rdev), maj);
	ASSERT_EQ(minor(st.st_rdev), min);
}

static void expect_link(const char *p, const char *target)
{
	char buf[512];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	if (n < 0)
		LSC_FAIL("%s is no longer a symbolic link: %s", p, strerror(errno));
	buf[n] = 0;
	ASSERT_STR_EQ(buf, target);
}

static void expect_content(const char *p, const char *want)
{
	char buf[4096];

	slurp(p, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, want);
}

/* Only the files the case made itself are in the scratch directory: no temporary left. */
static void expect_entries(int n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int k = 0;

	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			k++;
	closedir(d);
	ASSERT_EQ(k, n);
}

static void expect_one_line(const struct proc *p, int code, const char *needle)
{
	const char *nl = strchr(p->err, '\n');

	ASSERT_TRUE(WIFEXITED(p->status)); /* never a crash */
	if (WEXITSTATUS(p->status) != code)
		LSC_FAIL("exit %d, wanted %d; stderr: %s", WEXITSTATUS(p->status), code, p->err);
	if (!strstr(p->err, needle))
		LSC_FAIL("stderr lacks \"%s\": %s", needle, p->err);
	if (strncmp(p->err, "loopscope: ", 11) || !nl || nl[1])
		LSC_FAIL("stderr is not one 'loopscope: ...' line: %s", p->err);
}

#define RUN(p, ...)                                                                                \
	do {                                                                                       \
		const char *const a_[] = {EXE, __VA_ARGS__, NULL};                                 \
		proc_run(p, a_, 60, path("stdout"));                                               \
	} while (0)

TEST(outputs_on_devices_fifos_and_links_are_not_replaced)
{
	char buf[8192], want[8192];
	struct proc p;
	int rfd;

	scratch();
	ASSERT_OK(mknod(path("full"), S_IFCHR | 0666, makedev(1, 7)));
	ASSERT_OK(mknod(path("null"), S_IFCHR | 0666, makedev(1, 3)));
	ASSERT_OK(mknod(path("blk"), S_IFBLK | 0600, makedev(7, 250)));
	ASSERT_OK(mkfifo(path("fifo"), 0600));
	write_file(path("victim"), "precious\n");
	ASSERT_OK(symlink(path("victim"), path("link")));
	ASSERT_OK(symlink(path("null"), path("devlink")));
	write_file(path("stdout"), "");

	/* /dev/full: one error line (ENOSPC), exit 1; the device stays a device. */
	RUN(&p, "heap", GOLDEN "leaky.lsr", "-o", path("full"));
	expect_one_line(&p, 1, "No space left on device");
	expect_chr(path("full"), 1, 7);
	RUN(&p, "report", GOLDEN "blocked.lsr", "-o", path("full"));
	expect_one_line(&p, 1, "No space left on device");
	expect_chr(path("full"), 1, 7);
	/* /dev/null: written in place, exit 0. */
	RUN(&p, "report", GOLDEN "blocked.lsr", "-o", path("null"));
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	expect_chr(path("null"), 1, 3);
	RUN(&p, "flame", GOLDEN "blocked.lsr", "-o", path("null"));
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	expect_chr(path("null"), 1, 3);
	/* A FIFO: its reader gets the report; it stays a FIFO. */
	rfd = open(path("fifo"), O_RDONLY | O_NONBLOCK);
	ASSERT_CMP(rfd, >=, 0);
	RUN(&p, "report", GOLDEN "blocked.lsr", "-o", path("fifo"));
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	{
		ssize_t n = read(rfd, buf, sizeof(buf) - 1);
		struct stat st;

		buf[n > 0 ? n : 0] = 0;
		slurp(GOLDEN "blocked.report.txt", want, sizeof(want));
		ASSERT_STR_EQ(buf, want);
		ASSERT_OK(lstat(path("fifo"), &st));
		ASSERT_TRUE(S_ISFIFO(st.st_mode));
	}
	close(rfd);
	/* A link to a regular file: refused; the link and its target stay as they were. */
	RUN(&p, "report", GOLDEN "blocked.lsr", "-o", path("link"));
	expect_one_line(&p, 1, "is a symbolic link");
	expect_link(path("link"), path("victim"));
	expect_content(path("victim"), "precious\n");
	RUN(&p, "leaks", GOLDEN "leaky.lsr", "--json", "-o", path("link"));
	ASSERT_EQ(WEXITSTATUS(p.status), 1);
	expect_link(path("link"), path("victim"));
	/* A link to a device: written in place; the link stays a link. */
	RUN(&p, "report", GOLDEN "blocked.lsr", "-o", path("devlink"));
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	expect_link(path("devlink"), path("null"));
	expect_chr(path("null"), 1, 3);
	/* A block device: refused, never replaced or written. */
	RUN(&p, "report", GOLDEN "blocked.lsr", "-o", path("blk"));
	expect_one_line(&p, 1, "is a block device");
	{
		struct stat st;

		ASSERT_OK(lstat(path("blk"), &st));
		ASSERT_TRUE(S_ISBLK(st.st_mode));
	}
	/* stdout on /dev/full: the cause, not a generic I/O error. */
	{
		const char *const fl[] = {EXE, "flame", GOLDEN "blocked.lsr", NULL};
		const char *const rp[] = {EXE, "report", GOLDEN "blocked.lsr", NULL};

		proc_run(&p, fl, 60, "/dev/full");
		expect_one_line(&p, 1, "No space left on device");
		proc_run(&p, rp, 60, "/dev/full");
		expect_one_line(&p, 1, "No space left on device");
	}
	/* Nothing else appeared: no temporary beside any of them. */
	expect_entries(8);
	cleanup();
}

TEST(run_removes_only_the_recording_it_created)
{
	struct stat st;
	struct proc p;
	char tmplink[128];

	scratch();
	ASSERT_OK(mknod(path("null"), S_IFCHR | 0666, makedev(1, 3)));
	write_file(path("old.lsr"), "precious\n");
	write_file(path("victim"), "precious\n");
	/* A command that does not exist: the device and an existing file stay as they were. */
	RUN(&p, "run", "-o", path("null"), "--", "/nonexistent/program");
	expect_one_line(&p, 127, "cannot run '/nonexistent/program': command not found");
	expect_chr(path("null"), 1, 3);
	RUN(&p, "run", "-o", path("old.lsr"), "--", "/nonexistent/program");
	ASSERT_EQ(WEXITSTATUS(p.status), 127);
	expect_content(path("old.lsr"), "precious\n");
	/* A program that ran: the device is the agent's to write, never read back or removed. */
	RUN(&p, "run", "-o", path("null"), "--", "/bin/true");
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	expect_chr(path("null"), 1, 3);
	RUN(&p, "run", "-o", path("null"), "--", "/bin/sh", "-c", "exit 5");
	ASSERT_EQ(WEXITSTATUS(p.status), 5);
	expect_chr(path("null"), 1, 3);
	/* Children would record to REC.PID, files made beside the device: refused, nothing made. */
	RUN(&p, "run", "--follow-children", "-o", path("null"), "--", "/bin/sh", "-c",
	    "/bin/true; /bin/true");
	expect_one_line(&p, 2, "--follow-children needs a file for -o");
	expect_chr(path("null"), 1, 3);
	expect_entries(4); /* null, old.lsr, victim, stdout */
	/* A new path the program records nothing into (static: ignores LD_PRELOAD) is run's own
	 * and goes; here, /bin/true records, so the file stays and is a recording. */
	RUN(&p, "run", "-o", path("new.lsr"), "--", "/bin/true");
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	ASSERT_OK(lstat(path("new.lsr"), &st));
	ASSERT_TRUE(S_ISREG(st.st_mode) && st.st_size > 0);
	/* A link planted in /tmp (world-writable, sticky): refused; its target untouched. */
	snprintf(tmplink, sizeof(tmplink), "/tmp/lsc-safety-%d.lsr", (int)getpid());
	unlink(tmplink);
	ASSERT_OK(symlink(path("victim"), tmplink));
	RUN(&p, "run", "-o", tmplink, "--", "/bin/true");
	expect_one_line(&p, 1, "symbolic link in a world-writable sticky directory");
	expect_content(path("victim"), "precious\n");
	expect_link(tmplink, path("victim"));
	unlink(tmplink);
	/* Another user's file planted in /tmp: not written (they would own the recording). */
	snprintf(tmplink, sizeof(tmplink), "/tmp/lsc-safety-%d-other.lsr", (int)getpid());
	unlink(tmplink);
	write_file(tmplink, "theirs\n");
	ASSERT_OK(chown(tmplink, 65534, 65534));
	RUN(&p, "run", "-o", tmplink, "--", "/bin/true");
	expect_one_line(&p, 1, "belongs to another user in a world-writable sticky directory");
	expect_content(tmplink, "theirs\n");
	unlink(tmplink);
	/* A link elsewhere to a regular file: refused too (never written through). */
	ASSERT_OK(symlink(path("victim"), path("link.lsr")));
	RUN(&p, "run", "-o", path("link.lsr"), "--", "/bin/true");
	expect_one_line(&p, 1, "is a symbolic link");
	expect_content(path("victim"), "precious\n");
	expect_link(path("link.lsr"), path("victim"));
	cleanup();
}

static int exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/*
 * The agent's side of LOOPSCOPE_RUN_DIR played by a script named node: it lists five PIDs in
 * the run directory and leaves perf maps, as a node run with its own --perf-basic-prof would.
 * run adds no such flag (JS frames are named from V8's own objects), so none of them is its to
 * remove: every one stays, and the run directory goes.
 */
TEST(run_leaves_perf_maps_it_did_not_cause_and_removes_its_run_dir)
{
	char script[2048], bindir[512], node[600], maps[6][64], rundir[512], mode[16];
	unsigned base = 3000000 + (unsigned)getpid() % 1000000;
	struct proc p;
	int i;

	scratch();
	for (i = 0; i < 6; i++)
		snprintf(maps[i], sizeof(maps[i]), "/tmp/perf-%u.map", base + (unsigned)i);
	write_file(path("victim"), "precious\n");
	snprintf(bindir, sizeof(bindir), "%s", path("bin"));
	ASSERT_OK(mkdir(bindir, 0755));
	snprintf(node, sizeof(node), "%s/node", bindir);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "echo \"$LOOPSCOPE_RUN_DIR\" > %s\n"
		 "stat -c %%a \"$LOOPSCOPE_RUN_DIR\" > %s\n"
		 "echo 'a0 10 LazyCompile:*main x.js:1' > /tmp/perf-$$.map\n"
		 "for n in 0 1 2 3 4; do\n"
		 "  [ -n \"$LOOPSCOPE_RUN_DIR\" ] && : > \"$LOOPSCOPE_RUN_DIR/$((%u + n))\"\n"
		 "done\n"
		 "echo 'a0 10 LazyCompile:*child x.js:1' > %s\n" /* 0: a listed PID's: stays */
		 "ln -s %s %s\n"				 /* 1: a link: stays */
		 "echo old > %s; touch -d 2020-01-01 %s\n"	 /* 2: stale: stays */
		 "echo other > %s; chown 65534 %s\n"		 /* 3: another user's */
		 "echo unlisted > %s\n"				 /* 5: not listed: stays */
		 "echo $$ > %s\n",
		 path("rundir"), path("mode"), base, maps[0], path("victim"), maps[1], maps[2],
		 maps[2], maps[3], maps[3], maps[5], path("mainpid"));
	write_file(node, script);
	ASSERT_OK(chmod(node, 0755));
	RUN(&p, "run", "-o", path("fake.lsr"), "--", node);
	if (WEXITSTATUS(p.status) != 0)
		LSC_FAIL("run of the fake node failed: %s", p.err);
	slurp(path("rundir"), rundir, sizeof(rundir));
	rundir[strcspn(rundir, "\n")] = 0;
	slurp(path("mode"), mode, sizeof(mode));
	{
		char mainmap[64], pid[32];

		slurp(path("mainpid"), pid, sizeof(pid));
		snprintf(mainmap, sizeof(mainmap), "/tmp/perf-%d.map", atoi(pid));
		i = exists(mainmap);
		unlink(mainmap);
		ASSERT_TRUE(i);
	}
	/* Read the verdicts before cleaning up, so that a failure leaves nothing behind. */
	{
		int run_dir_given = rundir[0] == '/', run_dir_gone = !exists(rundir),
		    listed_kept = exists(maps[0]), link_kept = exists(maps[1]),
		    stale_kept = exists(maps[2]), other_kept = exists(maps[3]),
		    unlisted_kept = exists(maps[5]);

		for (i = 0; i < 6; i++)
			unlink(maps[i]);
		ASSERT_TRUE(run_dir_given);
		ASSERT_STR_EQ(mode, "700\n");
		ASSERT_TRUE(run_dir_gone);
		ASSERT_TRUE(listed_kept);
		ASSERT_TRUE(link_kept);
		ASSERT_TRUE(stale_kept);
		ASSERT_TRUE(other_kept);
		ASSERT_TRUE(unlisted_kept);
	}
	expect_content(path("victim"), "precious\n");
	cleanup();
}

/* Real node: children by child_process.fork and execFileSync('node') inherit run's NODE_OPTIONS;
 * none of them writes a perf map (it was --perf-basic-prof that did, before JS frames were named
 * from V8's own objects), and none is left. */
TEST(node_children_leave_no_perf_maps)
{
	char js[512], pids[256], out[512];
	struct proc p;
	int n = 0, left = 0;
	char *tok, *save = NULL;

	scratch();
	if (access("/usr/bin/node", X_OK))
		LSC_FAIL("/usr/bin/node is missing: Node.js 20 is the real-world target");
	snprintf(js, sizeof(js), "%s", path("kids.js"));
	snprintf(out, sizeof(out), "%s", path("pids"));
	write_file(js, "const cp = require('child_process'), fs = require('fs');\n"
		       "const mine = () => fs.existsSync('/tmp/perf-' + process.pid + '.map');\n"
		       "if (process.argv[2] === 'child') {\n"
		       "  process.send({pid: process.pid, map: mine()});\n"
		       "  process.exit(0);\n"
		       "}\n"
		       "const pids = [];\n"
		       "const line = cp.execFileSync('node', ['-e',\n"
		       "  \"console.log(process.pid, require('fs').existsSync('/tmp/perf-' + "
		       "process.pid + '.map'))\"]).toString().trim().split(' ');\n"
		       "pids.push(line[0] + ':' + line[1]);\n"
		       "const c = cp.fork(__filename, ['child']);\n"
		       "c.on('message', (m) => { pids.push(m.pid + ':' + m.map); });\n"
		       "c.on('exit', () => fs.writeFileSync(process.argv[2], pids.join(' ')));\n");
	RUN(&p, "run", "-o", path("kids.lsr"), "--", "/usr/bin/node", js, out);
	if (WEXITSTATUS(p.status) != 0)
		LSC_FAIL("node under run failed: %s", p.err);
	slurp(out, pids, sizeof(pids));
	printf("# children (pid:had a map): %s\n", pids);
	for (tok = strtok_r(pids, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char map[64];

		n++;
		/* run adds no --perf-basic-prof (JS frames are named from V8's own objects): no
		 * process of the run writes a map, not even a child that inherits NODE_OPTIONS */
		ASSERT_TRUE(strstr(tok, ":false") != NULL);
		snprintf(map, sizeof(map), "/tmp/perf-%d.map", atoi(tok));
		if (exists(map)) {
			left++;
			unlink(map); /* leave no litter, then fail */
		}
	}
	ASSERT_EQ(n, 2);
	ASSERT_EQ(left, 0);
	cleanup();
}

/* A synthetic recording of PID pid, started at start_ns, with one JIT address sampled. */
static void jit_recording(const char *p, uint32_t pid, uint64_t start_ns)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Header h = LOOPSCOPE__HEADER__INIT;
	static const uint64_t frames[] = {0x7f0000001010ULL};
	static const uint64_t values[] = {10};
	static const uint32_t tids[] = {4242};
	uint32_t stack;
	struct rb b;

	rb_open(&b, p);
	h.has_pid = 1;
	h.pid = pid;
	h.executable = "/usr/bin/node";
	h.source = "synthetic";
	h.clock = "monotonic";
	h.loopscope_version = "test";
	h.has_start_unix_ns = 1;
	h.start_unix_ns = start_ns;
	h.has_start_mono_ns = 1;
	h.start_mono_ns = 1000;
	r.body_case = LOOPSCOPE__RECORD__BODY_HEADER;
	r.header = &h;
	rb_put(&b, &r);
	stack = rb_stack(&b, frames, 1, 0);
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, &stack, values, tids, 1);
	rb_footer(&b, 1000000000ULL);
	rb_close(&b);
}

static int names_planted(const char *rec)
{
	char buf[4096];
	struct proc p;

	RUN(&p, "flame", rec, "--format", "folded");
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	slurp(path("stdout"), buf, sizeof(buf));
	return strstr(buf, "plantedFn") != NULL;
}

TEST(analysis_reads_only_the_recorded_process_perf_map)
{
	unsigned pid = 3000000 + (unsigned)getpid() % 1000000;
	struct timespec now;
	uint64_t now_ns;
	char map[64];
	int fresh, linked, stale, foreign;

	scratch();
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	snprintf(map, sizeof(map), "/tmp/perf-%u.map", pid);
	write_file(path("planted.map"), "7f0000001000 100 LazyCompile:*plantedFn evil.js:1\n");
	jit_recording(path("r.lsr"), pid, now_ns - 10 * 1000000000ULL);

	/* The process's own map: regular, the caller's, written after the start: read. */
	unlink(map);
	write_file(map, "7f0000001000 100 LazyCompile:*plantedFn evil.js:1\n");
	fresh = names_planted(path("r.lsr"));
	/* A link in /tmp to a map somewhere else: not read. */
	unlink(map);
	ASSERT_OK(symlink(path("planted.map"), map));
	linked = names_planted(path("r.lsr"));
	/* A map older than the recording (a previous process with the same PID): not read. */
	unlink(map);
	write_file(map, "7f0000001000 100 LazyCompile:*plantedFn evil.js:1\n");
	{
		struct timeval tv[2] = {{(time_t)(now.tv_sec - 3600), 0},
					{(time_t)(now.tv_sec - 3600), 0}};

		ASSERT_OK(utimes(map, tv));
	}
	stale = names_planted(path("r.lsr"));
	/* Another user's map: not read. */
	unlink(map);
	write_file(map, "7f0000001000 100 LazyCompile:*plantedFn evil.js:1\n");
	ASSERT_OK(chown(map, 65534, 65534));
	foreign = names_planted(path("r.lsr"));
	unlink(map);
	ASSERT_TRUE(fresh);
	ASSERT_TRUE(!linked);
	ASSERT_TRUE(!stale);
	ASSERT_TRUE(!foreign);
	cleanup();
}

/* Each bad value: one line naming the option, the value and the range; exit 2; the program never
 * started; no recording. */
static void expect_rejected(const char *opt, const char *val, const char *range)
{
	char want[256];
	struct proc p;

	unlink(path("started"));
	{
		const char *const a[] = {
			EXE,	   "run", "-o",		  path("opt.lsr"), opt, val, "--",
			"/bin/sh", "-c",  "touch \"$0\"", path("started"), NULL};

		proc_run(&p, a, 60, path("stdout"));
	}
	snprintf(want, sizeof(want), "%s", range);
	expect_one_line(&p, 2, want);
	if (!strstr(p.err, opt) || !strstr(p.err, val))
		LSC_FAIL("the line does not name %s and '%s': %s", opt, val, p.err);
	ASSERT_TRUE(!exists(path("started")));
	ASSERT_TRUE(!exists(path("opt.lsr")));
}

/* The ends of each range run recorded: the agent's parser takes all that the CLI lets by. */
static void expect_recorded(const char *opt, const char *val)
{
	struct proc p;
	struct stat st;
	const char *const a[] = {EXE,  "run",	    "-o", path("ok.lsr"), opt, val,
				 "--", "/bin/true", NULL};

	unlink(path("ok.lsr"));
	proc_run(&p, a, 60, path("stdout"));
	if (WEXITSTATUS(p.status) != 0 || strstr(p.err, "invalid") || strstr(p.err, "nothing"))
		LSC_FAIL("run %s %s did not record: %s", opt, val, p.err);
	ASSERT_OK(lstat(path("ok.lsr"), &st));
	ASSERT_CMP(st.st_size, >, 0);
}

TEST(run_options_are_checked_before_the_program_starts)
{
	scratch();
	expect_rejected("--window", "0", "10 to 3600000 ms");
	expect_rejected("--window", "9", "10 to 3600000 ms");
	expect_rejected("--window", "18446744073709551615", "10 to 3600000 ms");
	expect_rejected("--window", "18446744073709551616", "10 to 3600000 ms");
	expect_rejected("--window", "3600001", "10 to 3600000 ms");
	expect_rejected("--cpu-hz", "1000000", "0 to 10000 samples a second");
	expect_rejected("--cpu-hz", "10001", "0 to 10000 samples a second");
	expect_rejected("--cpu-hz", "+5", "0 to 10000 samples a second");
	expect_rejected("--sample-interval", "0", "1 to 1073741824 bytes");
	expect_rejected("--sample-interval", "1073741825", "1 to 1073741824 bytes");
	expect_rejected("--block-threshold", "3600001", "0 to 3600000 ms");
	expect_rejected("--block-threshold", "-1", "0 to 3600000 ms");
	expect_recorded("--window", "10");
	expect_recorded("--window", "3600000");
	expect_recorded("--cpu-hz", "0");
	expect_recorded("--cpu-hz", "10000");
	expect_recorded("--sample-interval", "1");
	expect_recorded("--sample-interval", "1073741824");
	expect_recorded("--block-threshold", "0");
	expect_recorded("--block-threshold", "3600000");
	cleanup();
}

TEST(analysis_and_attach_options_name_their_range)
{
	struct proc p;

	scratch();
	/* attach: parsed before the process is looked at (4194000 does not exist). */
	RUN(&p, "attach", "-p", "4194000", "-d", "inf");
	expect_one_line(&p, 2, "1ms to 7 days");
	RUN(&p, "attach", "-p", "4194000", "-d", "0");
	expect_one_line(&p, 2, "1ms to 7 days");
	RUN(&p, "attach", "-p", "4194000", "-d", "1e9");
	expect_one_line(&p, 2, "1ms to 7 days");
	RUN(&p, "attach", "-p", "4194000", "--cpu-hz", "100000");
	expect_one_line(&p, 2, "--cpu-hz 100000 is out of range (0 to 10000 samples a second)");
	RUN(&p, "attach", "-p", "4194000", "--block-threshold", "3600001");
	expect_one_line(&p, 2, "--block-threshold 3600001 is out of range (0 to 3600000 ms)");
	RUN(&p, "attach", "-p", "0");
	expect_one_line(&p, 2, "'0' is not a process id (1 to 4194304)");
	RUN(&p, "top", "-p", "-5");
	expect_one_line(&p, 2, "'-5' is not a process id (1 to 4194304)");
	/* flame, heap, leaks */
	RUN(&p, "flame", GOLDEN "blocked.lsr", "--tid", "1e30");
	expect_one_line(&p, 2, "'1e30' is not a number for --tid (1 to 4194304)");
	RUN(&p, "flame", GOLDEN "blocked.lsr", "--minwidth", "inf");
	expect_one_line(&p, 2, "'inf' is not a number for --minwidth (0 to 1000 px)");
	RUN(&p, "flame", GOLDEN "blocked.lsr", "--width", "100001");
	expect_one_line(&p, 2, "--width 100001 is out of range (100 to 100000 px)");
	RUN(&p, "leaks", GOLDEN "leaky.lsr", "--min-bytes", "99999999999999999999");
	expect_one_line(&p, 2, "--min-bytes 99999999999999999999 is out of range");
	RUN(&p, "heap", GOLDEN "leaky.lsr", "--min-bytes", "5");
	expect_one_line(&p, 2, "--min-bytes is an option of leaks, not of heap");
	cleanup();
}

/* What is really wrong with a PID, in one line, whoever runs it (root here). */
TEST(attach_says_what_is_wrong_with_the_pid)
{
	char stat[512] = "", exe[8];
	struct proc p;
	pid_t z;

	scratch();
	RUN(&p, "attach", "-p", "4194000", "-o", path("a.lsr"));
	expect_one_line(&p, 1, "no process with PID 4194000");
	/* PID 2 is kthreadd, the kernel threads' parent, wherever there is no PID namespace. */
	slurp("/proc/2/stat", stat, sizeof(stat));
	if (strstr(stat, "(kthreadd)")) {
		RUN(&p, "attach", "-p", "2", "-o", path("a.lsr"));
		expect_one_line(&p, 1, "PID 2 (kthreadd) is a kernel thread");
		ASSERT_TRUE(!strstr(p.err, "run as root"));
		RUN(&p, "top", "-p", "2");
		expect_one_line(&p, 1, "is a kernel thread");
	}
	/* A zombie: exited, not reaped. */
	z = fork();
	if (z == 0)
		_exit(0);
	{
		char pid[16], zs[512] = "";
		int tries;

		for (tries = 0; tries < 100 && !strstr(zs, ") Z"); tries++) {
			char sp[64];

			usleep(10000);
			snprintf(sp, sizeof(sp), "/proc/%d/stat", (int)z);
			slurp(sp, zs, sizeof(zs));
		}
		snprintf(pid, sizeof(pid), "%d", (int)z);
		RUN(&p, "attach", "-p", pid, "-o", path("a.lsr"));
		waitpid(z, NULL, 0);
		expect_one_line(&p, 1, "is a zombie");
		ASSERT_TRUE(!strstr(p.err, "run as root"));
	}
	/* Not root: another user's process, and one's own process that is not dumpable. */
	{
		char pid[16];
		pid_t nd;
		int go[2];

		ASSERT_OK(pipe(go));
		nd = fork();
		if (nd == 0) {
			char c;

			if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
				_exit(1);
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
			close(go[1]);
			if (read(go[0], &c, 1) < 0) /* until the test closes its end */
				_exit(1);
			_exit(0);
		}
		close(go[0]);
		usleep(100000);
		snprintf(pid, sizeof(pid), "%d", (int)nd);
		{
			const char *const a[] = {"/usr/bin/setpriv",
						 "--reuid=65534",
						 "--regid=65534",
						 "--clear-groups",
						 "--inh-caps=-all",
						 EXE,
						 "attach",
						 "-p",
						 pid,
						 "-o",
						 "/tmp/lsc-safety-nobody.lsr",
						 NULL};

			proc_run(&p, a, 60, NULL);
		}
		close(go[1]);
		waitpid(nd, NULL, 0);
		expect_one_line(&p, 1, "is not dumpable");
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		{
			const char *const a[] = {"/usr/bin/setpriv",
						 "--reuid=65534",
						 "--regid=65534",
						 "--clear-groups",
						 "--inh-caps=-all",
						 EXE,
						 "attach",
						 "-p",
						 pid,
						 "-o",
						 "/tmp/lsc-safety-nobody.lsr",
						 NULL};

			proc_run(&p, a, 60, NULL);
		}
		expect_one_line(&p, 1, "belongs to another user: run as root");
		ASSERT_TRUE(!exists("/tmp/lsc-safety-nobody.lsr"));
	}
	/* The recording: a planted link is refused before anything is attached. */
	{
		const char *sl[] = {"/bin/sleep", "30", NULL};
		char pid[16], tmplink[128];
		pid_t t = fork();

		if (t == 0) {
			execv(sl[0], (char *const *)sl);
			_exit(127);
		}
		snprintf(pid, sizeof(pid), "%d", (int)t);
		write_file(path("victim"), "precious\n");
		ASSERT_OK(symlink(path("victim"), path("att.lsr")));
		snprintf(tmplink, sizeof(tmplink), "/tmp/lsc-safety-%d-att.lsr", (int)getpid());
		unlink(tmplink);
		ASSERT_OK(symlink(path("victim"), tmplink));
		RUN(&p, "attach", "-p", pid, "-d", "1", "-o", path("att.lsr"));
		expect_one_line(&p, 1, "is a symbolic link");
		RUN(&p, "attach", "-p", pid, "-d", "1", "-o", tmplink);
		expect_one_line(&p, 1, "symbolic link in a world-writable sticky directory");
		kill(t, SIGKILL);
		waitpid(t, NULL, 0);
		expect_content(path("victim"), "precious\n");
		expect_link(path("att.lsr"), path("victim"));
		expect_link(tmplink, path("victim"));
		unlink(tmplink);
	}
	/* PID 1 where the kernel hides its executable even from root (a sandbox's init): said as
	 * such, not "run as root". Elsewhere attaching to init is not something a test does. */
	if (readlink("/proc/1/exe", exe, sizeof(exe)) < 0 && errno == EACCES) {
		RUN(&p, "attach", "-p", "1", "-o", path("a.lsr"));
		expect_one_line(&p, 1, "PID 1 (");
		ASSERT_TRUE(strstr(p.err, "even root") != NULL);
		ASSERT_TRUE(!strstr(p.err, "run as root"));
	}
	ASSERT_TRUE(!exists(path("a.lsr")));
	cleanup();
}

TEST_MAIN(TEST_ENTRY(outputs_on_devices_fifos_and_links_are_not_replaced),
	  TEST_ENTRY(run_removes_only_the_recording_it_created),
	  TEST_ENTRY(run_leaves_perf_maps_it_did_not_cause_and_removes_its_run_dir),
	  TEST_ENTRY(node_children_leave_no_perf_maps),
	  TEST_ENTRY(analysis_reads_only_the_recorded_process_perf_map),
	  TEST_ENTRY(run_options_are_checked_before_the_program_starts),
	  TEST_ENTRY(analysis_and_attach_options_name_their_range),
	  TEST_ENTRY(attach_says_what_is_wrong_with_the_pid))
