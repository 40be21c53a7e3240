/*
 * test_exporter_cli.c — what ships beside `loopscope exporter` holds, and its bad inputs end in
 * one clear line: the alert rules pass `promtool check rules` and their unit tests on series
 * recorded from real runs (examples/prometheus/alerts_test.yml), the scrape configuration passes
 * `promtool check config`, the systemd unit passes `systemd-analyze verify` (where systemd is
 * installed), and a bad --listen, a bad --match, a -p of no process or a port in use is one
 * line and exit status 2 or 1.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define PROM LSC_SOURCE_DIR "/examples/prometheus/"

static void tool(const char *const *argv)
{
	struct proc p;

	proc_run(&p, argv, 60, NULL);
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status))
		LSC_FAIL("%s %s: status 0x%x: %s", argv[0], argv[1], p.status, p.err);
}

TEST(alert_rules_and_their_tests_pass_promtool)
{
	const char *check[] = {"/usr/bin/promtool", "check", "rules", PROM "loopscope-alerts.yml",
			       NULL};
	const char *test[] = {"/usr/bin/promtool", "test", "rules", PROM "alerts_test.yml", NULL};
	const char *config[] = {"/usr/bin/promtool", "check", "config", PROM "prometheus.yml",
				NULL};

	tool(check);
	tool(test);
	tool(config);
}

TEST(the_systemd_unit_verifies)
{
	char unit[600], sh[2048];
	const char *argv[] = {"/bin/sh", "-c", sh, NULL};

	if (access("/usr/bin/systemd-analyze", X_OK)) {
		printf("# skipped: no systemd-analyze on this machine (Debian's systemd package)\n");
		return;
	}
	capture_setup("exporter-cli");
	snprintf(unit, sizeof(unit), "%s", path("loopscope-exporter.service"));
	/* the unit as shipped, its ExecStart at the built binary (verify wants it to exist) */
	snprintf(sh, sizeof(sh),
		 "sed 's#/usr/local/bin/loopscope#%s/loopscope#' '%s' > '%s' && "
		 "systemd-analyze verify '%s'",
		 LSC_BUILD_DIR, LSC_SOURCE_DIR "/examples/systemd/loopscope-exporter.service", unit,
		 unit);
	tool(argv);
}

static void one_line(const char *const *argv, int status, const char *what)
{
	struct proc p;

	proc_run(&p, argv, 30, NULL);
	printf("# %s", p.err);
	ASSERT_TRUE(WIFEXITED(p.status));
	ASSERT_EQ(WEXITSTATUS(p.status), status);
	ASSERT_TRUE(strstr(p.err, what) != NULL);
	ASSERT_TRUE(strchr(p.err, '\n') == p.err + strlen(p.err) - 1); /* one line */
}

TEST(bad_listen_match_and_a_port_in_use_are_one_line)
{
	const char *bad_listen[] = {built("loopscope"), "exporter", "--listen", "nowhere", NULL};
	const char *bad_match[] = {built("loopscope"), "exporter", "--match", "(", NULL};
	const char *bad_option[] = {built("loopscope"), "exporter", "--bogus", NULL};
	const char *no_pid[] = {built("loopscope"), "exporter", "-p", "4194303", NULL};
	char busy[32];
	const char *in_use[] = {built("loopscope"), "exporter", "--listen", busy, NULL};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	one_line(bad_listen, 2, "HOST:PORT");
	one_line(bad_match, 2, "--match");
	one_line(bad_option, 2, "--bogus");
	one_line(no_pid, 1, "no process 4194303");
	/* a port this test holds */
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(listen(fd, 1), 0);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(busy, sizeof(busy), "127.0.0.1:%d", ntohs(a.sin_port));
	one_line(in_use, 1, "cannot listen");
	close(fd);
}

/* Rotating recordings' options, and reading a directory that holds none or the wrong ones. */
TEST(bad_record_options_and_spans_are_one_line)
{
	char dir[256], sub[300], f[400];
	const char *seg_short[] = {
		built("loopscope"), "exporter", "--record-dir", "/tmp", "--segment", "1s", NULL};
	const char *size_small[] = {built("loopscope"),
				    "exporter",
				    "--record-dir",
				    "/tmp",
				    "--retain-size",
				    "10K",
				    NULL};
	const char *no_dir[] = {built("loopscope"), "exporter", "--retain-age", "1h", NULL};
	const char *dev_dir[] = {
		built("loopscope"), "exporter", "--record-dir", "/dev/null", "--listen",
		"127.0.0.1:0",	    NULL};
	const char *bad_since[] = {built("loopscope"), "report", "/dev/null",
				   "--since",	       "soon",	 NULL};
	const char *backwards[] = {built("loopscope"), "report", "/dev/null", "--since", "1m",
				   "--until",	       "2m",	 NULL};
	const char *empty[] = {built("loopscope"), "report", dir, NULL};
	const char *no_pid[] = {built("loopscope"), "report", dir, "--pid", "7", NULL};
	const char *not_rec[] = {built("loopscope"), "flame", dir, "--since", "1d", NULL};

	one_line(seg_short, 2, "--segment '1s'");
	one_line(size_small, 2, "--retain-size '10K'");
	one_line(no_dir, 2, "are for --record-dir");
	one_line(dev_dir, 1, "--record-dir '/dev/null'");
	one_line(bad_since, 2, "--since 'soon': not a time");
	one_line(backwards, 2, "--since must come before --until");
	snprintf(dir, sizeof(dir), "/tmp/lsc-record-dir-%d", (int)getpid());
	ASSERT_OK(mkdir(dir, 0755));
	one_line(empty, 1, "is a directory without rotating recordings");
	/* a session with a segment that is not a recording */
	snprintf(sub, sizeof(sub), "%s/api.1234.1764000000", dir);
	ASSERT_OK(mkdir(sub, 0755));
	snprintf(f, sizeof(f), "%s/1764000000.lsr", sub);
	ASSERT_OK(close(open(f, O_WRONLY | O_CREAT, 0644)));
	one_line(no_pid, 1, "has no recording of pid 7: it has api pid 1234");
	one_line(not_rec, 1, "cannot read the segment");
	ASSERT_OK(unlink(f));
	ASSERT_OK(rmdir(sub));
	ASSERT_OK(rmdir(dir));
}

TEST_MAIN(TEST_ENTRY(alert_rules_and_their_tests_pass_promtool),
	  TEST_ENTRY(the_systemd_unit_verifies),
	  TEST_ENTRY(bad_listen_match_and_a_port_in_use_are_one_line),
	  TEST_ENTRY(bad_record_options_and_spans_are_one_line))
