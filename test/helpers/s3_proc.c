/*
 * s3_proc.c — SeaweedFS as a child process (s3_proc.h).
 */
#include "s3_proc.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

bool s3_proc_available(char *bin, size_t size)
{
	const char *env = getenv("S3_WEED_BIN");
	if (env && *env) {
		eo_strlcpy(bin, env, size);
		return access(bin, X_OK) == 0;
	}
	FILE *f = popen("scripts/kube-bins.sh --print 2>/dev/null", "r");
	if (!f)
		return false;
	char line[1024];
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "s3=", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(bin, size, "%s/weed", line + 3);
		found = access(bin, X_OK) == 0;
	}
	pclose(f);
	return found;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return s * n;
}

/* Any HTTP answer from the S3 port (403 without credentials) means up. */
static bool answers(const char *url)
{
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return rc == CURLE_OK && code > 0;
}

static int spawn(struct s3_proc *p, long timeout_ms, struct eo_err *err)
{
	char a[12][128];
	snprintf(a[0], 128, "-dir=%s/data", p->dir);
	snprintf(a[1], 128, "-master.port=%d", p->base);
	snprintf(a[2], 128, "-volume.port=%d", p->base + 1);
	snprintf(a[3], 128, "-filer.port=%d", p->base + 2);
	snprintf(a[4], 128, "-s3.port=%d", p->base + 3);
	snprintf(a[5], 128, "-s3.config=%s/s3.json", p->dir);
	char logp[300];
	snprintf(logp, sizeof(logp), "%s/weed.log", p->dir);
	pid_t pid = fork();
	if (pid < 0)
		return eo_err_set(err, EO_ESYS, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		FILE *l = freopen(logp, "a", stdout);
		(void)l;
		dup2(1, 2);
		execl(p->bin, "weed", "server", a[0], "-ip=127.0.0.1", "-ip.bind=127.0.0.1", a[1], a[2],
		      a[3], "-s3", a[4], a[5], "-s3.port.iceberg=0", "-s3.port.lance=0",
		      "-master.telemetry=false", "-volume.max=8", "-master.volumeSizeLimitMB=256",
		      (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	p->pid = pid;
	int64_t until = eo_now_ms() + timeout_ms;
	while (eo_now_ms() < until) {
		if (answers(p->endpoint))
			return 0;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			p->pid = 0;
			return eo_err_set(err, EO_ESYS, "weed exited at start (see %s)", logp);
		}
		eo_sleep_ms(200);
	}
	return eo_err_set(err, EO_ETIMEOUT, "weed's S3 port did not answer within %ld ms (see %s)",
			  timeout_ms, logp);
}

int s3_proc_start(struct s3_proc *p, long timeout_ms, struct eo_err *err)
{
	memset(p, 0, sizeof(*p));
	if (!s3_proc_available(p->bin, sizeof(p->bin)))
		return eo_err_set(err, EO_EINVAL, "weed not built: run scripts/kube-bins.sh");
	snprintf(p->dir, sizeof(p->dir), "/tmp/eo-s3-XXXXXX");
	if (!mkdtemp(p->dir))
		return eo_err_set(err, EO_ESYS, "mkdtemp: %s", strerror(errno));
	char path[300];
	snprintf(path, sizeof(path), "%s/data", p->dir);
	if (mkdir(path, 0700) != 0)
		return eo_err_set(err, EO_ESYS, "mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/s3.json", p->dir);
	char json[512];
	int n = snprintf(json, sizeof(json),
			 "{\"identities\":[{\"name\":\"backup\",\"credentials\":[{\"accessKey\":\"%s\","
			 "\"secretKey\":\"%s\"}],\"actions\":[\"Admin\",\"Read\",\"Write\",\"List\","
			 "\"Tagging\"]}]}\n", S3_PROC_ACCESS_KEY, S3_PROC_SECRET_KEY);
	if (eo_write_file(path, json, (size_t)n, 0600, err) != 0)
		return -1;
	srand((unsigned)(getpid() ^ eo_now_ms()));
	p->base = 21000 + (rand() % 800) * 10;
	snprintf(p->endpoint, sizeof(p->endpoint), "http://127.0.0.1:%d", p->base + 3);
	return spawn(p, timeout_ms, err);
}

void s3_proc_kill(struct s3_proc *p)
{
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}

int s3_proc_restart(struct s3_proc *p, long timeout_ms, struct eo_err *err)
{
	s3_proc_kill(p);
	return spawn(p, timeout_ms, err);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

void s3_proc_stop(struct s3_proc *p)
{
	s3_proc_kill(p);
	if (p->dir[0] && !getenv("S3_PROC_KEEP"))
		nftw(p->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
