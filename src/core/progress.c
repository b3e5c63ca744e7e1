/*
 * progress.c — progress reporter. See include/warm/progress.h for the output formats and modes.
 *
 * All text is built by warm_progress_format (pure: struct + now -> line), so the tests check the exact
 * lines and the ETA arithmetic without a terminal or a clock. The update/finish functions only decide
 * *when* to print and how to place the line: TTY redraws start with '\r' and are padded with spaces to
 * the width of the previous drawing (no escape sequences); plain lines end with '\n'. Output errors are
 * ignored on purpose: progress is best effort and must never fail a training run.
 */
#include "warm/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warm/core.h"

/* Redraws faster than ~10/s are invisible and cost terminal bandwidth; plain logs need far fewer lines. */
#define TTY_INTERVAL_S 0.1
#define PLAIN_INTERVAL_S 10.0
#define BAR_WIDTH 20

/* Appends to a fixed buffer like snprintf, counting the full length even past the end. */
typedef struct {
    char *buf;
    size_t n;
    size_t len;
} line_buf;

static void put(line_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(line_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->n ? b->n - b->len : 0;
    int k = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (k > 0) b->len += (size_t)k;
}

/* 65 -> "1:05", 3725 -> "1:02:05". */
static void put_clock(line_buf *b, double seconds) {
    long s = (long)floor(seconds + 0.5);
    if (s >= 3600) put(b, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else put(b, "%ld:%02ld", s / 60, s % 60);
}

/* 5 -> "5s", 200 -> "3m20s", 3725 -> "1h02m". */
static void put_short(line_buf *b, double seconds) {
    long s = (long)floor(seconds + 0.5);
    if (s >= 3600) put(b, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60) put(b, "%ldm%02lds", s / 60, s % 60);
    else put(b, "%lds", s);
}

/* "12.3 it/s", or "7.0 s/it" for slow loops such as CPU training steps. */
static void put_rate(line_buf *b, double rate) {
    if (rate > 0.0 && rate < 1.0) put(b, "%.1f s/it", 1.0 / rate);
    else put(b, "%.1f it/s", rate);
}

static const char *label_of(const warm_progress *p) { return p->label ? p->label : "progress"; }

static void put_bar(line_buf *b, const warm_progress *p) {
    int64_t done = p->done < 0 ? 0 : p->done > p->total ? p->total : p->done;
    int filled = (int)(done * BAR_WIDTH / p->total);
    put(b, " [");
    for (int i = 0; i < BAR_WIDTH; i++) put(b, "%c", i < filled ? '#' : '.');
    put(b, "]");
}

static void format_tty(line_buf *b, const warm_progress *p, double now) {
    put(b, "%s", label_of(p));
    if (p->total > 0) {
        put_bar(b, p);
        put(b, " %lld/%lld ", (long long)p->done, (long long)p->total);
        put_rate(b, warm_progress_rate(p, now));
        double eta = warm_progress_eta(p, now);
        put(b, " ETA ");
        if (eta < 0) put(b, "-:--");
        else put_clock(b, eta);
    } else {
        put(b, " %lld ", (long long)p->done);
        put_rate(b, warm_progress_rate(p, now));
        put(b, " ");
        put_clock(b, now - p->start);
    }
}

static void format_plain(line_buf *b, const warm_progress *p, double now) {
    put(b, "%s: ", label_of(p));
    if (p->total > 0) {
        int64_t pct = p->done <= 0 ? 0 : p->done >= p->total ? 100 : p->done * 100 / p->total;
        put(b, "%lld/%lld (%lld%%) ", (long long)p->done, (long long)p->total, (long long)pct);
        put_rate(b, warm_progress_rate(p, now));
        double eta = warm_progress_eta(p, now);
        put(b, " eta ");
        if (eta < 0) put(b, "?");
        else put_short(b, eta);
    } else {
        put(b, "%lld ", (long long)p->done);
        put_rate(b, warm_progress_rate(p, now));
        put(b, " elapsed ");
        put_short(b, now - p->start);
    }
}

static void format_final(line_buf *b, const warm_progress *p, double now) {
    double elapsed = now - p->start;
    put(b, "%s: ", label_of(p));
    if (p->total > 0) put(b, "%lld/%lld", (long long)p->done, (long long)p->total);
    else put(b, "%lld", (long long)p->done);
    put(b, " done in ");
    if (elapsed < 60.0) put(b, "%.1fs", elapsed);
    else put_short(b, elapsed);
    put(b, " (");
    put_rate(b, warm_progress_rate(p, now));
    put(b, ")");
}

int warm_progress_format(const warm_progress *p, double now, int final, char *buf, size_t n) {
    line_buf b = {buf, n, 0};
    if (n) buf[0] = '\0';
    if (final) format_final(&b, p, now);
    else if (p->mode == WARM_PROGRESS_TTY) format_tty(&b, p, now);
    else format_plain(&b, p, now);
    if (p->extra[0]) put(&b, "  %s", p->extra);
    return (int)b.len;
}

double warm_progress_rate(const warm_progress *p, double now) {
    double dt = now - p->start;
    return (dt > 0.0 && p->done > 0) ? (double)p->done / dt : 0.0;
}

double warm_progress_eta(const warm_progress *p, double now) {
    double rate = warm_progress_rate(p, now);
    if (p->total <= 0 || rate <= 0.0) return -1.0;
    int64_t left = p->total - p->done;
    return left > 0 ? (double)left / rate : 0.0;
}

static warm_progress_mode pick_mode(FILE *stream, int is_tty) {
    if (!stream) return WARM_PROGRESS_OFF;
    const char *env = getenv("WARM_PROGRESS");
    if (env && strcmp(env, "plain") == 0) return WARM_PROGRESS_PLAIN;
    if (env && (strcmp(env, "tty") == 0 || strcmp(env, "bar") == 0)) return WARM_PROGRESS_TTY;
    if (env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0 || strcmp(env, "none") == 0))
        return WARM_PROGRESS_OFF;
    const char *term = getenv("TERM");
    if (is_tty && !(term && strcmp(term, "dumb") == 0)) return WARM_PROGRESS_TTY;
    return WARM_PROGRESS_PLAIN;
}

void warm_progress_init_at(warm_progress *p, FILE *stream, const char *label, int64_t total, double now) {
    memset(p, 0, sizeof *p);
    p->stream = stream;
    p->label = label;
    p->total = total;
    p->start = now;
    p->last_print = now;
    p->is_tty = stream ? isatty(fileno(stream)) : 0;
    warm_progress_set_mode(p, pick_mode(stream, p->is_tty));
}

void warm_progress_init(warm_progress *p, FILE *stream, const char *label, int64_t total) {
    warm_progress_init_at(p, stream, label, total, warm_time_now());
}

void warm_progress_set_mode(warm_progress *p, warm_progress_mode mode) {
    p->mode = p->stream ? mode : WARM_PROGRESS_OFF;
    p->interval = mode == WARM_PROGRESS_TTY ? TTY_INTERVAL_S : PLAIN_INTERVAL_S;
}

void warm_progress_set_interval(warm_progress *p, double seconds) { p->interval = seconds > 0.0 ? seconds : 0.0; }

void warm_progress_set_extra(warm_progress *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->extra, sizeof p->extra, fmt, ap);
    va_end(ap);
}

