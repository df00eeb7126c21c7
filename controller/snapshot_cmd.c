/*
 * snapshot_cmd.c — `etcd-controller snapshot-fetch` (snapshot_cmd.h).
 *
 * The one idea: the volume is cleared before anything is written, so a
 * restore Pod that runs again (its node lost, a retry after S3 was down)
 * never mixes two attempts; this Pod only ever runs before any member of
 * its cluster exists, so nothing on the claim can be anyone's data yet.
 * The last line logged is the reason the controller shows when it fails.
 */
#include "snapshot_cmd.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup_pod.h"
#include "backup_run.h"
#include "log.h"
#include "member_init.h"
#include "s3.h"

static const char usage[] =
	"usage: etcd-controller snapshot-fetch --out FILE --data-dir DIR --member-id-file FILE\n"
	"         --peer-url URL --token TOKEN [--sha256 HEX]\n"
	"         (--s3-endpoint URL --bucket B --key K [--region R] [--path-style] | --file PATH)\n"
	"\n"
	"The first step of a restore Pod: clears DIR, downloads the snapshot to FILE and checks\n"
	"its SHA-256 (--sha256, else the object's x-amz-meta-sha256) and etcd's own hash at\n"
	"its end, then records member 0's id and the new cluster's id in --member-id-file.\n"
	"S3 credentials come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.\n"
	"Exit status: 0 ok, 3 snapshot missing or refused, 1 other failure, 2 usage.\n";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int snapcmd_fetch_main(int argc, char **argv)
{
	enum { O_OUT = 1000, O_DATA, O_ID, O_PEER, O_TOKEN, O_SHA, O_EP, O_BUCKET, O_KEY, O_REGION,
	       O_PATH_STYLE, O_FILE, O_HELP };
	static const struct option lo[] = {
		{"out", required_argument, NULL, O_OUT},
		{"data-dir", required_argument, NULL, O_DATA},
		{"member-id-file", required_argument, NULL, O_ID},
		{"peer-url", required_argument, NULL, O_PEER},
		{"token", required_argument, NULL, O_TOKEN},
		{"sha256", required_argument, NULL, O_SHA},
		{"s3-endpoint", required_argument, NULL, O_EP},
		{"bucket", required_argument, NULL, O_BUCKET},
		{"key", required_argument, NULL, O_KEY},
		{"region", required_argument, NULL, O_REGION},
		{"path-style", no_argument, NULL, O_PATH_STYLE},
		{"file", required_argument, NULL, O_FILE},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *data = NULL, *idf = NULL, *peer = NULL, *token = NULL, *sha = "",
		   *ep = NULL, *bucket = NULL, *key = NULL, *region = NULL, *file = NULL;
	bool path_style = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_OUT: out = optarg; break;
		case O_DATA: data = optarg; break;
		case O_ID: idf = optarg; break;
		case O_PEER: peer = optarg; break;
		case O_TOKEN: token = optarg; break;
		case O_SHA: sha = optarg; break;
		case O_EP: ep = optarg; break;
		case O_BUCKET: bucket = optarg; break;
		case O_KEY: key = optarg; break;
		case O_REGION: region = optarg; break;
		case O_PATH_STYLE: path_style = true; break;
		case O_FILE: file = optarg; break;
		case O_HELP: fputs(usage, stdout); return 0;
		default:
			fprintf(stderr, "snapshot-fetch: unknown or incomplete flag %s\n%s", argv[optind - 1], usage);
			return 2;
		}
	}
	if (!out || !data || !idf || !peer || !token || (!file && (!ep || !bucket || !key))) {
		fprintf(stderr, "snapshot-fetch: missing flags\n%s", usage);
		return 2;
	}
	log_init("snapshot-fetch", EO_LOG_INFO);
	struct eo_err err = {0};
	char q[300];
	if ((nftw(data, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) ||
	    (unlink(idf) != 0 && errno != ENOENT)) {
		log_error("cannot clear the data dir", "dir=%s error=%s", data, strerror(errno));
		return 1;
	}
	int rc;
	int64_t t0 = eo_now_ms();
	if (file) {
		log_info("fetching", "file=%s", log_q(q, sizeof(q), file));
		rc = bk_fetch_file(file, sha, out, &err);
	} else {
		const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
		struct s3_conf conf = {.endpoint = ep, .bucket = bucket, .region = region,
				       .path_style = path_style, .access_key = ak ? ak : "",
				       .secret_key = sk ? sk : ""};
		struct s3_client *s3 = s3_client_new(&conf, &err);
		log_info("fetching", "bucket=%s key=%s", bucket, log_q(q, sizeof(q), key));
		rc = s3 ? bk_fetch_s3(s3, key, sha, out, &err) : -1;
		s3_client_free(s3);
	}
	if (rc != 0) {
		log_error("snapshot not usable", "error=%s", log_q(q, sizeof(q), err.msg));
		/* the last line: what the controller shows as the reason */
		fprintf(stderr, "%s\n", err.msg);
		return err.code == BK_EBAD_SNAPSHOT ? RS_EXIT_BAD_SNAPSHOT : 1;
	}
	uint64_t member = mi_bootstrap_id(peer, token);
	uint64_t cluster = member ? mi_bootstrap_cluster_id(member) : 0;
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%llu\n%llu\n", (unsigned long long)member,
			 (unsigned long long)cluster);
	if (!member || eo_write_file(idf, buf, (size_t)n, 0644, &err) != 0) {
		log_error("member id not recorded", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	char hex[17];
	etcd_id_hex(member, hex);
	log_info("snapshot checked and ready for etcdutl", "file=%s ms=%lld member_id=%s", out,
		 (long long)(eo_now_ms() - t0), hex);
	return 0;
}

/* ---- snapshot-save ------------------------------------------------------ */

static int64_t status_kb(const char *field)
{
	char *buf;
	size_t len;
	struct eo_err err;
	int64_t v = -1;
	if (eo_read_file("/proc/self/status", 1 << 16, &buf, &len, &err) != 0)
		return -1;
	char *p = strstr(buf, field);
	if (p)
		v = strtoll(p + strlen(field), NULL, 10);
	free(buf);
	return v;
}

static const char save_usage[] =
	"usage: etcd-controller snapshot-save --endpoint ETCD_URL\n"
	"         (--out FILE | --s3-endpoint URL --bucket B --key K [--region R] [--path-style]\n"
	"          [--part-size MIB])\n"
	"\n"
	"Streams a snapshot from the etcd member at ETCD_URL to FILE (written as FILE.partial,\n"
	"renamed when whole) or to S3, the way the controller does for an EtcdBackup, checking\n"
	"etcd's hash on the way. Prints one JSON line: key, revision, size, sha256, takenAt,\n"
	"seconds, and this process's resident memory before and at its peak (KiB).\n"
	"S3 credentials come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.\n";

int snapcmd_save_main(int argc, char **argv)
{
	enum { O_EP = 1000, O_OUT, O_S3, O_BUCKET, O_KEY, O_REGION, O_PATH_STYLE, O_PART, O_HELP };
	static const struct option lo[] = {
		{"endpoint", required_argument, NULL, O_EP},
		{"out", required_argument, NULL, O_OUT},
		{"s3-endpoint", required_argument, NULL, O_S3},
		{"bucket", required_argument, NULL, O_BUCKET},
		{"key", required_argument, NULL, O_KEY},
		{"region", required_argument, NULL, O_REGION},
		{"path-style", no_argument, NULL, O_PATH_STYLE},
		{"part-size", required_argument, NULL, O_PART},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *ep = NULL, *out = NULL, *s3ep = NULL, *bucket = NULL, *key = NULL, *region = NULL;
	bool path_style = false;
	int64_t part_mb = 0;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_EP: ep = optarg; break;
		case O_OUT: out = optarg; break;
		case O_S3: s3ep = optarg; break;
		case O_BUCKET: bucket = optarg; break;
		case O_KEY: key = optarg; break;
		case O_REGION: region = optarg; break;
		case O_PATH_STYLE: path_style = true; break;
		case O_PART: part_mb = atoll(optarg); break;
		case O_HELP: fputs(save_usage, stdout); return 0;
		default:
			fprintf(stderr, "snapshot-save: unknown or incomplete flag %s\n%s", argv[optind - 1],
				save_usage);
			return 2;
		}
	}
	if (!ep || (!out && (!s3ep || !bucket || !key))) {
		fprintf(stderr, "snapshot-save: missing flags\n%s", save_usage);
		return 2;
	}
	log_init("snapshot-save", EO_LOG_INFO);
	int64_t rss0 = status_kb("VmRSS:");
	struct eo_err err = {0};
	struct bk_run_opts o = {.etcd_endpoint = ep, .stall_ms = 60000};
	struct eb_snapshot snap;
	int64_t t0 = eo_now_ms();
	int rc;
	if (out) {
		rc = bk_snapshot_to_file(&o, out, &snap, &err);
	} else {
		const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
		struct s3_conf conf = {.endpoint = s3ep, .bucket = bucket, .region = region,
				       .path_style = path_style, .access_key = ak ? ak : "",
				       .secret_key = sk ? sk : "", .part_size = part_mb << 20};
		struct s3_client *s3 = s3_client_new(&conf, &err);
		rc = s3 ? bk_snapshot_to_s3(&o, s3, key, &snap, &err) : -1;
		s3_client_free(s3);
	}
	double secs = (eo_now_ms() - t0) / 1000.0;
	if (rc != 0) {
		char q[300];
		log_error("snapshot failed", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	printf("{\"key\":\"%s\",\"revision\":%lld,\"size\":%lld,\"sha256\":\"%s\",\"takenAt\":\"%s\","
	       "\"seconds\":%.3f,\"rssStartKiB\":%lld,\"rssPeakKiB\":%lld}\n",
	       snap.key, (long long)snap.revision, (long long)snap.size, snap.sha256, snap.taken_at, secs,
	       (long long)rss0, (long long)status_kb("VmHWM:"));
	return 0;
}
