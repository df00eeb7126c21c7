/*
 * progress.c — the live progress of `kubectl etcd scale`, derived from
 * successive snapshots of the EtcdCluster's status. Pure: snapshots and a
 * clock in, lines out.
 *
 * The one idea: progress is a level, not an event. Each step of one member
 * has five sub-steps in a fixed order (up: learner added → Pod ready → caught
 * up → promoted → healthy; down: leadership transferred → member removed →
 * StatefulSet shrunk → volume deleted → healthy), and every snapshot implies
 * a lowest level reached — from status.scaling.step, which the controller
 * writes before each action (EC_STEP_* in cluster.h), and from the members it
 * publishes. The display prints every sub-step between the level it showed
 * last and the level now implied, so a step that went too fast for a status
 * update (StartPod straight to Promote, or a whole step between two watch
 * events) still reads as the full story, and nothing is ever printed twice.
 * What the controller wrote (member ids, messages) is made safe for the
 * terminal (term.h) before it goes into a line.
 */
#include "render.h"
#include "plugin.h"
#include "term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARROW "\xe2\x86\x92"
#define LEVEL_HEALTHY 5

void progress_init(struct progress *p, const char *name, int from, int to, int64_t now_ms)
{
	memset(p, 0, sizeof(*p));
	eo_strlcpy(p->name, name, sizeof(p->name));
	p->from = from;
	p->to = to;
	p->dir = to >= from ? 1 : -1;
	p->nsteps = abs(to - from);
	p->started_ms = p->step_started_ms = now_ms;
	snprintf(p->reached, sizeof(p->reached), "%d member%s (nothing changed yet)", from,
		 from == 1 ? "" : "s");
}

static int elapsed_line(struct progress *p, const char *label, int64_t now_ms, struct eo_buf *out)
{
	char el[32];
	dur_text(now_ms - p->step_started_ms, el, sizeof(el));
	int pad = 40 - (int)pl_text_width(label);
	return eo_buf_printf(out, "  %s%*s %s\n", label, pad > 0 ? pad : 0, "", el);
}

static void begin_step(struct progress *p, int k, int64_t now_ms, struct eo_buf *out)
{
	p->step = k;
	p->step_from = p->from + p->dir * (k - 1);
	p->step_to = p->step_from + p->dir;
	p->level = 0;
	p->transfer_needed = false;
	p->member_id[0] = '\0';
	p->step_started_ms = now_ms;
	eo_buf_printf(out, "step %d/%d: %d " ARROW " %d\n", k, p->nsteps, p->step_from, p->step_to);
	snprintf(p->reached, sizeof(p->reached), "step %d/%d (%d " ARROW " %d) started", k,
		 p->nsteps, p->step_from, p->step_to);
}

/* The text of sub-step lvl of the current step; "" when it did not happen
 * (no leadership transfer was needed). */
static void level_text(const struct progress *p, int lvl, const struct etcd_cluster *c, char *buf,
		       size_t size)
{
	int t = p->step_to;
	if (lvl == LEVEL_HEALTHY) {
		int voters = c->status.replicas == t && !c->status.scaling.active ? c->status.replicas : t;
		int ready = c->status.replicas == t && !c->status.scaling.active
				    ? c->status.ready_replicas : t;
		snprintf(buf, size, "healthy (%d/%d voters)", ready, voters);
		return;
	}
	if (p->dir > 0) {
		switch (lvl) {
		case 1:
			if (p->member_id[0])
				snprintf(buf, size, "learner added (id %s)", p->member_id);
			else
				snprintf(buf, size, "learner added");
			return;
		case 2: {
			char name[sizeof(p->name)];
			snprintf(buf, size, "Pod %s-%d ready", term_safe(name, sizeof(name), p->name),
				 t - 1);
			return;
		}
		case 3:
			snprintf(buf, size, "caught up");
			return;
		default:
			snprintf(buf, size, "promoted");
			return;
		}
	}
	switch (lvl) {
	case 1:
		snprintf(buf, size, "%s", p->transfer_needed ? "leadership transferred" : "");
		return;
	case 2:
		snprintf(buf, size, "member removed");
		return;
	case 3:
		snprintf(buf, size, "StatefulSet shrunk");
		return;
	default:
		snprintf(buf, size, "volume deleted");
		return;
	}
}

static void emit_to(struct progress *p, int lvl, const struct etcd_cluster *c, int64_t now_ms,
		    struct eo_buf *out)
{
	while (p->level < lvl) {
		char text[128];
		p->level++;
		level_text(p, p->level, c, text, sizeof(text));
		if (!text[0])
			continue;
		elapsed_line(p, text, now_ms, out);
		snprintf(p->reached, sizeof(p->reached), "step %d/%d (%d " ARROW " %d): %s", p->step,
			 p->nsteps, p->step_from, p->step_to, text);
	}
}

static bool ours(const struct progress *p, const struct ec_scaling *s)
{
	return s->active && s->from == p->step_from && s->to == p->step_to;
}

