/*
 * warm/progress.h — progress reporter for long loops (training steps, scoring, sampling).
 *
 * One struct per loop, no global state. Two output styles, chosen at init:
 *   TTY   (stream is a terminal): one line redrawn in place with '\r', at most every 0.1 s:
 *           label [#########...........] 45/100 12.3 it/s ETA 0:05  loss 0.693
 *   PLAIN (pipe, file, CI log): one line every 10 s:
 *           label: 45/100 (45%) 12.3 it/s eta 5s  loss 0.693
 * and on finish one final line with the elapsed time:
 *           label: 100/100 done in 8.1s (12.3 it/s)  loss 0.693
 * No colours or terminal escapes are ever written (the tty bar is cleared by padding with spaces).
 * Rates below 1 it/s print as seconds per item ("7.0 s/it"). A total <= 0 means "unknown": no bar, no
 * percentage, no ETA. The rate is the mean since init (deterministic and what the ETA assumes).
 *
 * Environment: WARM_PROGRESS=plain forces plain lines, =tty forces the bar, =off silences the reporter;
 * TERM=dumb also selects plain. A NULL stream is silent.
 *
 * Time: every call has an _at variant taking `now` in seconds on the warm_time_now() clock, so tests
 * (and callers that already read the clock) need not sleep or read it again.
 */
#ifndef WARM_PROGRESS_H
#define WARM_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    WARM_PROGRESS_OFF,    /* print nothing */
    WARM_PROGRESS_PLAIN,  /* a line every `interval` seconds (default 10) */
    WARM_PROGRESS_TTY,    /* redrawn bar at most every `interval` seconds (default 0.1) */
} warm_progress_mode;

#define WARM_PROGRESS_EXTRA_MAX 128

typedef struct {
    FILE *stream;                        /* where lines go; NULL: silent */
    const char *label;                   /* not copied: must outlive the reporter */
    int64_t total;                       /* items expected; <= 0: unknown */
    int64_t done;                        /* items finished so far */
    double start;                        /* seconds (warm_time_now clock) at init */
    double last_print;                   /* seconds of the last line/redraw (start before the first) */
    double interval;                     /* minimum seconds between outputs */
    warm_progress_mode mode;
    int is_tty;                          /* isatty(fileno(stream)) at init (before WARM_PROGRESS) */
    int drawn;                           /* TTY: chars of the bar currently on screen (0: none) */
    int finished;                        /* finish was called: later updates print nothing */
    char extra[WARM_PROGRESS_EXTRA_MAX]; /* free text appended to each line, e.g. "loss 0.693" */
} warm_progress;

/* Starts a reporter (mode from the stream and WARM_PROGRESS, see above). Prints nothing yet. */
void warm_progress_init(warm_progress *p, FILE *stream, const char *label, int64_t total);
void warm_progress_init_at(warm_progress *p, FILE *stream, const char *label, int64_t total, double now);

/* Overrides the mode (e.g. --quiet, tests); resets interval to that mode's default. */
void warm_progress_set_mode(warm_progress *p, warm_progress_mode mode);
/* Overrides the minimum seconds between outputs (>= 0). */
void warm_progress_set_interval(warm_progress *p, double seconds);

/* Sets the free-text field shown after the counts (printf-style; truncated to 127 chars). "" clears it. */
void warm_progress_set_extra(warm_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records `done` items finished and prints if the interval has passed (TTY: also on the first update). */
void warm_progress_update(warm_progress *p, int64_t done);
void warm_progress_update_at(warm_progress *p, int64_t done, double now);

/* Prints the final line (done count, elapsed time, rate, extra) and ends the tty line. Once only. */
void warm_progress_finish(warm_progress *p);
void warm_progress_finish_at(warm_progress *p, double now);

/* TTY: erases the bar so that other output can be printed; the next update redraws it. */
void warm_progress_clear(warm_progress *p);

/* Items per second since init (0 when nothing is done or no time has passed). */
double warm_progress_rate(const warm_progress *p, double now);
/* Seconds left at the mean rate; negative when unknown (no total, nothing done yet). */
double warm_progress_eta(const warm_progress *p, double now);

/*
 * Formats the line the reporter would print at `now` in its current mode (final != 0: the finish line),
 * without '\r' or '\n', into buf (always NUL-terminated when n > 0). Returns the untruncated length.
 */
int warm_progress_format(const warm_progress *p, double now, int final, char *buf, size_t n);

#endif
