/* Prometheus metrics registry and text exposition (util/metrics.h). */
#include "util/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

typedef struct series {
	char **values;		    /* one per label name */
	double value;		    /* counter/gauge value; histogram sum */
	unsigned long long count;   /* histogram observations */
	unsigned long long *bucket; /* histogram: per bucket, not cumulative */
} series;

struct stow_metric_family {
	stow_metrics *reg;
	char *name;
	char *help;
	stow_metric_type type;
	char *labels[STOW_METRIC_MAX_LABELS];
	size_t nlabels;
	double buckets[STOW_METRIC_MAX_BUCKETS];
	size_t nbuckets;
	size_t max_series;
	/* Sorted by label values (compare_values) for lookup and rendering. */
	series **s;
	size_t ns, cap;
};

struct stow_metrics {
	pthread_mutex_t mu;
	stow_metric_family **f; /* sorted by name */
	size_t nf, cap;
	unsigned long long dropped;
};

/* --- names and values ---------------------------------------------------- */

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  c == '_' || (colon && c == ':') ||
			  (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

/* Prometheus label values are UTF-8: reject invalid sequences rather than
 * emit a body a scraper refuses whole. */
static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n;
		uint32_t cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* overlong, surrogates, past U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		p += n + 1;
	}
	return true;
}

static int check_values(const stow_metric_family *f, const char *const *values)
{
	if (f->nlabels && !values)
		return stow_err_set(STOW_EINVAL,
				    "metric %s: %zu label values "
				    "needed",
				    f->name, f->nlabels);
	for (size_t i = 0; i < f->nlabels; i++) {
		const char *v = values[i] ? values[i] : "";

		if (strlen(v) > STOW_METRIC_MAX_VALUE)
			return stow_err_set(STOW_EINVAL,
					    "metric %s: value of label %s "
					    "longer than %d bytes",
					    f->name, f->labels[i],
					    STOW_METRIC_MAX_VALUE);
		if (!valid_utf8(v))
			return stow_err_set(STOW_EINVAL,
					    "metric %s: value of label %s is "
					    "not UTF-8",
					    f->name, f->labels[i]);
	}
	return 0;
}

static int compare_values(char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a[i], b[i] ? b[i] : "");

		if (c)
			return c;
	}
	return 0;
}

/* Index of the series with these values, or where it would go (*found
 * false). Called with the registry locked. */
