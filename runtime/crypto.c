/*
 * crypto.c — SHA-256, HMAC-SHA256 and PBKDF2-HMAC-SHA256, synchronous and on the thread pool.
 *
 * Why our own code rather than libcrypto: this is refloop's CPU-bound workload, the thing the
 * hash-on-loop and pool-saturation scenarios burn time in, and loopscope's tests must find it by
 * name in stacks. Built here with frame pointers it shows up as rl_pbkdf2_sha256 /
 * sha256_compress on every unwinder, including the eBPF frame-pointer walk, which stops at
 * Debian's libcrypto (built without them). It is checked against published test vectors
 * (FIPS 180-2, RFC 4231, RFC 7914) in tests/runtime/test_crypto.c. It is not for protecting
 * secrets.
 */
#include "rl_internal.h"

#include <stdlib.h>
#include <string.h>

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
	size_t nbuf;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_compress(uint32_t h[8], const uint8_t blk[64])
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
		       (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
	for (; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] +
		     w[i];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->nbuf = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	while (len) {
		size_t n = 64 - s->nbuf < len ? 64 - s->nbuf : len;

		if (s->nbuf == 0 && len >= 64) {
			sha256_compress(s->h, p);
			p += 64;
			len -= 64;
			continue;
		}
		memcpy(s->buf + s->nbuf, p, n);
		s->nbuf += n;
		p += n;
		len -= n;
		if (s->nbuf == 64) {
			sha256_compress(s->h, s->buf);
			s->nbuf = 0;
		}
	}
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
	int i;

	for (i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void rl_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, out);
}

/* HMAC with the inner and outer states precomputed once per key: PBKDF2 reuses them. */
struct hmac {
	struct sha256 inner, outer;
};

static void hmac_init(struct hmac *m, const void *key, size_t klen)
{
	uint8_t k[64] = {0}, pad[64];
	int i;

	if (klen > 64)
		rl_sha256(key, klen, k);
	else
		memcpy(k, key, klen);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&m->inner);
	sha256_update(&m->inner, pad, 64);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&m->outer);
	sha256_update(&m->outer, pad, 64);
}

static void hmac_run(const struct hmac *m, const void *msg, size_t mlen, uint8_t out[32])
{
	struct sha256 s = m->inner;

	sha256_update(&s, msg, mlen);
	sha256_final(&s, out);
	s = m->outer;
	sha256_update(&s, out, 32);
	sha256_final(&s, out);
}

void rl_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
	struct hmac m;

	hmac_init(&m, key, klen);
	hmac_run(&m, msg, mlen, out);
}

void rl_pbkdf2_sha256(const void *pass, size_t plen, const void *salt, size_t slen,
		      uint32_t iterations, uint8_t *out, size_t outlen)
{
	uint8_t u[32], t[32], ctr[4];
	struct hmac m;
	struct sha256 s;
	uint32_t block, it;
	size_t i, n;

	hmac_init(&m, pass, plen);
	for (block = 1; outlen; block++) {
		ctr[0] = (uint8_t)(block >> 24), ctr[1] = (uint8_t)(block >> 16);
		ctr[2] = (uint8_t)(block >> 8), ctr[3] = (uint8_t)block;
		s = m.inner;
		sha256_update(&s, salt, slen);
		sha256_update(&s, ctr, 4);
		sha256_final(&s, u);
		s = m.outer;
		sha256_update(&s, u, 32);
		sha256_final(&s, u);
		memcpy(t, u, 32);
		for (it = 1; it < iterations; it++) {
			hmac_run(&m, u, 32, u);
			for (i = 0; i < 32; i++)
				t[i] ^= u[i];
		}
		n = outlen < 32 ? outlen : 32;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
	}
}

struct pbkdf2_job {
	uint8_t pass[256], salt[256];
	size_t plen, slen, outlen;
	uint32_t iterations;
	uint8_t key[64];
	rl_pbkdf2_cb cb;
	void *arg;
};

static void pbkdf2_work(void *arg)
{
	struct pbkdf2_job *j = arg;

	rl_pbkdf2_sha256(j->pass, j->plen, j->salt, j->slen, j->iterations, j->key, j->outlen);
}

static void pbkdf2_done(void *arg, int status)
{
	struct pbkdf2_job *j = arg;

	j->cb(j->arg, status, status ? NULL : j->key, status ? 0 : j->outlen);
	free(j);
}

int rl_crypto_pbkdf2(const void *pass, size_t plen, const void *salt, size_t slen,
		     uint32_t iterations, size_t outlen, rl_pbkdf2_cb cb, void *arg)
{
	struct pbkdf2_job *j;
	int err;

	if (plen > sizeof(j->pass) || slen > sizeof(j->salt) || outlen > sizeof(j->key) || !cb)
		return UV_EINVAL;
	j = malloc(sizeof(*j));
	if (!j)
		return UV_ENOMEM;
	memcpy(j->pass, pass, plen);
	memcpy(j->salt, salt, slen);
	j->plen = plen;
	j->slen = slen;
	j->outlen = outlen;
	j->iterations = iterations;
	j->cb = cb;
	j->arg = arg;
	err = rl_pool_submit(pbkdf2_work, pbkdf2_done, j);
	if (err)
		free(j);
	return err;
}
