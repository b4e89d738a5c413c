/* hb/err.h: status codes, error reporting with rank and file:line, logging
 * on rank 0, progress lines with rate and ETA, wall-clock timers.
 *
 * Library code returns an hb_status; HB_ERR reports where the error happens
 * and HB_TRY adds one line per caller, so a failure prints a short trail:
 *   [rank 2/4] pm/force.c:88 hb_force_init(): n_grid=130 ... (HB_EARG)
 * Only main() ends a run. None of these functions is collective. */
#ifndef HB_ERR_H
#define HB_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    HB_OK = 0,
    HB_EARG,       /* bad argument or parameter */
    HB_EIO,        /* file missing, unreadable, wrong layout */
    HB_EMPI,       /* an MPI call failed */
    HB_ENOMEM,     /* allocation failed */
    HB_ENUM,       /* numerical failure (integration, NaN) */
    HB_ESTOP       /* stopped on request (signal); state was saved */
} hb_status;

const char *hb_status_name(hb_status code);

/* Print "[rank r/n] file:line func(): message (CODE)" on stderr. */
hb_status hb_err_report(const char *file, int line, const char *func, hb_status code,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Same, printed by rank 0 only: for errors every rank detects identically
 * (a bad parameter), so the message appears once. */
hb_status hb_err_report0(const char *file, int line, const char *func, hb_status code,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Both evaluate to `code`. */
#define HB_ERR(code, ...) hb_err_report(__FILE__, __LINE__, __func__, (code), __VA_ARGS__)
#define HB_ERR0(code, ...) hb_err_report0(__FILE__, __LINE__, __func__, (code), __VA_ARGS__)
#define HB_TRY(call) do { hb_status rc_ = (call); \
        if (rc_ != HB_OK) return hb_err_chain(__FILE__, __LINE__, __func__, rc_, #call); \
    } while (0)
/* HB_TRY's trail line; quiet for HB_ESTOP, which is not an error. */
hb_status hb_err_chain(const char *file, int line, const char *func, hb_status code,
                       const char *call);

/* Return `code` without printing, and keep HB_TRY's trail quiet: for ranks
 * that learn from a collective vote that another rank failed. */
hb_status hb_err_quiet(hb_status code);

/* Turn an MPI return code into HB_EMPI with MPI_Error_string. */
hb_status hb_mpi_check(int mpi_rc, const char *file, int line, const char *func);
#define hb_mpi(rc) hb_mpi_check((rc), __FILE__, __LINE__, __func__)

/* Logging. hb_log0 prints on rank 0 of MPI_COMM_WORLD; hb_log_rank on every
 * rank with a [rank r/n] prefix. Neither is collective. */
void hb_log0(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hb_log_rank(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int  hb_world_rank(void);
int  hb_world_size(void);

/* Flush subnormal floats to zero (x86 MXCSR FTZ and DAZ) in the calling
 * thread and the threads it starts later: a network whose activations or
 * gradients decay into the subnormal range otherwise runs several times
 * slower on them. Call first thing in main(), before any OpenMP region. */
void hb_fp_setup(void);

/* Seconds since an arbitrary origin (MPI_Wtime when MPI is up). */
double hb_now(void);
/* Peak resident memory of this process in bytes (getrusage). */
size_t hb_peak_rss(void);

/* A progress line on rank 0 for long loops: step counter, rate, ETA.
 * hb_progress_step prints at most every min_interval seconds, and always
 * for the last step; `extra` (may be NULL) is appended. */
typedef struct hb_progress {
    const char *label;
    long        total;
    double      t_start, t_last;
    double      min_interval;   /* seconds between lines */
    const char *unit;           /* "steps", "boxes", ... */
    long        done0;          /* done before init (a resumed run; 0 from init): the rate counts from it */
} hb_progress;
void hb_progress_init(hb_progress *p, const char *label, long total, const char *unit);
void hb_progress_step(hb_progress *p, long done, const char *extra);
/* Rate in units per second since init (done - done0), for the caller's own lines. */
double hb_progress_rate(const hb_progress *p, long done);

/* Named accumulating timers (FFT, paint, ...): start/stop pairs. */
typedef struct hb_timer { double total, t0; long count; } hb_timer;
static inline void hb_timer_start(hb_timer *t) { t->t0 = hb_now(); }
static inline void hb_timer_stop(hb_timer *t) { t->total += hb_now() - t->t0; t->count++; }

#endif
