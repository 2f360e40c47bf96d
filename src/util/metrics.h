/* A small registry of Prometheus metrics: counters, gauges and histograms
 * with labels, rendered in the text exposition format 0.0.4.
 *
 * A registry holds families (one metric name, type, help text and list of
 * label names); a family holds series, one per distinct tuple of label
 * values. Label values are passed as an array with exactly as many entries
 * as the family has label names, most easily with STOW_METRIC_LABELS:
 *
 *   stow_metric_family *f;
 *   static const char *const lbl[] = {"schedule", NULL};
 *   stow_metric_desc d = {.name = "velero_backup_attempt_total",
 *                         .help = "Total number of attempted backups",
 *                         .type = STOW_METRIC_COUNTER, .labels = lbl};
 *   stow_metrics_register(reg, &d, &f);
 *   stow_metric_add(f, STOW_METRIC_LABELS("nightly"), 1);
 *
 * Bounded: a family holds at most desc.max_series series (label values
 * usually come from object names in the cluster); past it new label tuples
 * are refused with STOW_ENOMEM and counted (stow_metrics_dropped), existing
 * ones still update. Label values longer than STOW_METRIC_MAX_VALUE bytes
 * are refused (STOW_EINVAL).
 *
 * Rendering (stow_metrics_render): families sorted by name, each with
 * "# HELP" (backslash and newline escaped) and "# TYPE" even when it has no
 * series yet; series sorted by their label values; label values escaped
 * (backslash, double quote, newline); histograms as cumulative
 * `_bucket{...,le="<bound>"}` lines ending with le="+Inf", then `_sum`
 * and `_count`. Numbers: integers up to 2^53 as integers, others in the
 * shortest form that reads back exactly, "+Inf", "-Inf", "NaN".
 *
 * Threading: every function may be called from any thread; one mutex per
 * registry serialises updates and rendering (a render is a consistent
 * snapshot). Family pointers stay valid until stow_metrics_free. */
#ifndef STOW_UTIL_METRICS_H
#define STOW_UTIL_METRICS_H

#include <stddef.h>

#include "util/buf.h"

typedef struct stow_metrics stow_metrics;
typedef struct stow_metric_family stow_metric_family;

typedef enum stow_metric_type {
	STOW_METRIC_COUNTER,
	STOW_METRIC_GAUGE,
	STOW_METRIC_HISTOGRAM,
} stow_metric_type;

#define STOW_METRIC_MAX_LABELS 8
#define STOW_METRIC_MAX_BUCKETS 32
#define STOW_METRIC_MAX_VALUE 1024	/* bytes of one label value */
#define STOW_METRIC_DEFAULT_SERIES 1000 /* max_series when 0 */

/* Label values for one series: STOW_METRIC_LABELS("a", "b"). */
#define STOW_METRIC_LABELS(...) ((const char *const[]){__VA_ARGS__})

typedef struct stow_metric_desc {
	const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]* */
	const char *help; /* any text; may be NULL ("") */
	stow_metric_type type;
	/* Label names, NULL-terminated; NULL for none. Each
	 * [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", distinct, and not
	 * "le" in a histogram. At most STOW_METRIC_MAX_LABELS. */
	const char *const *labels;
	/* Histograms: upper bounds, strictly increasing and finite (the +Inf
	 * bucket is implicit); 1 to STOW_METRIC_MAX_BUCKETS of them. */
	const double *buckets;
	size_t nbuckets;
	size_t max_series; /* 0: STOW_METRIC_DEFAULT_SERIES */
} stow_metric_desc;

int stow_metrics_new(stow_metrics **out);
/* Frees every family. Accepts NULL. */
void stow_metrics_free(stow_metrics *m);

/* Add a family; the strings are copied. *out (may be NULL) borrows it.
 * STOW_EINVAL for a bad name, label, type or bucket list; STOW_EEXIST if
 * the name is taken. A family without labels has its one series (at 0)
 * from the start. */
int stow_metrics_register(stow_metrics *m, const stow_metric_desc *d,
			  stow_metric_family **out);
/* The family of that name, or NULL. */
stow_metric_family *stow_metrics_find(stow_metrics *m, const char *name);

/* Updates. `values` has one entry per label name of the family (NULL
 * when it has none; a NULL entry reads as ""). A missing series is
 * created at 0 first. All return 0, STOW_EINVAL (wrong type for the call,
 * a negative or NaN counter increment, a NaN observation, a label value
 * too long or not valid) or STOW_ENOMEM (out of memory, or max_series). */

/* Counter or gauge: value += v (counters: v >= 0). */
int stow_metric_add(stow_metric_family *f, const char *const *values, double v);
/* Gauge: value = v. */
int stow_metric_set(stow_metric_family *f, const char *const *values, double v);
/* Histogram: count one observation of v. */
int stow_metric_observe(stow_metric_family *f, const char *const *values,
			double v);
/* Create the series at 0 if it is missing (Prometheus then sees a 0
 * before the first increment, so rate() counts the first one). */
int stow_metric_touch(stow_metric_family *f, const char *const *values);
/* Drop one series. STOW_ENOTFOUND if there is none. */
int stow_metric_remove(stow_metric_family *f, const char *const *values);
/* Drop, in every family that has a label `label`, the series whose value
 * of it is `value` (a deleted schedule's series). Returns how many. */
size_t stow_metrics_remove_matching(stow_metrics *m, const char *label,
				    const char *value);

/* Read a series back: a counter's or gauge's value, a histogram's sum;
 * *count (may be NULL) gets a histogram's count. STOW_ENOTFOUND if the
 * series does not exist. */
int stow_metric_get(stow_metric_family *f, const char *const *values,
		    double *value, unsigned long long *count);

/* New label tuples refused for max_series since the registry was made. */
unsigned long long stow_metrics_dropped(stow_metrics *m);

/* Append the whole registry in the text format 0.0.4 to out (its cap
 * applies: STOW_ENOMEM past it). */
int stow_metrics_render(stow_metrics *m, stow_buf *out);

/* The Content-Type of what stow_metrics_render writes. */
#define STOW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
