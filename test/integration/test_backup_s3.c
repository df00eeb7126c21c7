/*
 * test_backup_s3.c — snapshots from a real etcd to a real S3-compatible
 * server (SeaweedFS, test/helpers/s3_proc.h), through the code the
 * controller runs: the S3 client (one PUT, multipart, list, delete, the
 * metadata copy), the streamed snapshot (backup_run.c), the checked
 * download a restore starts from, and `etcdutl snapshot restore` on what
 * was downloaded. Faults: the server killed mid-upload (the run fails with
 * the reason, no object is left), a bit-flipped and a truncated object
 * (refused). Memory: the process's peak RSS across a large snapshot.
 *
 * BACKUP_BIG_MB sets the large database (default 256; the 1 GiB
 * with BACKUP_BIG_MB=1024). Skipped when weed or etcd is not built.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "backup.h"
#include "../../controller/backup_run.h"
#include "etcd.h"
#include "../helpers/etcd_proc.h"
#include "s3.h"
#include "../helpers/s3_proc.h"
#include "snapshot.h"

#define BUCKET "etcd-backups"

static struct {
	struct s3_proc s3;
	struct etcd_proc *m;
	bool up;
	char tmp[256];
} T;

static struct s3_client *client(int64_t part_size)
{
	struct eo_err err = {0};
	struct s3_conf c = {.endpoint = T.s3.endpoint, .bucket = BUCKET, .path_style = true,
			    .access_key = S3_PROC_ACCESS_KEY, .secret_key = S3_PROC_SECRET_KEY,
			    .part_size = part_size, .stall_timeout_ms = 10000};
	struct s3_client *s = s3_client_new(&c, &err);
	if (!s)
		fail_msg("s3 client: %s", err.msg);
	return s;
}

static int setup(void **state)
{
	struct eo_err err = {0};
	char bin[512];
	if (!s3_proc_available(bin, sizeof(bin))) {
		fprintf(stderr, "skipped: SeaweedFS (weed) is not built; run scripts/kube-bins.sh\n");
		return 0;
	}
	if (etcd_proc_setup("127.17", &err) != 0) {
		fprintf(stderr, "skipped: %s\n", err.msg);
		return 0;
	}
	if (s3_proc_start(&T.s3, 60000, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	const char *extra[] = {"--quota-backend-bytes=8589934592", "--max-request-bytes=2097152", NULL};
	struct etcd_proc_opts o = {.name = "b1", .host = 1, .extra_args = extra};
	T.m = etcd_proc_start(&o, &err);
	if (!T.m || etcd_proc_wait_healthy(T.m, 20000, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	snprintf(T.tmp, sizeof(T.tmp), "%s", etcd_proc_dir());
	struct s3_client *s = client(0);
	if (s3_make_bucket(s, &err) != 0) {
		fprintf(stderr, "setup: bucket: %s\n", err.msg);
		return -1;
	}
	s3_client_free(s);
	T.up = true;
	return 0;
}

static int teardown(void **state)
{
	s3_proc_stop(&T.s3);
	etcd_proc_cleanup();
	return 0;
}

#define NEED() do { if (!T.up) skip(); } while (0)

/* A deterministic byte source of a given length. */
struct gen {
	int64_t left;
	uint32_t x;
};
static ssize_t gen_read(void *ud, char *buf, size_t n, struct eo_err *err)
{
	struct gen *g = ud;
	if ((int64_t)n > g->left)
		n = (size_t)g->left;
	for (size_t i = 0; i < n; i++) {
		g->x = g->x * 1664525u + 1013904223u;
		buf[i] = (char)(g->x >> 24);
	}
	g->left -= (int64_t)n;
	return (ssize_t)n;
}

struct sink {
	EVP_MD_CTX *md;
	int64_t bytes;
};
static int sink_write(void *ud, const char *p, size_t n, struct eo_err *err)
{
	struct sink *s = ud;
	EVP_DigestUpdate(s->md, p, n);
	s->bytes += (int64_t)n;
	return 0;
}

