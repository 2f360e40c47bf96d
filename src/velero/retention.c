#include "velero/retention.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"

#define COUNT_MAX 1000000

enum { R_LAST, R_HOURLY, R_DAILY, R_WEEKLY, R_MONTHLY, R_YEARLY, R_N };

static const char *const rule_names[R_N] = {"last",   "hourly",	 "daily",
					    "weekly", "monthly", "yearly"};

static int *rule_slot(stow_retention_policy *p, int r)
{
	switch (r) {
	case R_LAST: return &p->last;
	case R_HOURLY: return &p->hourly;
	case R_DAILY: return &p->daily;
	case R_WEEKLY: return &p->weekly;
	case R_MONTHLY: return &p->monthly;
	default: return &p->yearly;
	}
}

static int rule_count(const stow_retention_policy *p, int r)
{
	return *rule_slot((stow_retention_policy *)p, r);
}

int stow_retention_policy_parse(stow_retention_policy *out, const char *s)
{
	stow_retention_policy p = {0};
	bool seen[R_N] = {false};
	bool any = false;

	if (!out || !s)
		return stow_err_set(STOW_EINVAL, "retention: no policy");
	for (;;) {
		const char *key, *val, *end;
		size_t kn, vn;
		int r = -1;
		long v = 0;
		bool neg = false;

		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' && !any)
			return stow_err_set(STOW_EINVAL,
					    "retention: empty policy (want "
					    "e.g. \"daily=7,weekly=4\")");
		key = s;
		while (*s && *s != '=' && *s != ',' &&
		       !isspace((unsigned char)*s))
			s++;
		kn = (size_t)(s - key);
		while (isspace((unsigned char)*s))
			s++;
		if (kn == 0)
			return stow_err_set(STOW_EINVAL,
					    "retention: empty rule");
		for (int i = 0; i < R_N; i++)
			if (strlen(rule_names[i]) == kn &&
			    strncmp(rule_names[i], key, kn) == 0)
				r = i;
		if (r < 0)
			return stow_err_set(
			    STOW_EINVAL,
			    "retention: unknown rule \"%.*s\" "
			    "(want last, hourly, daily, weekly, "
			    "monthly or yearly)",
			    (int)(kn > 32 ? 32 : kn), key);
		if (*s != '=')
			return stow_err_set(
			    STOW_EINVAL, "retention: %s: missing \"=<count>\"",
			    rule_names[r]);
		s++;
		while (isspace((unsigned char)*s))
			s++;
		val = s;
		while (*s && *s != ',' && !isspace((unsigned char)*s))
			s++;
		vn = (size_t)(s - val);
		end = val;
		if (vn > 0 && *end == '-') {
			neg = true;
			end++;
		}
		if (end == val + vn)
			goto bad_count;
		for (; end < val + vn; end++) {
			if (!isdigit((unsigned char)*end))
				goto bad_count;
			if (v <= COUNT_MAX)
				v = v * 10 + (*end - '0');
		}
		if (neg)
			v = -v;
		if (v < -1 || v > COUNT_MAX)
			goto bad_count;
		if (seen[r])
			return stow_err_set(STOW_EINVAL,
					    "retention: %s given twice",
					    rule_names[r]);
		seen[r] = true;
		*rule_slot(&p, r) = (int)v;
		any = true;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		if (*s != ',')
			return stow_err_set(STOW_EINVAL,
					    "retention: expected \",\" after "
					    "%s",
					    rule_names[r]);
		s++;
		continue;
	bad_count:
		return stow_err_set(STOW_EINVAL,
				    "retention: %s: \"%.*s\" is not a count "
				    "(an integer from -1 for unlimited to %d)",
				    rule_names[r], (int)(vn > 32 ? 32 : vn),
				    val, COUNT_MAX);
	}
	{
		bool keeps = false;

		for (int i = 0; i < R_N; i++)
			keeps = keeps || rule_count(&p, i) != 0;
		if (!keeps)
			return stow_err_set(STOW_EINVAL,
					    "retention: the policy keeps "
					    "nothing (every count is 0)");
	}
	*out = p;
	return 0;
}

