/* Collective helpers (hb/mpiutil.h). */
#include "hb/mpiutil.h"

#include <limits.h>
#include <string.h>

int hb_mpi_any(MPI_Comm comm, int flag)
{
    int in = flag != 0, out = in;
    /* a failed vote counts as "yes": the caller then takes its error path */
    if (MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, comm) != MPI_SUCCESS) {
        HB_ERR(HB_EMPI, "MPI_Allreduce failed while agreeing on a flag");
        return 1;
    }
    return out;
}

hb_status hb_mpi_sum(MPI_Comm comm, double *x, int n)
{
    return hb_mpi(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, comm));
}

hb_status hb_mpi_sum_long(MPI_Comm comm, long *x, int n)
{
    return hb_mpi(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_LONG, MPI_SUM, comm));
}

hb_status hb_mpi_max(MPI_Comm comm, double *x, int n)
{
    return hb_mpi(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_MAX, comm));
}

hb_status hb_mpi_min(MPI_Comm comm, double *x, int n)
{
    return hb_mpi(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_MIN, comm));
}

hb_status hb_mpi_agree(MPI_Comm comm, hb_status mine)
{
    int code = mine == HB_OK ? INT_MAX : (int)mine;
    if (MPI_Allreduce(MPI_IN_PLACE, &code, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
        return HB_ERR(HB_EMPI, "MPI_Allreduce failed while agreeing on a status");
    }
    if (code == INT_MAX) return HB_OK;
    return mine != HB_OK ? mine : hb_err_quiet((hb_status)code);
}

hb_status hb_mpi_bcast_string(MPI_Comm comm, char *s, size_t cap, int root)
{
    if (cap > INT_MAX) return HB_ERR(HB_EARG, "string buffer of %zu bytes too large", cap);
    HB_TRY(hb_mpi(MPI_Bcast(s, (int)cap, MPI_CHAR, root, comm)));
    s[cap - 1] = '\0';
    return HB_OK;
}
