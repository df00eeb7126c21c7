/*
 * member_files.c — what the member init step and the guard read from a
 * member's volume: whether the data directory holds a WAL, the member (and
 * cluster) id recorded beside it, and where that record lives; and the copy
 * that installs the guard where etcd's container can run it.
 *
 * The one idea: this file needs libc and eo/log only, so the guard
 * (member_guard.c) links statically without libcurl or OpenSSL and runs in
 * etcd's distroless image, before every etcd start (guard_main.c,
 * build/etcd-member-guard). The init step uses the very same functions: the
 * two can never disagree about what "data present" means.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "member_init.h"

/* etcd's own test for existing data: a WAL directory with a .wal file.
 * Only "not there" (ENOENT) means no data; any other failure to look is
 * not knowing, which must never be taken for an empty volume. (why: a
 * message, cut to size if need be.) */
int mi_data_present(const char *data_dir, char *why, size_t size)
{
	char path[600];
	int n = snprintf(path, sizeof(path), "%s/member/wal", data_dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(why, size, "the data directory's path is over %zu characters",
			 sizeof(path) - sizeof("/member/wal"));
		return -1;
	}
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, size, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct dirent *e;
	int found = 0;
	errno = 0;
	while (!found && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		found = len > 4 && strcmp(e->d_name + len - 4, ".wal") == 0;
	}
	if (!found && errno) {
		snprintf(why, size, "reading %s: %s", path, strerror(errno));
		found = -1;
	}
	closedir(d);
	return found;
}

static bool parse_u64(const char *s, const char **rest, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0 || (*end != '\n' && *end != '\0'))
		return false;
	*out = v;
	*rest = *end ? end + 1 : end;
	return true;
}

/* The id file: "<member id>\n", then "<cluster id>\n" (files of older
 * versions, and of a founding before this one, have only the first line). */
bool mi_read_id_file(const char *path, uint64_t *member_id, uint64_t *cluster_id)
{
	char *buf = NULL;
	size_t len;
	struct eo_err err;
	*member_id = *cluster_id = 0;
	if (eo_read_file(path, 64, &buf, &len, &err) != 0)
		return false;
	const char *rest;
	uint64_t cluster;
	bool ok = parse_u64(buf, &rest, member_id);
	if (ok && *rest && parse_u64(rest, &rest, &cluster))
		*cluster_id = cluster;
	free(buf);
	return ok;
}

int mi_default_id_file(const char *data_dir, char *out, size_t size, struct eo_err *err)
{
	/* Beside the data directory, on the same volume. */
	char dir[512];
	if (eo_strlcpy(dir, data_dir, sizeof(dir)) != 0)
		return eo_err_set(err, EO_EINVAL, "member-init: --data-dir: longer than %zu characters",
				  sizeof(dir) - 1);
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else if (slash)
		dir[1] = '\0';
	else
		eo_strlcpy(dir, ".", sizeof(dir));
	/* Cut, the path would name another file: the whole of it or an error. */
	int w = snprintf(out, size, "%s%smember-id", dir, dir[strlen(dir) - 1] == '/' ? "" : "/");
	if (w >= 0 && (size_t)w < size)
		return 0;
	out[0] = '\0';
	return eo_err_set(err, EO_EINVAL,
			  "member-init: the member-id file (beside --data-dir) would be %d characters, "
			  "over its limit of %zu: shorten the paths it is made of", w, size - 1);
}

int mi_install_guard(const char *from, const char *to, struct eo_err *err)
{
	char *bin = NULL;
	size_t len;
	/* The guard is a small static program; the cap only stops a wrong path
	 * (a directory, a device) from being read whole. */
	if (eo_read_file(from, 16u << 20, &bin, &len, err) != 0) {
		eo_err_prefix(err, "member-init: --install-guard (the guard ships beside "
			      "etcd-controller in the operator's image): ");
		return -1;
	}
	/* Atomic (a temporary file, then rename): an init step run again in the
	 * same Pod replaces a read-only copy, and etcd's container never sees a
	 * half-written one. */
	int rc = eo_write_file(to, bin, len, 0555, err);
	free(bin);
	if (rc != 0)
		eo_err_prefix(err, "member-init: --install-guard: ");
	return rc;
}
