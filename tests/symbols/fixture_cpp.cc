// fixture_cpp.cc — a C++ method for test_symbols.c: its mangled name must come back demangled.
extern "C" void *lsc_fixture_here(void);

namespace lsc {
struct Fixture {
	static void *method(int *line);
};
} // namespace lsc

__attribute__((noinline)) void *lsc::Fixture::method(int *line)
{
	*line = __LINE__ + 1;
	return lsc_fixture_here();
}

extern "C" void *lsc_fixture_cpp(int *line)
{
	return lsc::Fixture::method(line);
}