/* Writes one line: TTY over the current bar (padded to erase a longer one), plain with a newline. */
static void emit(warm_progress *p, double now, int final) {
    char line[512];
    int len = warm_progress_format(p, now, final, line, sizeof line);
    if (len > (int)sizeof line - 1) len = (int)sizeof line - 1;
    if (p->mode == WARM_PROGRESS_TTY) {
        int pad = p->drawn > len ? p->drawn - len : 0;
        fprintf(p->stream, "\r%s%*s", line, pad, "");
        p->drawn = len;
        if (final) {
            fputc('\n', p->stream);
            p->drawn = 0;
        }
    } else {
        fprintf(p->stream, "%s\n", line);
    }
    fflush(p->stream);
    p->last_print = now;
}

void warm_progress_update_at(warm_progress *p, int64_t done, double now) {
    if (p->finished) return;
    p->done = done;
    if (p->mode == WARM_PROGRESS_OFF) return;
    int due = now - p->last_print >= p->interval;
    if (p->mode == WARM_PROGRESS_TTY && p->drawn == 0) due = 1; /* first draw, or redraw after clear */
    if (due) emit(p, now, 0);
}

void warm_progress_update(warm_progress *p, int64_t done) { warm_progress_update_at(p, done, warm_time_now()); }

void warm_progress_finish_at(warm_progress *p, double now) {
    if (p->finished) return;
    p->finished = 1;
    if (p->mode != WARM_PROGRESS_OFF) emit(p, now, 1);
}

void warm_progress_finish(warm_progress *p) { warm_progress_finish_at(p, warm_time_now()); }

void warm_progress_clear(warm_progress *p) {
    if (p->mode != WARM_PROGRESS_TTY || p->drawn == 0) return;
    fprintf(p->stream, "\r%*s\r", p->drawn, "");
    fflush(p->stream);
    p->drawn = 0;
}
