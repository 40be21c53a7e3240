/* A tiny C program for the ELF/DWARF fuzz seeds (mkelf.sh): functions with lines, no libc. */
static int helper(int x)
{
	return x * 3 + 1;
}

int work(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++)
		s += helper(i);
	return s;
}

void _start(void)
{
	work(10);
	for (;;)
		;
}