static void gen_sha(int64_t len, uint32_t seed, unsigned char md[32])
{
	struct gen g = {len, seed};
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	char buf[65536];
	ssize_t n;
	while ((n = gen_read(&g, buf, sizeof(buf), NULL)) > 0)
		EVP_DigestUpdate(c, buf, (size_t)n);
	unsigned int l;
	EVP_DigestFinal_ex(c, md, &l);
	EVP_MD_CTX_free(c);
}

static void get_sha(struct s3_client *s, const char *key, unsigned char md[32], int64_t *bytes)
{
	struct eo_err err = {0};
	struct sink k = {EVP_MD_CTX_new(), 0};
	EVP_DigestInit_ex(k.md, EVP_sha256(), NULL);
	if (s3_get(s, key, sink_write, &k, NULL, &err) != 0)
		fail_msg("get %s: %s", key, err.msg);
	unsigned int l;
	EVP_DigestFinal_ex(k.md, md, &l);
	EVP_MD_CTX_free(k.md);
	*bytes = k.bytes;
}

struct listing {
	char keys[16][256];
	int64_t sizes[16];
	int n;
};
static int list_fn(const struct s3_object *o, void *ud)
{
	struct listing *l = ud;
	if (l->n < 16) {
		eo_strlcpy(l->keys[l->n], o->key, sizeof(l->keys[0]));
		l->sizes[l->n++] = o->size;
	}
	return 0;
}
static struct listing list(struct s3_client *s, const char *prefix)
{
	struct listing l = {0};
	struct eo_err err = {0};
	if (s3_list(s, prefix, list_fn, &l, &err) != 0)
		fail_msg("list: %s", err.msg);
	return l;
}

/* One PUT and a multipart upload (5 MiB parts), read back byte for byte;
 * metadata by HEAD and after a rewrite; list and delete. */
static void test_s3_round_trip(void **state)
{
	NEED();
	struct eo_err err = {0};
	struct s3_client *s = client(5 << 20);
	const int64_t sizes[] = {1000, (12 << 20) + 12345};
	for (int i = 0; i < 2; i++) {
		char key[64];
		snprintf(key, sizeof(key), "rt/obj-%d.bin", i);
		struct gen g = {sizes[i], 7u + (uint32_t)i};
		struct s3_meta meta[] = {{"revision", "42"}};
		struct s3_put_info info;
		if (s3_put(s, key, sizes[i], gen_read, &g, meta, 1, &info, &err) != 0)
			fail_msg("put %s: %s", key, err.msg);
		assert_int_equal(info.parts, i == 0 ? 0 : 3);
		unsigned char want[32], got[32];
		int64_t bytes;
		gen_sha(sizes[i], 7u + (uint32_t)i, want);
		get_sha(s, key, got, &bytes);
		assert_int_equal(bytes, sizes[i]);
		assert_memory_equal(want, got, 32);
		struct s3_object o;
		if (s3_head(s, key, &o, &err) != 0)
			fail_msg("head: %s", err.msg);
		assert_string_equal(o.meta_revision, "42");
		assert_int_equal(o.size, sizes[i]);
		struct s3_meta m2[] = {{"revision", "43"}, {"sha256", "abc"}};
		if (s3_set_meta(s, key, m2, 2, &err) != 0)
			fail_msg("set meta: %s", err.msg);
		assert_int_equal(s3_head(s, key, &o, &err), 0);
		assert_string_equal(o.meta_revision, "43");
		assert_string_equal(o.meta_sha256, "abc");
		get_sha(s, key, got, &bytes); /* the copy kept the bytes */
		assert_memory_equal(want, got, 32);
	}
	struct listing l = list(s, "rt/");
	assert_int_equal(l.n, 2);
	assert_string_equal(l.keys[0], "rt/obj-0.bin");
	assert_int_equal(l.sizes[1], sizes[1]);
	assert_int_equal(s3_delete(s, "rt/obj-0.bin", &err), 0);
	assert_int_equal(s3_delete(s, "rt/obj-0.bin", &err), 0); /* gone already: fine */
	assert_int_equal(s3_head(s, "rt/obj-0.bin", NULL, &err), -1);
	assert_int_equal(err.code, 404);
	l = list(s, "rt/");
	assert_int_equal(l.n, 1);
	/* wrong credentials: refused, and the message holds no secret */
	struct s3_conf bad = {.endpoint = T.s3.endpoint, .bucket = BUCKET, .path_style = true,
			      .access_key = S3_PROC_ACCESS_KEY, .secret_key = "not-the-secret"};
	struct s3_client *b = s3_client_new(&bad, &err);
	struct gen g = {10, 1};
	assert_int_equal(s3_put(b, "rt/x", 10, gen_read, &g, NULL, 0, NULL, &err), -1);
	assert_int_equal(err.code, 403);
	assert_null(strstr(err.msg, "not-the-secret"));
	assert_null(strstr(err.msg, S3_PROC_SECRET_KEY));
	s3_client_free(b);
	s3_client_free(s);
}

