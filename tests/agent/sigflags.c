/*
 * sigflags.c — a program that sets up signal handling one way (argv[1]) and prints, with write(2),
 * what it observes: handler entries and exits, nesting, the mask inside the handler, restarted
 * or interrupted reads, what sigaction() hands back. test_signals.c runs each mode with and
 * without the agent and requires the same output and the same exit status.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t depth, entries;
static int pipefd[2];

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		_exit(99);
}

static void sayf(const char *fmt, long a, long b)
{
	char buf[128];

	snprintf(buf, sizeof(buf), fmt, a, b);
	say(buf);
}

static int blocked(int sig)
{
	sigset_t now;

	sigprocmask(SIG_BLOCK, NULL, &now);
	return sigismember(&now, sig);
}

/* Re-raises once from inside: with SA_NODEFER it nests, without it waits for the return. */
static void h_reraise(int sig)
{
	int d = ++depth;

	entries++;
	sayf("in %ld (depth %ld)\n", entries, d);
	if (entries == 1)
		raise(sig);
	sayf("out (depth %ld)%ld\n", d, 0);
	depth--;
}

static void h_mask(int sig)
{
	sayf("in: self blocked %ld, SIGUSR1 blocked %ld\n", blocked(sig), blocked(SIGUSR1));
}

static void h_dfl_then_raise(int sig)
{
	say("in, restoring SIG_DFL\n");
	signal(sig, SIG_DFL);
	raise(sig);
	say("out\n");
}

static void h_unblock_then_raise(int sig)
{
	sigset_t s;

	entries++;
	sayf("in %ld\n", entries, 0);
	if (entries == 1) {
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise(sig);
	}
	sayf("out %ld\n", entries, 0);
}

static void h_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	sayf("info: sig %ld, code is SI_TKILL %ld\n", sig, si->si_code == SI_TKILL);
}

static void h_alarm(int sig)
{
	(void)sig;
	entries++;
	if (entries == 2 && write(pipefd[1], "x", 1) < 0)
		_exit(98);
}

static void install(int sig, void (*fn)(int), int flags, int extra_mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (extra_mask)
		sigaddset(&sa.sa_mask, extra_mask);
	if (sigaction(sig, &sa, NULL))
		_exit(97);
}

/* Two SIGALRMs 50 ms apart while read() waits on an empty pipe; the second handler writes to
 * it. With SA_RESTART the read goes on and gets the byte; without, it fails with EINTR. */
static void restart(int flags)
{
	struct itimerval it = {{0, 50000}, {0, 50000}};
	char c;
	ssize_t n;

	if (pipe(pipefd))
		_exit(96);
	install(SIGALRM, h_alarm, flags, 0);
	setitimer(ITIMER_REAL, &it, NULL);
	n = read(pipefd[0], &c, 1);
	sayf("read %ld, EINTR %ld\n", (long)n, n < 0 && errno == EINTR);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void old_value(int sig)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h_mask;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaddset(&sa.sa_mask, SIGKILL);
	sigaction(sig, &sa, NULL);
	sigaction(sig, NULL, &old);
	sayf("old: is ours %ld, flags %#lx", old.sa_handler == h_mask, (long)old.sa_flags);
	sayf(", USR2 %ld KILL %ld", sigismember(&old.sa_mask, SIGUSR2),
	     sigismember(&old.sa_mask, SIGKILL));
	sayf(", signal() returns it %ld%ld\n", signal(sig, SIG_DFL) == h_mask, 0);
	sigaction(sig, NULL, &old);
	sayf("after signal(SIG_DFL): dfl %ld, flags %#lx\n", old.sa_handler == SIG_DFL,
	     (long)old.sa_flags);
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	volatile int *volatile bad = (volatile int *)(uintptr_t)8;
	struct sigaction q;

	if (!strcmp(m, "resethand")) { /* handler once, then the default action */
		install(SIGTERM, h_mask, SA_RESETHAND, SIGUSR1);
		raise(SIGTERM);
		sigaction(SIGTERM, NULL, &q);
		sayf("after: handler is SIG_DFL %ld, flags %#lx\n", q.sa_handler == SIG_DFL,
		     (long)q.sa_flags);
		raise(SIGTERM);
	} else if (!strcmp(m, "resethand_reraise")) { /* Node's SignalExit: re-raised, dies after */
		install(SIGTERM, h_reraise, SA_RESETHAND, 0);
		raise(SIGTERM);
	} else if (!strcmp(m, "nodefer")) {
		install(SIGUSR1, h_reraise, SA_NODEFER, 0);
		raise(SIGUSR1);
	} else if (!strcmp(m, "defer")) {
		install(SIGUSR1, h_reraise, 0, 0);
		raise(SIGUSR1);
	} else if (!strcmp(m, "resethand_nodefer")) { /* System V signal(): dies inside */
		install(SIGTERM, h_reraise, (int)(SA_RESETHAND | SA_NODEFER), 0);
		raise(SIGTERM);
	} else if (!strcmp(m, "mask")) {
		install(SIGTERM, h_mask, 0, SIGUSR1);
		raise(SIGTERM);
		install(SIGINT, h_mask, SA_NODEFER, 0);
		raise(SIGINT);
	} else if (!strcmp(m, "restart")) {
		restart(SA_RESTART);
	} else if (!strcmp(m, "norestart")) {
		restart(0);
	} else if (!strcmp(m, "dfl_in_handler")) {
		install(SIGTERM, h_dfl_then_raise, 0, 0);
		raise(SIGTERM);
	} else if (!strcmp(m, "unblock_in_handler")) {
		install(SIGHUP, h_unblock_then_raise, 0, 0);
		raise(SIGHUP);
	} else if (!strcmp(m, "siginfo")) {
		memset(&q, 0, sizeof(q));
		q.sa_sigaction = h_info;
		q.sa_flags = SA_SIGINFO;
		sigaction(SIGUSR2, &q, NULL);
		raise(SIGUSR2);
	} else if (!strcmp(m, "old_value")) {
		old_value(SIGTERM);
	} else if (!strcmp(m, "ignored")) { /* inherited SIG_IGN: kept here and across exec */
		sigaction(SIGINT, NULL, &q);
		sayf("SIGINT ignored %ld%ld\n", q.sa_handler == SIG_IGN, 0);
		raise(SIGINT);
		say("survived\n");
		execl("/bin/sh", "sh", "-c", "kill -INT $$; echo child survived", (char *)NULL);
		_exit(95);
	} else if (!strcmp(m, "default_term")) {
		say("raising\n");
		raise(SIGTERM);
	} else if (!strcmp(m, "default_segv")) {
		say("faulting\n");
		*bad = 1;
	} else {
		say("unknown mode\n");
		return 2;
	}
	say("end\n");
	return 3;
}