int stow_retention_policy_format(const stow_retention_policy *p, char *out,
				 size_t cap)
{
	size_t len = 0;

	if (!out || cap == 0)
		return stow_err_set(STOW_EINVAL, "retention: no buffer");
	out[0] = '\0';
	for (int i = 0; i < R_N; i++) {
		int c = rule_count(p, i), w;

		if (c == 0)
			continue;
		w = snprintf(out + len, cap - len, "%s%s=%d", len ? "," : "",
			     rule_names[i], c);
		if (w < 0 || (size_t)w >= cap - len)
			return stow_err_set(STOW_ENOMEM,
					    "retention: buffer too small");
		len += (size_t)w;
	}
	return 0;
}

/* ---- Decisions ---------------------------------------------------------- */

typedef enum phase_kind {
	PHASE_RUNNING, /* still being made, or a phase we do not know */
	PHASE_USABLE,  /* Completed, PartiallyFailed */
	PHASE_FAILED,  /* Failed, FailedValidation */
	PHASE_DELETING,
} phase_kind;

static phase_kind classify(const char *phase)
{
	if (!phase)
		return PHASE_RUNNING;
	if (strcmp(phase, "Completed") == 0 ||
	    strcmp(phase, "PartiallyFailed") == 0)
		return PHASE_USABLE;
	if (strcmp(phase, "Failed") == 0 ||
	    strcmp(phase, "FailedValidation") == 0)
		return PHASE_FAILED;
	if (strcmp(phase, "Deleting") == 0)
		return PHASE_DELETING;
	/* "", New, InProgress, WaitingForPluginOperations*, Finalizing*,
	 * and anything newer than this code: never delete. */
	return PHASE_RUNNING;
}

/* The reason is the concatenation of up to three parts. */
static void set_reason(stow_retention_decision *d, bool expire, const char *a,
		       const char *b, const char *c)
{
	d->expire = expire;
	snprintf(d->reason, sizeof(d->reason), "%s%s%s", a, b ? b : "",
		 c ? c : "");
}

static void decide_ttl(const stow_retention_backup *b, int64_t now,
		       stow_retention_decision *d, const char *what)
{
	if (b->expiration != 0 && b->expiration <= now)
		set_reason(d, true, "expired: ttl", NULL, NULL);
	else if (b->expiration == 0)
		set_reason(d, false, "kept: ", what, "no expiration");
	else
		set_reason(d, false, "kept: ", what, "ttl not reached");
}

/* The period of rule r that instant t falls in: a comparable key and its
 * label for the reason text. */
static int64_t period(int r, const stow_tz *tz, int64_t t, char label[32])
{
	stow_civil c;
	int64_t days, iy;
	int wk;

	stow_tz_civil(tz, t, &c);
	days = stow_days_from_civil(c.year, c.month, c.day);
	switch (r) {
	case R_HOURLY:
		snprintf(label, 32, "%04lld-%02d-%02dT%02d", (long long)c.year,
			 c.month, c.day, c.hour);
		return days * 24 + c.hour;
	case R_DAILY:
		snprintf(label, 32, "%04lld-%02d-%02d", (long long)c.year,
			 c.month, c.day);
		return days;
	case R_WEEKLY:
		stow_iso_week(c.year, c.month, c.day, &iy, &wk);
		snprintf(label, 32, "%04lld-W%02d", (long long)iy, wk);
		return iy * 100 + wk;
	case R_MONTHLY:
		snprintf(label, 32, "%04lld-%02d", (long long)c.year, c.month);
		return c.year * 12 + c.month;
	default:
		snprintf(label, 32, "%04lld", (long long)c.year);
		return c.year;
	}
}

typedef struct order_ctx {
	const stow_retention_backup *b;
	size_t i;
} order_ctx;

