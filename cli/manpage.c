/*
 * manpage.c — the man pages' source, from the command table (main.c): `loopscope help --scdoc`
 * prints loopscope(1) and `loopscope help --scdoc CMD` loopscope-CMD(1) in scdoc's markup, which
 * the build turns into roff with Debian's scdoc (cli/CMakeLists.txt). One source: a page says
 * what --help says, its SYNOPSIS the usage lines, its DESCRIPTION the rest, both as literal
 * blocks (the help text is laid out for a terminal already, and holds [ ] | * _ that scdoc would
 * read as markup).
 */
#include "cli.h"

#include <string.h>

#define DOCS "/usr/share/doc/loopscope (docs/ in the source tree)"

/* The lines of text up to the first empty one (the usage), and the rest. */
static void split(const char *text, const char **rest)
{
	const char *blank = strstr(text, "\n\n");

	*rest = blank ? blank + 2 : text + strlen(text);
}

static void literal(FILE *f, const char *from, const char *to)
{
	fputs("```\n", f);
	fwrite(from, 1, (size_t)(to - from), f);
	if (to > from && to[-1] != '\n')
		fputc('\n', f);
	fputs("```\n", f);
}

static void see_also(FILE *f, const char *except)
{
	size_t i;
	int n = 0;

	fputs("\n# SEE ALSO\n\n", f);
	if (except) {
		fputs("*loopscope*(1)", f);
		n++;
	}
	for (i = 0; i < lsc_ncommands; i++)
		if (!except || strcmp(lsc_commands[i].name, except))
			fprintf(f, "%s*loopscope-%s*(1)", n++ ? ", " : "", lsc_commands[i].name);
	fprintf(f, "\n\nThe full documentation: %s.\n", DOCS);
}

int lsc_cli_scdoc(const char *cmd, FILE *f)
{
	const struct lsc_cmd *c = NULL;
	const char *rest, *usage;
	size_t i;

	if (!cmd) {
		fprintf(f,
			"loopscope(1)\n\n# NAME\n\nloopscope - diagnostics for event-loop programs "
			"(Node.js, libuv)\n\n# SYNOPSIS\n\n*loopscope* _COMMAND_ [_ARGS_]\n\n"
			"*loopscope* --version\n\n# DESCRIPTION\n\n");
		literal(f, lsc_about, lsc_about + strlen(lsc_about));
		fputs("\n# COMMANDS\n\n", f);
		for (i = 0; i < lsc_ncommands; i++)
			fprintf(f, "*%s*\n\t%s: *loopscope-%s*(1)\n\n", lsc_commands[i].name,
				lsc_commands[i].summary, lsc_commands[i].name);
		fputs("# EXIT STATUS\n\n0 when the command did what it was asked, 1 when it failed "
		      "(one line on stderr says why), 2 for a usage error.\n",
		      f);
		see_also(f, NULL);
		return LSC_EXIT_OK;
	}
	for (i = 0; i < lsc_ncommands; i++)
		if (!strcmp(lsc_commands[i].name, cmd))
			c = &lsc_commands[i];
	if (!c)
		return lsc_usage_error(NULL, "no command '%s'", cmd);
	usage = c->usage;
	if (!strncmp(usage, "usage: ", 7))
		usage += 7;
	split(usage, &rest);
	fprintf(f, "loopscope-%s(1)\n\n# NAME\n\nloopscope-%s - %s\n\n# SYNOPSIS\n\n", c->name,
		c->name, c->summary);
	literal(f, usage, rest > usage + 1 ? rest - 1 : rest);
	if (*rest) {
		fputs("\n# DESCRIPTION\n\n", f);
		literal(f, rest, rest + strlen(rest));
	}
	see_also(f, c->name);
	return LSC_EXIT_OK;
}
