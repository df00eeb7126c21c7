/*
 * b64.c — base64 (standard alphabet, padded) through OpenSSL's EVP block
 * coder. A file of its own so that a program that never calls it (the
 * webhook, whose TLS library is GnuTLS) does not load libcrypto for it.
 */
#include "eo.h"

#include <stdlib.h>

#include <openssl/evp.h>

char *eo_b64_encode(const void *data, size_t len)
{
	size_t out_len = 4 * ((len + 2) / 3);
	unsigned char *out = malloc(out_len + 1);
	if (!out)
		abort();
	int n = EVP_EncodeBlock(out, data, (int)len);
	out[n < 0 ? 0 : n] = '\0';
	return (char *)out;
}

int eo_b64_decode(const char *text, size_t text_len, char **out, size_t *out_len,
		  struct eo_err *err)
{
	/* EVP_DecodeBlock wants a multiple of 4 and keeps padding bytes as zeros;
	 * count the '=' so the true length comes out. */
	if (text_len % 4 != 0)
		return eo_err_set(err, EO_EPARSE, "base64: length %zu is not a multiple of 4", text_len);
	size_t pad = 0;
	if (text_len >= 1 && text[text_len - 1] == '=')
		pad++;
	if (text_len >= 2 && text[text_len - 2] == '=')
		pad++;
	unsigned char *buf = malloc(text_len / 4 * 3 + 1);
	if (!buf)
		abort();
	int n = text_len ? EVP_DecodeBlock(buf, (const unsigned char *)text, (int)text_len) : 0;
	if (n < 0) {
		free(buf);
		return eo_err_set(err, EO_EPARSE, "base64: invalid characters");
	}
	size_t len = (size_t)n - pad;
	buf[len] = '\0';
	*out = (char *)buf;
	if (out_len)
		*out_len = len;
	return 0;
}