static void put_values(int64_t mb)
{
	struct eo_err err = {0};
	const char *ep = T.m->client_url;
	struct etcd_client *c = etcd_client_new(&ep, 1, NULL, 30000, &err);
	size_t vlen = 1 << 20;
	char *v = malloc(vlen);
	for (size_t i = 0; i < vlen; i++)
		v[i] = (char)('a' + i % 26);
	for (int64_t i = 0; i < mb; i++) {
		char key[64];
		snprintf(key, sizeof(key), "/big/%06lld", (long long)i);
		v[0] = (char)('A' + i % 26);
		if (etcd_put(c, key, v, vlen, &err) != 0)
			fail_msg("put %s: %s", key, err.msg);
	}
	free(v);
	etcd_client_free(c);
}

static void etcd_put_str(const char *k, const char *v)
{
	struct eo_err err = {0};
	const char *ep = T.m->client_url;
	struct etcd_client *c = etcd_client_new(&ep, 1, NULL, 5000, &err);
	if (etcd_put(c, k, v, strlen(v), &err) != 0)
		fail_msg("put: %s", err.msg);
	etcd_client_free(c);
}

static int run_cmd(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A snapshot into S3, recorded with revision, size and SHA-256 (also as
 * the object's metadata); downloaded and checked; restored by etcdutl and
 * served by etcd with the keys written before it. */
static void test_snapshot_to_s3_and_restore(void **state)
{
	NEED();
	struct eo_err err = {0};
	for (int i = 0; i < 50; i++) {
		char k[32], v[32];
		snprintf(k, sizeof(k), "/app/k%02d", i);
		snprintf(v, sizeof(v), "v%02d", i);
		etcd_put_str(k, v);
	}
	struct s3_client *s = client(5 << 20);
	struct bk_run_opts o = {.etcd_endpoint = T.m->client_url, .cluster = "default/b"};
	struct eb_snapshot snap;
	if (bk_snapshot_to_s3(&o, s, "snaps/one.db", &snap, &err) != 0)
		fail_msg("snapshot: %s", err.msg);
	assert_true(snap.revision >= 51);
	assert_int_equal(strlen(snap.sha256), 64);
	struct s3_object info;
	assert_int_equal(s3_head(s, "snaps/one.db", &info, &err), 0);
	assert_string_equal(info.meta_sha256, snap.sha256);
	assert_int_equal(info.size, snap.size);
	etcd_put_str("/app/after", "not in the snapshot");

	char path[512], data[512];
	snprintf(path, sizeof(path), "%s/restore.db", T.tmp);
	if (bk_fetch_s3(s, "snaps/one.db", snap.sha256, path, &err) != 0)
		fail_msg("fetch: %s", err.msg);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((int64_t)sb.st_size, snap.size);
	/* the hash from the object's metadata when none is given */
	assert_int_equal(bk_fetch_s3(s, "snaps/one.db", "", path, &err), 0);

	/* etcdutl restores it and etcd serves it */
	char etcd_bin[512], dir[512];
	const char *eb = getenv("ETCD_BIN");
	snprintf(etcd_bin, sizeof(etcd_bin), "%s", eb ? eb : "/usr/bin/etcd");
	snprintf(dir, sizeof(dir), "%s", dirname(etcd_bin));
	snprintf(data, sizeof(data), "%s/etcdutl", dir);
	if (access(data, X_OK) != 0) {
		fprintf(stderr, "# no etcdutl beside $ETCD_BIN (%s): restore not tried\n", etcd_bin);
		s3_client_free(s);
		return;
	}
	snprintf(data, sizeof(data), "%s/restored", T.tmp);
	char url[64];
	etcd_proc_peer_url(9, url);
	int rc = run_cmd("%s/etcdutl snapshot restore %s --data-dir %s --name r9 --initial-cluster r9=%s "
			 "--initial-advertise-peer-urls %s --initial-cluster-token fresh >%s/etcdutl.log 2>&1",
			 dir, path, data, url, url, T.tmp);
	if (rc != 0)
		run_cmd("cat %s/etcdutl.log >&2; echo dir=%s >&2", T.tmp, dir);
	assert_int_equal(rc, 0);
	char ic[128];
	snprintf(ic, sizeof(ic), "r9=%s", url);
	const char *extra[] = {"--data-dir", data, NULL};
	struct etcd_proc_opts ro = {.name = "r9", .host = 9, .initial_cluster = ic, .extra_args = extra};
	struct etcd_proc *r = etcd_proc_start(&ro, &err);
	if (!r || etcd_proc_wait_healthy(r, 20000, &err) != 0)
		fail_msg("restored etcd: %s", err.msg);
	const char *rep = r->client_url;
	struct etcd_client *rc2 = etcd_client_new(&rep, 1, NULL, 5000, &err);
	int64_t n = 0;
	assert_int_equal(etcd_count_prefix(rc2, "/app/k", &n, &err), 0);
	assert_int_equal(n, 50);
	char *val = NULL;
	size_t vl;
	assert_int_equal(etcd_get(rc2, "/app/after", &val, &vl, &err), 0);
	assert_null(val);
	struct etcd_members ms;
	assert_int_equal(etcd_member_list(rc2, false, &ms, &err), 0);
	assert_int_equal(ms.n, 1);
	etcd_client_free(rc2);
	etcd_proc_free(r);
	s3_client_free(s);
}

struct mem {
	const char *p;
	size_t left;
};
static ssize_t mem_read(void *ud, char *b, size_t k, struct eo_err *e)
{
	struct mem *m = ud;
	if (k > m->left)
		k = m->left;
	memcpy(b, m->p, k);
	m->p += k;
	m->left -= k;
	return (ssize_t)k;
}

/* Altered objects are refused: a flipped bit, a cut tail, a missing key. */
static void test_corrupt_refused(void **state)
{
	NEED();
	struct eo_err err = {0};
	struct s3_client *s = client(0);
	struct bk_run_opts o = {.etcd_endpoint = T.m->client_url};
	struct eb_snapshot snap;
	if (bk_snapshot_to_s3(&o, s, "snaps/victim.db", &snap, &err) != 0)
		fail_msg("snapshot: %s", err.msg);
	char good[512], bad[512];
	snprintf(good, sizeof(good), "%s/victim.db", T.tmp);
	snprintf(bad, sizeof(bad), "%s/victim.bad", T.tmp);
	assert_int_equal(bk_fetch_s3(s, "snaps/victim.db", snap.sha256, good, &err), 0);
	char *buf;
	size_t len;
	assert_int_equal(eo_read_file(good, 1 << 30, &buf, &len, &err), 0);
	for (int variant = 0; variant < 2; variant++) {
		size_t n = variant == 0 ? len : len - 4096;
		/* the first object has a flipped bit; the second has it back, cut short */
		buf[len / 2] ^= 0x10;
		struct mem src = {buf, n};
		int rc = s3_put(s, "snaps/victim.db", (int64_t)n, mem_read, &src, NULL, 0, NULL, &err);
		assert_int_equal(rc, 0);
		assert_int_equal(bk_fetch_s3(s, "snaps/victim.db", snap.sha256, bad, &err), -1);
		assert_int_equal(err.code, BK_EBAD_SNAPSHOT);
		assert_int_equal(access(bad, F_OK), -1); /* nothing left to restore from */
		/* and etcd's own hash catches it even without the recorded one */
		struct s3_meta m[] = {{"sha256", snap.sha256}};
		assert_int_equal(s3_set_meta(s, "snaps/victim.db", m, 1, &err), 0);
		assert_int_equal(bk_fetch_s3(s, "snaps/victim.db", "", bad, &err), -1);
		assert_int_equal(err.code, BK_EBAD_SNAPSHOT);
	}
	free(buf);
	assert_int_equal(bk_fetch_s3(s, "snaps/never-was.db", snap.sha256, bad, &err), -1);
	assert_int_equal(err.code, BK_EBAD_SNAPSHOT);
	s3_client_free(s);
}

static int64_t hwm_kb(void)
{
	char *buf;
	size_t len;
	struct eo_err err;
	int64_t v = -1;
	if (eo_read_file("/proc/self/status", 1 << 16, &buf, &len, &err) != 0)
		return -1;
	char *p = strstr(buf, "VmHWM:");
	if (p)
		v = strtoll(p + 6, NULL, 10);
	free(buf);
	return v;
}

/* Reset the peak (Linux: writing 5 to clear_refs resets VmHWM). */
static void hwm_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "5", 1) != 1)
			perror("clear_refs");
		close(fd);
	}
}

