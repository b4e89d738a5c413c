/* Error reporting, logging, progress and timers (hb/err.h). */
#include "hb/err.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

const char *hb_status_name(hb_status code)
{
    static const char *names[] = {"HB_OK", "HB_EARG", "HB_EIO", "HB_EMPI",
                                  "HB_ENOMEM", "HB_ENUM", "HB_ESTOP"};
    if ((int)code < 0 || (size_t)code >= sizeof names / sizeof names[0]) return "HB_E?";
    return names[code];
}

void hb_fp_setup(void)
{
#if defined(__SSE__)
    _mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ (bit 15) and DAZ (bit 6) */
#endif
}

static int mpi_up(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int hb_world_rank(void)
{
    int r = 0;
    if (mpi_up()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int hb_world_size(void)
{
    int n = 1;
    if (mpi_up()) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* Set when the error at the root of the current trail was not printed on this
 * rank (rank-0-only reports, or ranks that stay quiet after agreeing on an
 * error elsewhere), so HB_TRY's trail stays quiet too. */
static int g_quiet = 0;

static void vreport(const char *file, int line, const char *func, hb_status code,
                    const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "[rank %d/%d] %s:%d %s(): %s (%s)\n", hb_world_rank(), hb_world_size(),
            file, line, func, msg, hb_status_name(code));
    fflush(stderr);
}

hb_status hb_err_report(const char *file, int line, const char *func, hb_status code,
                        const char *fmt, ...)
{
    g_quiet = 0;
    va_list ap;
    va_start(ap, fmt);
    vreport(file, line, func, code, fmt, ap);
    va_end(ap);
    return code;
}

hb_status hb_err_report0(const char *file, int line, const char *func, hb_status code,
                         const char *fmt, ...)
{
    g_quiet = hb_world_rank() != 0;
    if (g_quiet) return code;
    va_list ap;
    va_start(ap, fmt);
    vreport(file, line, func, code, fmt, ap);
    va_end(ap);
    return code;
}

hb_status hb_err_chain(const char *file, int line, const char *func, hb_status code,
                       const char *call)
{
    /* A stop request travels up quietly, and so does a trail whose root
     * message this rank did not print. */
    if (code != HB_ESTOP && !g_quiet) {
        hb_err_report(file, line, func, code, "from %s", call);
    }
    return code;
}

hb_status hb_err_quiet(hb_status code)
{
    g_quiet = 1;
    return code;
}

hb_status hb_mpi_check(int mpi_rc, const char *file, int line, const char *func)
{
    if (mpi_rc == MPI_SUCCESS) return HB_OK;
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(mpi_rc, s, &len);
    hb_err_report(file, line, func, HB_EMPI, "MPI error: %s", s);
    return HB_EMPI;
}

void hb_log0(const char *fmt, ...)
{
    if (hb_world_rank() != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void hb_log_rank(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("[rank %d/%d] %s\n", hb_world_rank(), hb_world_size(), msg);
    fflush(stdout);
}

double hb_now(void)
{
    if (mpi_up()) return MPI_Wtime();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t hb_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024u;   /* Linux reports kilobytes */
}

void hb_progress_init(hb_progress *p, const char *label, long total, const char *unit)
{
    p->label = label;
    p->total = total;
    p->t_start = p->t_last = hb_now();
    p->min_interval = 2.0;
    p->unit = unit ? unit : "steps";
    p->done0 = 0;
}

double hb_progress_rate(const hb_progress *p, long done)
{
    double dt = hb_now() - p->t_start;
    return dt > 0 ? (double)(done - p->done0) / dt : 0.0;
}

static void format_hms(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e8) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

void hb_progress_step(hb_progress *p, long done, const char *extra)
{
    double now = hb_now();
    if (done < p->total && now - p->t_last < p->min_interval) return;
    p->t_last = now;
    double rate = hb_progress_rate(p, done);
    char eta[32], el[32];
    format_hms(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : -1);
    format_hms(el, sizeof el, now - p->t_start);
    hb_log0("%s: %ld/%ld %s (%.0f%%)  %.3g %s/s  elapsed %s  ETA %s%s%s", p->label, done,
            p->total, p->unit, 100.0 * (double)done / (double)(p->total > 0 ? p->total : 1),
            rate, p->unit, el, eta, extra ? "  " : "", extra ? extra : "");
}