/* Newest first; equal times by name, descending, so the order (and so the
 * choice within a period) does not depend on the input order. */
static int newest_first(const void *x, const void *y)
{
	const order_ctx *a = x, *b = y;
	int c;

	if (a->b->created != b->b->created)
		return a->b->created > b->b->created ? -1 : 1;
	c = strcmp(b->b->name ? b->b->name : "", a->b->name ? a->b->name : "");
	if (c != 0)
		return c;
	return a->i < b->i ? -1 : a->i > b->i;
}

static void append_reason(char *r, const char *part)
{
	size_t len = strlen(r);

	if (len + strlen(part) + 3 >= STOW_RETENTION_REASON_MAX)
		return; /* the decision stands; the text is just shorter */
	snprintf(r + len, STOW_RETENTION_REASON_MAX - len, "%s%s",
		 len > 6 ? ", " : "", part);
}

int stow_retention_decide(const stow_retention_backup *backups, size_t n,
			  const stow_retention_policy *policy,
			  const char *schedule, const stow_tz *tz, int64_t now,
			  stow_retention_decision *out)
{
	_cleanup_free_ order_ctx *ord = NULL;
	size_t nord = 0;
	int left[R_N];
	int64_t last_key[R_N];
	bool have_key[R_N] = {false};
	size_t kept_last = 0;

	if ((n > 0 && (!backups || !out)) || (policy && !schedule))
		return stow_err_set(STOW_EINVAL, "retention: bad arguments");
	if (n > SIZE_MAX / sizeof(*ord))
		return stow_err_set(STOW_ENOMEM, "retention: too many backups");
	if (n > 0) {
		ord = calloc(n, sizeof(*ord));
		if (!ord)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const stow_retention_backup *b = &backups[i];
		stow_retention_decision *d = &out[i];
		bool gfs =
		    policy && b->schedule && strcmp(b->schedule, schedule) == 0;

		switch (classify(b->phase)) {
		case PHASE_RUNNING:
			set_reason(d, false, "kept: in progress (",
				   b->phase && *b->phase ? b->phase : "New",
				   ")");
			break;
		case PHASE_DELETING:
			set_reason(d, false, "kept: already deleting", NULL,
				   NULL);
			break;
		case PHASE_FAILED: decide_ttl(b, now, d, "failed, "); break;
		case PHASE_USABLE:
			if (gfs) {
				/* Decided below; expired unless a rule
				 * keeps it. */
				set_reason(d, true,
					   "expired: outside GFS policy", NULL,
					   NULL);
				ord[nord++] = (order_ctx){b, i};
			} else {
				decide_ttl(b, now, d, "");
			}
			break;
		}
	}
	if (!policy || nord == 0)
		return 0;
	qsort(ord, nord, sizeof(*ord), newest_first);
	for (int r = 0; r < R_N; r++)
		left[r] = rule_count(policy, r);
	for (size_t k = 0; k < nord; k++) {
		const stow_retention_backup *b = ord[k].b;
		stow_retention_decision *d = &out[ord[k].i];
		char reason[STOW_RETENTION_REASON_MAX] = "kept: ";
		bool keep = false;

		for (int r = 0; r < R_N; r++) {
			char label[32], part[48];
			int64_t key;

			if (left[r] == 0)
				continue;
			if (r == R_LAST) {
				snprintf(part, sizeof(part), "last %zu",
					 ++kept_last);
			} else {
				key = period(r, tz, b->created, label);
				if (have_key[r] && key == last_key[r])
					continue;
				have_key[r] = true;
				last_key[r] = key;
				snprintf(part, sizeof(part), "%s %s",
					 rule_names[r], label);
			}
			if (left[r] > 0)
				left[r]--;
			keep = true;
			append_reason(reason, part);
		}
		if (keep) {
			d->expire = false;
			memcpy(d->reason, reason, sizeof(d->reason));
		}
	}
	return 0;
}
