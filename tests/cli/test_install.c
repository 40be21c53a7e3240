/*
 * test_install.c — loopscope installed like a tool (as root, as CI runs): `make install`'s tree
 * works with the build tree gone (hidden under an empty tmpfs in a mount namespace of the
 * test's own), and honours DESTDIR; every man page passes groff's and mandoc's checks, renders
 * with man -l, and its SYNOPSIS is what `loopscope help CMD` says; bash completion completes
 * commands, options and recordings; the Debian package installs with dpkg, runs, and removes
 * cleanly.
 */
#define LSC_TEST_TIMEOUT 180
#include "task.h"
#include "proc.h"
#include "capture.h"

#include <dirent.h>

/* sh -c SCRIPT: its exit status, its stdout in out (when not NULL); the case fails on a
 * status other than want, with stderr. */
static void sh(const char *script, int want, char *out, size_t cap)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct proc p;
	char file[600];

	snprintf(file, sizeof(file), "%s", path("sh.out"));
	proc_run(&p, argv, 150, file);
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != want)
		LSC_FAIL("sh -c '%s': status %d (wanted %d): %s", script, WEXITSTATUS(p.status),
			 want, p.err);
	if (out)
		slurp(file, out, cap);
}

TEST(installed_tree_runs_without_the_build_tree)
{
	char cmd[4096], out[1 << 16];

	capture_setup("install");
	/* a prefix outside the build tree: the build tree is hidden below */
	sh("rm -rf /tmp/lsc-install-test /tmp/lsc-destdir-test", 0, NULL, 0);
	snprintf(cmd, sizeof(cmd), "cmake --install %s --prefix /tmp/lsc-install-test >/dev/null",
		 LSC_BUILD_DIR);
	sh(cmd, 0, NULL, 0);
	snprintf(
		cmd, sizeof(cmd),
		"unshare -m sh -c 'mount -t tmpfs none %s && ls -A %s | wc -l && "
		"cd /tmp && /tmp/lsc-install-test/bin/loopscope run -o /tmp/lsc-install-test/x.lsr "
		"-- /tmp/lsc-install-test/lib/loopscope/examples/sync-read --duration 2 "
		"--self-load 2 --quiet 1 2>/dev/null && "
		"/tmp/lsc-install-test/bin/loopscope report /tmp/lsc-install-test/x.lsr --json'",
		LSC_BUILD_DIR, LSC_BUILD_DIR);
	sh(cmd, 0, out, sizeof(out));
	ASSERT_TRUE(!strncmp(out, "0\n", 2)); /* the build tree was out of sight */
	/* the agent found beside the installed binary, the scenario diagnosed */
	ASSERT_TRUE(strstr(out, "\"id\": \"blocking-calls\"") != NULL ||
		    strstr(out, "\"id\":\"blocking-calls\"") != NULL);
	ASSERT_TRUE(strstr(out, "handle_video") != NULL);
	/* DESTDIR: the same tree under it */
	snprintf(
		cmd, sizeof(cmd),
		"DESTDIR=/tmp/lsc-destdir-test cmake --install %s --prefix /opt/lsc >/dev/null && "
		"test -x /tmp/lsc-destdir-test/opt/lsc/bin/loopscope && "
		"test -f /tmp/lsc-destdir-test/opt/lsc/lib/loopscope/libloopscope_agent.so && "
		"test -f /tmp/lsc-destdir-test/opt/lsc/share/man/man1/loopscope-report.1 && "
		"test -f /tmp/lsc-destdir-test/opt/lsc/share/bash-completion/completions/loopscope && "
		"test ! -e /opt/lsc",
		LSC_BUILD_DIR);
	sh(cmd, 0, NULL, 0);
	sh("rm -rf /tmp/lsc-install-test /tmp/lsc-destdir-test", 0, NULL, 0);
}

TEST(man_pages_check_render_and_agree_with_help)
{
	char dir[600], cmd[2048], out[1 << 16], help[1 << 14];
	struct dirent *e;
	DIR *d;
	int pages = 0;

	capture_setup("install");
	snprintf(dir, sizeof(dir), "%s/man", LSC_BUILD_DIR);
	d = opendir(dir);
	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d))) {
		char name[256], *dot, *first;

		if (!(dot = strstr(e->d_name, ".1")) || dot[2])
			continue;
		pages++;
		/* groff's warnings and mandoc's errors: none (mandoc's style notes on scdoc's
		 * empty paragraphs are not errors) */
		snprintf(cmd, sizeof(cmd),
			 "cd %s && groff -ww -z -man %s 2>&1; mandoc -T lint -W error %s", dir,
			 e->d_name, e->d_name);
		sh(cmd, 0, out, sizeof(out));
		if (out[0])
			LSC_FAIL("%s: %s", e->d_name, out);
		snprintf(cmd, sizeof(cmd), "cd %s && MANPAGER=cat COLUMNS=100 man -l %s 2>&1", dir,
			 e->d_name);
		sh(cmd, 0, out, sizeof(out));
		snprintf(name, sizeof(name), "%.*s", (int)(dot - e->d_name), e->d_name);
		/* rendered: its title and sections */
		ASSERT_TRUE(strstr(out, "NAME") != NULL);
		ASSERT_TRUE(strstr(out, "SYNOPSIS") != NULL);
		ASSERT_TRUE(strstr(out, name) != NULL);
		if (!strcmp(name, "loopscope"))
			continue;
		/* the SYNOPSIS is help's usage line */
		snprintf(cmd, sizeof(cmd), "%s/loopscope help %s", LSC_BUILD_DIR, name + 10);
		sh(cmd, 0, help, sizeof(help));
		ASSERT_TRUE(!strncmp(help, "usage: ", 7));
		first = help + 7;
		first[strcspn(first, "\n")] = 0;
		if (!strstr(out, first))
			LSC_FAIL("%s's SYNOPSIS lacks help's usage line '%s'", name, first);
	}
	closedir(d);
	/* loopscope(1) and one per command */
	snprintf(cmd, sizeof(cmd),
		 "%s/loopscope help | awk '/^commands:/ { on = 1; next } on && NF == 0 { exit } on "
		 "{ n++ } END { print n }'",
		 LSC_BUILD_DIR);
	sh(cmd, 0, out, sizeof(out));
	printf("# %d pages for %d commands\n", pages, atoi(out));
	ASSERT_EQ(pages, atoi(out) + 1);
}

