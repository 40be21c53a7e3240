/*
 * png_ink.h — how much of a browser's screenshot is drawn: the tests that open loopscope's pages
 * in headless Chromium (tests/heap, tests/agent/test_report_page.c) decode its PNG here.
 */
#ifndef LSC_TEST_PNG_INK_H
#define LSC_TEST_PNG_INK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Share of the pixels of an 8-bit RGB(A) PNG, in its rows y0 to y1 (excluded; y1 0: to the
 * end), that are not near-white; -1 when it cannot be read. Decoded here (zlib, the five
 * filters) so that the test needs nothing else. */
static __attribute__((unused)) double png_ink_rows(const char *file, uint32_t y0, uint32_t y1)
{
	static uint8_t buf[8 << 20], raw[64 << 20];
	uint32_t w = 0, h = 0, x, y, bpp = 0, inked = 0, rows = 0;
	size_t n, off = 8, zlen = 0;
	uint8_t *z = malloc(sizeof(buf)), *prev, *cur;
	uLongf rawlen = sizeof(raw);
	FILE *f = fopen(file, "rb");

	if (!f || !z)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (off + 12 <= n) {
		uint32_t len = (uint32_t)buf[off] << 24 | buf[off + 1] << 16 | buf[off + 2] << 8 |
			       buf[off + 3];
		const uint8_t *type = buf + off + 4, *d = buf + off + 8;

		if (off + 12 + len > n)
			break;
		if (!memcmp(type, "IHDR", 4)) {
			w = (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
			h = (uint32_t)d[4] << 24 | d[5] << 16 | d[6] << 8 | d[7];
			bpp = d[8] == 8 && d[9] == 6 ? 4 : d[8] == 8 && d[9] == 2 ? 3 : 0;
		} else if (!memcmp(type, "IDAT", 4)) {
			memcpy(z + zlen, d, len);
			zlen += len;
		}
		off += 12 + len;
	}
	if (!bpp || !w || !h || uncompress(raw, &rawlen, z, zlen) != Z_OK ||
	    rawlen < (uLongf)h * (1 + w * bpp)) {
		free(z);
		return -1;
	}
	free(z);
	for (y = 0; y < h; y++) {
		uint8_t ft = raw[y * (1 + w * bpp)];

		cur = raw + y * (1 + w * bpp) + 1;
		prev = y ? cur - (1 + w * bpp) : NULL;
		for (x = 0; x < w * bpp; x++) {
			int a = x >= bpp ? cur[x - bpp] : 0, b = prev ? prev[x] : 0,
			    c = prev && x >= bpp ? prev[x - bpp] : 0, pa, pb, pc, p;

			switch (ft) {
			case 1:
				cur[x] += a;
				break;
			case 2:
				cur[x] += b;
				break;
			case 3:
				cur[x] += (a + b) / 2;
				break;
			case 4:
				p = a + b - c;
				pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
				cur[x] += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
				break;
			}
		}
		if (y < y0 || (y1 && y >= y1))
			continue;
		rows++;
		for (x = 0; x < w; x++)
			inked += cur[x * bpp] < 200 || cur[x * bpp + 1] < 200 ||
				 cur[x * bpp + 2] < 200;
	}
	return rows ? (double)inked / ((double)w * rows) : -1;
}

static __attribute__((unused)) double png_ink(const char *file)
{
	return png_ink_rows(file, 0, 0);
}

#endif