static size_t find_series(const stow_metric_family *f,
			  const char *const *values, bool *found)
{
	size_t lo = 0, hi = f->ns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = compare_values(f->s[mid]->values, values, f->nlabels);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void series_free(series *s, size_t nlabels)
{
	if (!s)
		return;
	for (size_t i = 0; s->values && i < nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->bucket);
	free(s);
}

/* The series with these values, created (at 0) if missing. Registry
 * locked; values checked. */
static int get_series(stow_metric_family *f, const char *const *values,
		      series **out)
{
	bool found;
	size_t at = find_series(f, values, &found);
	series *s;

	if (found) {
		*out = f->s[at];
		return 0;
	}
	if (f->ns >= f->max_series) {
		f->reg->dropped++;
		return stow_err_set(STOW_ENOMEM,
				    "metric %s: more than %zu label sets",
				    f->name, f->max_series);
	}
	if (f->ns == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 4;
		series **ns = realloc(f->s, ncap * sizeof(*ns));

		if (!ns)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		f->s = ns;
		f->cap = ncap;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (f->nlabels) {
		s->values = calloc(f->nlabels, sizeof(char *));
		if (!s->values)
			goto oom;
		for (size_t i = 0; i < f->nlabels; i++)
			if (!(s->values[i] =
				  strdup(values[i] ? values[i] : "")))
				goto oom;
	}
	if (f->type == STOW_METRIC_HISTOGRAM) {
		s->bucket = calloc(f->nbuckets, sizeof(*s->bucket));
		if (!s->bucket)
			goto oom;
	}
	memmove(&f->s[at + 1], &f->s[at], (f->ns - at) * sizeof(*f->s));
	f->s[at] = s;
	f->ns++;
	*out = s;
	return 0;
oom:
	series_free(s, f->nlabels);
	return stow_err_set(STOW_ENOMEM, "out of memory");
}

/* --- registry ------------------------------------------------------------ */

int stow_metrics_new(stow_metrics **out)
{
	stow_metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

static void family_free(stow_metric_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ns; i++)
		series_free(f->s[i], f->nlabels);
	free(f->s);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
}

void stow_metrics_free(stow_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nf; i++)
		family_free(m->f[i]);
	free(m->f);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static size_t find_family(const stow_metrics *m, const char *name, bool *found)
{
	size_t lo = 0, hi = m->nf;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->f[mid]->name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int check_desc(const stow_metric_desc *d, size_t *nlabels)
{
	size_t n = 0;

	if (!valid_name(d->name, true))
		return stow_err_set(STOW_EINVAL,
				    "metric name '%s' is not valid",
				    d->name ? d->name : "");
	if (d->type != STOW_METRIC_COUNTER && d->type != STOW_METRIC_GAUGE &&
	    d->type != STOW_METRIC_HISTOGRAM)
		return stow_err_set(STOW_EINVAL, "metric %s: unknown type",
				    d->name);
	for (; d->labels && d->labels[n]; n++) {
		const char *l = d->labels[n];

		if (n == STOW_METRIC_MAX_LABELS)
			return stow_err_set(STOW_EINVAL,
					    "metric %s: more than %d labels",
					    d->name, STOW_METRIC_MAX_LABELS);
		if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
		    (d->type == STOW_METRIC_HISTOGRAM && !strcmp(l, "le")))
			return stow_err_set(STOW_EINVAL,
					    "metric %s: label name '%s' is not "
					    "valid",
					    d->name, l);
		for (size_t j = 0; j < n; j++)
			if (!strcmp(d->labels[j], l))
				return stow_err_set(STOW_EINVAL,
						    "metric %s: label %s twice",
						    d->name, l);
	}
	if (d->type == STOW_METRIC_HISTOGRAM) {
		if (!d->buckets || d->nbuckets == 0 ||
		    d->nbuckets > STOW_METRIC_MAX_BUCKETS)
			return stow_err_set(STOW_EINVAL,
					    "metric %s: 1 to %d buckets",
					    d->name, STOW_METRIC_MAX_BUCKETS);
		for (size_t i = 0; i < d->nbuckets; i++)
			if (!isfinite(d->buckets[i]) ||
			    (i && d->buckets[i] <= d->buckets[i - 1]))
				return stow_err_set(STOW_EINVAL,
						    "metric %s: buckets must "
						    "be finite and increasing",
						    d->name);
	}
	*nlabels = n;
	return 0;
}

int stow_metrics_register(stow_metrics *m, const stow_metric_desc *d,
			  stow_metric_family **out)
{
	stow_metric_family *f = NULL;
	size_t nlabels = 0, at;
	bool found;
	int rc;

	if (out)
		*out = NULL;
	if (!m || !d)
		return stow_err_set(STOW_EINVAL, "no registry or description");
	STOW_TRY(check_desc(d, &nlabels));
	f = calloc(1, sizeof(*f));
	if (!f)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	f->reg = m;
	f->type = d->type;
	f->max_series =
	    d->max_series ? d->max_series : STOW_METRIC_DEFAULT_SERIES;
	f->name = strdup(d->name);
	f->help = strdup(d->help ? d->help : "");
	if (!f->name || !f->help)
		goto oom;
	for (f->nlabels = 0; f->nlabels < nlabels; f->nlabels++)
		if (!(f->labels[f->nlabels] = strdup(d->labels[f->nlabels])))
			goto oom;
	if (d->type == STOW_METRIC_HISTOGRAM) {
		memcpy(f->buckets, d->buckets,
		       d->nbuckets * sizeof(*d->buckets));
		f->nbuckets = d->nbuckets;
	}
	pthread_mutex_lock(&m->mu);
	at = find_family(m, d->name, &found);
	if (found) {
		rc = stow_err_set(STOW_EEXIST, "metric %s registered twice",
				  d->name);
	} else if (m->nf == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		stow_metric_family **nf = realloc(m->f, ncap * sizeof(*nf));

		rc = nf ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
		if (nf) {
			m->f = nf;
			m->cap = ncap;
		}
	} else {
		rc = 0;
	}
	if (rc == 0 && nlabels == 0) {
		series *s;

		rc = get_series(f, NULL, &s);
	}
	if (rc == 0) {
		memmove(&m->f[at + 1], &m->f[at], (m->nf - at) * sizeof(*m->f));
		m->f[at] = f;
		m->nf++;
		if (out)
			*out = f;
		f = NULL;
	}
	pthread_mutex_unlock(&m->mu);
	family_free(f);
	return rc;
oom:
	family_free(f);
	return stow_err_set(STOW_ENOMEM, "out of memory");
}

stow_metric_family *stow_metrics_find(stow_metrics *m, const char *name)
{
	stow_metric_family *f = NULL;
	bool found;
	size_t at;

	if (!m || !name)
		return NULL;
	pthread_mutex_lock(&m->mu);
	at = find_family(m, name, &found);
	if (found)
		f = m->f[at];
	pthread_mutex_unlock(&m->mu);
	return f;
}

unsigned long long stow_metrics_dropped(stow_metrics *m)
{
	unsigned long long n;

	pthread_mutex_lock(&m->mu);
	n = m->dropped;
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* --- updates ------------------------------------------------------------- */

enum op { OP_ADD, OP_SET, OP_OBSERVE, OP_TOUCH };

static int update(stow_metric_family *f, const char *const *values, enum op op,
		  double v)
{
	series *s;
	int rc;

	if (!f)
		return stow_err_set(STOW_EINVAL, "no metric");
	switch (op) {
	case OP_ADD:
		if (f->type == STOW_METRIC_HISTOGRAM)
			return stow_err_set(
			    STOW_EINVAL, "metric %s: a histogram is observed",
			    f->name);
		if (f->type == STOW_METRIC_COUNTER && !(v >= 0))
			return stow_err_set(STOW_EINVAL,
					    "metric %s: a counter only grows",
					    f->name);
		break;
	case OP_SET:
		if (f->type != STOW_METRIC_GAUGE)
			return stow_err_set(STOW_EINVAL,
					    "metric %s: only a gauge is set",
					    f->name);
		break;
	case OP_OBSERVE:
		if (f->type != STOW_METRIC_HISTOGRAM || isnan(v))
			return stow_err_set(STOW_EINVAL,
					    "metric %s: not a histogram or NaN",
					    f->name);
		break;
	case OP_TOUCH: break;
	}
	STOW_TRY(check_values(f, values));
	pthread_mutex_lock(&f->reg->mu);
	rc = get_series(f, values, &s);
	if (rc == 0) {
		switch (op) {
		case OP_ADD: s->value += v; break;
		case OP_SET: s->value = v; break;
		case OP_OBSERVE: {
			size_t b = 0;

			while (b < f->nbuckets && v > f->buckets[b])
				b++;
			if (b < f->nbuckets)
				s->bucket[b]++;
			s->count++;
			s->value += v;
			break;
		}
		case OP_TOUCH: break;
		}
	}
	pthread_mutex_unlock(&f->reg->mu);
	return rc;
}

int stow_metric_add(stow_metric_family *f, const char *const *values, double v)
{
	return update(f, values, OP_ADD, v);
}

int stow_metric_set(stow_metric_family *f, const char *const *values, double v)
{
	return update(f, values, OP_SET, v);
}

int stow_metric_observe(stow_metric_family *f, const char *const *values,
			double v)
{
	return update(f, values, OP_OBSERVE, v);
}

int stow_metric_touch(stow_metric_family *f, const char *const *values)
{
	return update(f, values, OP_TOUCH, 0);
}

int stow_metric_remove(stow_metric_family *f, const char *const *values)
{
	bool found;
	size_t at;

	if (!f)
		return stow_err_set(STOW_EINVAL, "no metric");
	STOW_TRY(check_values(f, values));
	pthread_mutex_lock(&f->reg->mu);
	at = find_series(f, values, &found);
	if (found) {
		series_free(f->s[at], f->nlabels);
		memmove(&f->s[at], &f->s[at + 1],
			(f->ns - at - 1) * sizeof(*f->s));
		f->ns--;
	}
	pthread_mutex_unlock(&f->reg->mu);
	return found ? 0
		     : stow_err_set(STOW_ENOTFOUND, "metric %s: no such series",
				    f->name);
}

size_t stow_metrics_remove_matching(stow_metrics *m, const char *label,
				    const char *value)
{
	size_t removed = 0;

	if (!m || !label)
		return 0;
	if (!value)
		value = "";
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nf; i++) {
		stow_metric_family *f = m->f[i];
		size_t li, keep = 0;

		for (li = 0; li < f->nlabels; li++)
			if (!strcmp(f->labels[li], label))
				break;
		if (li == f->nlabels)
			continue;
		/* Compacting keeps the sorted order. */
		for (size_t j = 0; j < f->ns; j++) {
			if (!strcmp(f->s[j]->values[li], value)) {
				series_free(f->s[j], f->nlabels);
				removed++;
			} else {
				f->s[keep++] = f->s[j];
			}
		}
		f->ns = keep;
	}
	pthread_mutex_unlock(&m->mu);
	return removed;
}

int stow_metric_get(stow_metric_family *f, const char *const *values,
		    double *value, unsigned long long *count)
{
	bool found;
	size_t at;

	if (!f)
		return stow_err_set(STOW_EINVAL, "no metric");
	STOW_TRY(check_values(f, values));
	pthread_mutex_lock(&f->reg->mu);
	at = find_series(f, values, &found);
	if (found) {
		if (value)
			*value = f->s[at]->value;
		if (count)
			*count = f->s[at]->count;
	}
	pthread_mutex_unlock(&f->reg->mu);
	return found ? 0
		     : stow_err_set(STOW_ENOTFOUND, "metric %s: no such series",
				    f->name);
}

/* --- exposition ---------------------------------------------------------- */

/* A float as Prometheus reads it: exact integers plainly (byte counts and
 * Unix times stay readable), others in the shortest %g that round-trips. */
static void format_number(char out[32], double v)
{
	if (isnan(v)) {
		snprintf(out, 32, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, 32, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v >= -9007199254740992.0 && v <= 9007199254740992.0 &&
	    v == (double)(int64_t)v) {
		snprintf(out, 32, "%lld", (long long)(int64_t)v); /* no "-0" */
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* HELP text escapes backslash and newline; label values also the double
 * quote. */
static int append_escaped(stow_buf *b, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (!rep)
			continue;
		STOW_TRY(stow_buf_append(b, run, (size_t)(s - run)));
		STOW_TRY(stow_buf_append_str(b, rep));
		run = s + 1;
	}
	return stow_buf_append(b, run, (size_t)(s - run));
}

/* `name{l1="v1",...[,le="x"]} value\n` */
static int append_sample(stow_buf *b, const stow_metric_family *f,
			 const series *s, const char *suffix, const char *le,
			 double v)
{
	char num[32];

	STOW_TRY(stow_buf_append_str(b, f->name));
	STOW_TRY(stow_buf_append_str(b, suffix));
	if (f->nlabels || le) {
		STOW_TRY(stow_buf_append_u8(b, '{'));
		for (size_t i = 0; i < f->nlabels; i++) {
			STOW_TRY(stow_buf_printf(b, "%s%s=\"", i ? "," : "",
						 f->labels[i]));
			STOW_TRY(append_escaped(b, s->values[i], true));
			STOW_TRY(stow_buf_append_u8(b, '"'));
		}
		if (le)
			STOW_TRY(stow_buf_printf(b, "%sle=\"%s\"",
						 f->nlabels ? "," : "", le));
		STOW_TRY(stow_buf_append_u8(b, '}'));
	}
	format_number(num, v);
	return stow_buf_printf(b, " %s\n", num);
}

static int render_family(stow_buf *b, const stow_metric_family *f)
{
	static const char *const type_name[] = {"counter", "gauge",
						"histogram"};

	STOW_TRY(stow_buf_printf(b, "# HELP %s ", f->name));
	STOW_TRY(append_escaped(b, f->help, false));
	STOW_TRY(stow_buf_printf(b, "\n# TYPE %s %s\n", f->name,
				 type_name[f->type]));
	for (size_t i = 0; i < f->ns; i++) {
		const series *s = f->s[i];
		unsigned long long cum = 0;
		char le[32];

		if (f->type != STOW_METRIC_HISTOGRAM) {
			STOW_TRY(append_sample(b, f, s, "", NULL, s->value));
			continue;
		}
		for (size_t k = 0; k < f->nbuckets; k++) {
			cum += s->bucket[k];
			format_number(le, f->buckets[k]);
			STOW_TRY(
			    append_sample(b, f, s, "_bucket", le, (double)cum));
		}
		STOW_TRY(append_sample(b, f, s, "_bucket", "+Inf",
				       (double)s->count));
		STOW_TRY(append_sample(b, f, s, "_sum", NULL, s->value));
		STOW_TRY(
		    append_sample(b, f, s, "_count", NULL, (double)s->count));
	}
	return 0;
}

int stow_metrics_render(stow_metrics *m, stow_buf *out)
{
	int rc = 0;

	if (!m || !out)
		return stow_err_set(STOW_EINVAL, "no registry or buffer");
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; rc == 0 && i < m->nf; i++)
		rc = render_family(out, m->f[i]);
	pthread_mutex_unlock(&m->mu);
	return rc;
}
