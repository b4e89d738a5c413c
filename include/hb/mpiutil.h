/* hb/mpiutil.h: small collective helpers. All functions here are collective
 * over comm (every rank must call them, in the same order). */
#ifndef HB_MPIUTIL_H
#define HB_MPIUTIL_H

#include <mpi.h>
#include <stddef.h>

#include "hb/err.h"

/* 1 on every rank when `flag` is non-zero on any rank (agree before branching). */
int hb_mpi_any(MPI_Comm comm, int flag);
/* Sums of doubles / longs over ranks, in place. */
hb_status hb_mpi_sum(MPI_Comm comm, double *x, int n);
hb_status hb_mpi_sum_long(MPI_Comm comm, long *x, int n);
/* Max and min of doubles over ranks, in place. */
hb_status hb_mpi_max(MPI_Comm comm, double *x, int n);
hb_status hb_mpi_min(MPI_Comm comm, double *x, int n);
/* Agree on a status: if any rank failed, every rank returns a failure.
 * The failing ranks return their own code (already reported); the others
 * return quietly with the lowest failing code. */
hb_status hb_mpi_agree(MPI_Comm comm, hb_status mine);
/* Broadcast a string (NUL-terminated, at most cap bytes) from root. */
hb_status hb_mpi_bcast_string(MPI_Comm comm, char *s, size_t cap, int root);

#endif