TEST(bash_completion_completes_commands_options_and_recordings)
{
	char cmd[4096], out[4096];

	capture_setup("install");
	snprintf(
		cmd, sizeof(cmd),
		"cd %s/tests/golden && bash -c 'source %s/cli/completion.bash; "
		"c() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _loopscope; echo "
		"\"${COMPREPLY[*]}\"; }; "
		"c %s/loopscope rep; c %s/loopscope report --si; c %s/loopscope exporter --record-; "
		"c %s/loopscope report he; c %s/loopscope run -- nod'",
		LSC_SOURCE_DIR, LSC_SOURCE_DIR, LSC_BUILD_DIR, LSC_BUILD_DIR, LSC_BUILD_DIR,
		LSC_BUILD_DIR, LSC_BUILD_DIR);
	sh(cmd, 0, out, sizeof(out));
	printf("%s", out);
	/* commands; the command's options (from its help); a recording; a program after -- */
	ASSERT_TRUE(!strncmp(out, "report\n--since\n--record-dir\nhealthy.lsr\nnode", 44));
}

TEST(debian_package_installs_runs_and_removes)
{
	char cmd[4096], out[4096], deb[700];
	struct dirent *e;
	DIR *d;

	capture_setup("install");
	/* a loopscope installed by someone is not ours to replace or remove */
	sh("dpkg-query -W -f='${db:Status-Abbrev}' loopscope 2>/dev/null | grep -q '^ii' && echo "
	   "installed || true",
	   0, out, sizeof(out));
	if (strstr(out, "installed"))
		LSC_FAIL(
			"a loopscope package is installed on this machine already: remove it (dpkg "
			"-r loopscope) to run this case, which installs and removes its own");
	snprintf(cmd, sizeof(cmd), "cd %s && rm -f loopscope_*.deb && cpack -G DEB >/dev/null",
		 LSC_BUILD_DIR);
	sh(cmd, 0, NULL, 0);
	d = opendir(LSC_BUILD_DIR);
	ASSERT_TRUE(d != NULL);
	deb[0] = 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "loopscope_", 10) && strstr(e->d_name, ".deb"))
			snprintf(deb, sizeof(deb), "%s/%s", LSC_BUILD_DIR, e->d_name);
	closedir(d);
	ASSERT_TRUE(deb[0] != 0);
	/* its dependencies declared, from the libraries it links */
	snprintf(cmd, sizeof(cmd), "dpkg-deb -f %s Depends", deb);
	sh(cmd, 0, out, sizeof(out));
	printf("# Depends: %s", out);
	ASSERT_TRUE(strstr(out, "libbpf1") && strstr(out, "libdw1") &&
		    strstr(out, "libprotobuf-c1") && strstr(out, "libunwind8"));
	snprintf(cmd, sizeof(cmd),
		 "dpkg -i %s >/dev/null && /usr/bin/loopscope --version && man -w loopscope-report "
		 "&& test -f /usr/lib/loopscope/libloopscope_agent.so && cd /tmp && "
		 "/usr/bin/loopscope run -o /tmp/lsc-deb-test.lsr -- /bin/true 2>/dev/null && "
		 "/usr/bin/loopscope report /tmp/lsc-deb-test.lsr >/dev/null; s=$?; "
		 "rm -f /tmp/lsc-deb-test.lsr; dpkg -r loopscope >/dev/null; exit $s",
		 deb);
	sh(cmd, 0, out, sizeof(out));
	ASSERT_TRUE(!strncmp(out, "loopscope ", 10));
	ASSERT_TRUE(strstr(out, "/usr/share/man/man1/loopscope-report.1") != NULL);
	/* removed cleanly: the package and its files */
	sh("dpkg-query -W -f='${db:Status-Abbrev}' loopscope 2>/dev/null | grep -q '^ii' && "
	   "echo still; test -e /usr/bin/loopscope && echo binary; test -e /usr/lib/loopscope && "
	   "echo lib; true",
	   0, out, sizeof(out));
	ASSERT_STR_EQ(out, "");
}

TEST_MAIN(TEST_ENTRY(installed_tree_runs_without_the_build_tree),
	  TEST_ENTRY(man_pages_check_render_and_agree_with_help),
	  TEST_ENTRY(bash_completion_completes_commands_options_and_recordings),
	  TEST_ENTRY(debian_package_installs_runs_and_removes))
