/* test_crypto.c — SHA-256, HMAC and PBKDF2 against published vectors; the pool variant agrees. */
#include "task.h"
#include "rl_internal.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

TEST(sha256_vectors)
{
	uint8_t d[32];
	char h[65];
	static char million[1000000];

	rl_sha256("", 0, d);
	hex(d, 32, h);
	ASSERT_STR_EQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	rl_sha256("abc", 3, d);
	hex(d, 32, h);
	ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	memset(million, 'a', sizeof(million));
	rl_sha256(million, sizeof(million), d);
	hex(d, 32, h);
	ASSERT_STR_EQ(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* 55 and 56 bytes straddle the padding boundary. */
	rl_sha256(million, 56, d);
	hex(d, 32, h);
	ASSERT_STR_EQ(h, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

TEST(hmac_rfc4231_case1)
{
	uint8_t key[20], d[32];
	char h[65];

	memset(key, 0x0b, sizeof(key));
	rl_hmac_sha256(key, sizeof(key), "Hi There", 8, d);
	hex(d, 32, h);
	ASSERT_STR_EQ(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(pbkdf2_rfc7914_vectors)
{
	uint8_t d[64];
	char h[129];

	rl_pbkdf2_sha256("passwd", 6, "salt", 4, 1, d, 64);
	hex(d, 64, h);
	ASSERT_STR_EQ(h, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
			 "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	rl_pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, d, 64);
	hex(d, 64, h);
	ASSERT_STR_EQ(h, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
			 "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}

static uint8_t async_key[32];
static int async_calls;

static void on_key(void *arg, int err, const uint8_t *key, size_t len)
{
	ASSERT_OK(err);
	ASSERT_EQ(len, 32);
	memcpy(async_key, key, 32);
	async_calls++;
}

TEST(pbkdf2_on_the_pool_matches_sync)
{
	struct rl__pool_stats ps;
	uint8_t sync_key[32];

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_crypto_pbkdf2("pw", 2, "salt", 4, 1000, 32, on_key, NULL));
	ASSERT_EQ(rl_crypto_pbkdf2("pw", 2, "salt", 4, 1000, 65, on_key, NULL), UV_EINVAL);
	ASSERT_OK(rl_run());
	rl_pbkdf2_sha256("pw", 2, "salt", 4, 1000, sync_key, 32);
	ASSERT_EQ(async_calls, 1);
	ASSERT_EQ(memcmp(async_key, sync_key, 32), 0);
	rl__pool_stats_get(&ps);
	ASSERT_EQ(ps.submitted, 1);
	ASSERT_EQ(ps.completed, 1);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(sha256_vectors), TEST_ENTRY(hmac_rfc4231_case1),
	  TEST_ENTRY(pbkdf2_rfc7914_vectors), TEST_ENTRY(pbkdf2_on_the_pool_matches_sync))
