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

TEST_MAIN(TEST_ENTRY(alert_rules_and_their_tests_pass_promtool),
	  TEST_ENTRY(the_systemd_unit_verifies),
	  TEST_ENTRY(bad_listen_match_and_a_port_in_use_are_one_line))