struct killer {
	int64_t at;
	bool done;
};
static void kill_at(void *ud, int64_t bytes, int64_t total)
{
	struct killer *k = ud;
	if (!k->done && bytes >= k->at) {
		k->done = true;
		s3_proc_kill(&T.s3);
	}
}

/* A large database: streamed with the process's peak RSS growing by less
 * than 16 MiB; then the server killed mid-upload: the run fails with the
 * reason and no object of it is listed once the server is back. */
static void test_large_snapshot_memory_and_server_killed(void **state)
{
	NEED();
	struct eo_err err = {0};
	const char *mbs = getenv("BACKUP_BIG_MB");
	int64_t mb = mbs ? atoll(mbs) : 256;
	int64_t t0 = eo_now_ms();
	put_values(mb);
	fprintf(stderr, "# wrote %lld MiB into etcd in %.1fs\n", (long long)mb,
		(eo_now_ms() - t0) / 1000.0);
	struct s3_client *s = client(0); /* the controller's default parts: 16 MiB */
	struct bk_run_opts o = {.etcd_endpoint = T.m->client_url, .stall_ms = 10000};
	struct eb_snapshot snap;
	hwm_reset();
	int64_t before = hwm_kb();
	t0 = eo_now_ms();
	if (bk_snapshot_to_s3(&o, s, "snaps/big.db", &snap, &err) != 0)
		fail_msg("big snapshot: %s", err.msg);
	double secs = (eo_now_ms() - t0) / 1000.0;
	int64_t after = hwm_kb();
	fprintf(stderr, "# snapshot of %lld bytes to S3 in %.1fs (%.1f MiB/s); peak RSS %lld → %lld KiB "
		"(+%lld KiB)\n", (long long)snap.size, secs, snap.size / 1048576.0 / secs,
		(long long)before, (long long)after, (long long)(after - before));
	assert_true(snap.size > mb << 20);
#ifndef __SANITIZE_ADDRESS__ /* AddressSanitizer's quarantine keeps freed memory resident */
	assert_true(after - before < 16 * 1024);
#endif

	/* the server dies a third of the way */
	struct killer k = {snap.size / 3, false};
	o.progress = kill_at;
	o.progress_ud = &k;
	t0 = eo_now_ms();
	assert_int_equal(bk_snapshot_to_s3(&o, s, "snaps/cut.db", &snap, &err), -1);
	fprintf(stderr, "# server killed mid-upload: failed after %.1fs: %s\n",
		(eo_now_ms() - t0) / 1000.0, err.msg);
	assert_true(k.done);
	assert_true(strstr(err.msg, "s3 ") != NULL);
	if (s3_proc_restart(&T.s3, 60000, &err) != 0)
		fail_msg("restart: %s", err.msg);
	struct listing l = list(s, "snaps/");
	for (int i = 0; i < l.n; i++)
		assert_string_not_equal(l.keys[i], "snaps/cut.db");
	assert_int_equal(s3_head(s, "snaps/cut.db", NULL, &err), -1);
	s3_client_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_round_trip),
		cmocka_unit_test(test_snapshot_to_s3_and_restore),
		cmocka_unit_test(test_corrupt_refused),
		cmocka_unit_test(test_large_snapshot_memory_and_server_killed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
