// A tiny C++ shared object for the ELF fuzz seeds (mkelf.sh): mangled names to demangle.
namespace seed {
struct Frame {
	int depth(int n) const;
};
int Frame::depth(int n) const
{
	return n > 0 ? depth(n - 1) + 1 : 0;
}
} // namespace seed

int seed_entry(int n)
{
	seed::Frame f;
	return f.depth(n);
}