/* Whether the snapshot shows the current step finished. */
static bool step_done(const struct progress *p, const struct etcd_cluster *c)
{
	const struct ec_scaling *s = &c->status.scaling;
	int t = p->step_to, voters = c->status.replicas;
	if (s->active) {
		/* A later step of the same scale is in flight: ours settled. */
		return p->dir * (s->from - t) >= 0 && p->dir * (s->to - s->from) > 0 &&
		       !ours(p, s);
	}
	if (voters == t && c->status.ready_replicas == t && c->status.learners == 0)
		return true;
	return p->dir * (voters - t) > 0 && c->status.ready_replicas == voters &&
	       c->status.learners == 0;
}

static int level_of(struct progress *p, const struct etcd_cluster *c)
{
	const struct ec_scaling *s = &c->status.scaling;
	int lvl = 0, t = p->step_to;
	/* Another step in flight (one that lands before ours starts, e.g. the
	 * step a take-over lets finish): its members say nothing about ours. */
	if (s->active && !ours(p, s))
		return p->level;
	if (p->dir > 0) {
		if (ours(p, s)) {
			static const char *const order[] = {EC_STEP_ADD_LEARNER, EC_STEP_START_POD,
							    EC_STEP_CATCH_UP, EC_STEP_PROMOTE,
							    EC_STEP_VERIFY};
			for (int i = 0; i < 5; i++)
				if (strcmp(s->step, order[i]) == 0)
					lvl = i;
			if (s->member_id[0] && lvl >= 1)
				term_safe(p->member_id, sizeof(p->member_id), s->member_id);
		}
		for (int i = 0; i < c->status.nmembers; i++) {
			const struct ec_member *m = &c->status.members[i];
			if (m->learner) {
				if (lvl < 1)
					lvl = 1;
				if (!p->member_id[0] && m->id[0])
					term_safe(p->member_id, sizeof(p->member_id), m->id);
			}
		}
		if (c->status.replicas >= t && lvl < 4)
			lvl = 4;
		return lvl;
	}
	if (ours(p, s)) {
		if (strcmp(s->step, EC_STEP_TRANSFER_LEADERSHIP) == 0)
			p->transfer_needed = true;
		else if (strcmp(s->step, EC_STEP_REMOVE_MEMBER) == 0)
			lvl = 1;
		else if (strcmp(s->step, EC_STEP_SHRINK) == 0)
			lvl = 2;
		else if (strcmp(s->step, EC_STEP_DELETE_VOLUME) == 0)
			lvl = 3;
	}
	if (c->status.replicas <= t && c->status.replicas > 0 && lvl < 2)
		lvl = 2;
	return lvl;
}

/* The leaving member of a scale-down step led: the controller moves
 * leadership first (it may do so between two snapshots). */
static void note_leader(struct progress *p, const struct etcd_cluster *c)
{
	if (p->dir > 0 || p->level > 0)
		return;
	char leaving[300];
	snprintf(leaving, sizeof(leaving), "%s-%d", p->name, p->step_from - 1);
	if (c->status.leader[0] && strcmp(c->status.leader, leaving) == 0)
		p->transfer_needed = true;
}

static const char *progressing_message(const struct etcd_cluster *c)
{
	const struct ec_condition *k = cluster_condition(&c->status, "Progressing");
	return k && k->message[0] ? k->message : "";
}

enum progress_result progress_feed(struct progress *p, const struct etcd_cluster *c,
				   int64_t now_ms, struct eo_buf *out)
{
	if (p->nsteps == 0)
		return PROGRESS_DONE;
	if (p->step == 0)
		begin_step(p, 1, p->started_ms, out); /* the write started it */
	const struct ec_scaling *s = &c->status.scaling;
	char safe[sizeof(p->failure)];
	for (;;) {
		if (s->active && strcmp(s->step, EC_STEP_ROLLBACK) == 0) {
			snprintf(p->failure, sizeof(p->failure), "step %d " ARROW " %d was rolled back: %s",
				 s->from, s->to, term_safe(safe, sizeof(safe), s->message[0] ? s->message
								     : progressing_message(c)));
			return PROGRESS_FAILED;
		}
		if (c->status.phase == EC_FAILED) {
			const char *why = progressing_message(c);
			const struct ec_condition *d = cluster_condition(&c->status, "Degraded");
			if (d && strcmp(d->status, "True") == 0 && d->message[0])
				why = d->message;
			snprintf(p->failure, sizeof(p->failure), "the cluster is Failed: %s",
				 why[0] ? term_safe(safe, sizeof(safe), why)
					: "no reason given in its conditions");
			return PROGRESS_FAILED;
		}
		note_leader(p, c);
		if (!step_done(p, c))
			break;
		emit_to(p, LEVEL_HEALTHY, c, now_ms, out);
		if (p->step_to == p->to) {
			snprintf(p->reached, sizeof(p->reached), "%d member%s", p->to,
				 p->to == 1 ? "" : "s");
			return PROGRESS_DONE;
		}
		begin_step(p, p->step + 1, now_ms, out);
	}
	emit_to(p, level_of(p, c), c, now_ms, out);
	/* A member replaced on the way (it lost its volume) is news worth a line. */
	if (s->active && strcmp(s->step, EC_STEP_REPLACE) == 0 && s->message[0] &&
	    strcmp(s->message, p->last_note) != 0) {
		eo_strlcpy(p->last_note, s->message, sizeof(p->last_note));
		eo_buf_printf(out, "  note: ");
		term_safe_append(out, s->message, 0);
		eo_buf_append(out, "\n", 1);
	}
	return PROGRESS_WAITING;
}
