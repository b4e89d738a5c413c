/* make_toy DIR: the toy training set (3 x 3 grid in Omega_m, A_AGN2, 16^3)
 * and test boxes for the command-line tests (tests/toy.h). */
#include <stdio.h>
#include <sys/stat.h>

#include "toy.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const char *dir = argc > 1 ? argv[1] : "toy";
    mkdir(dir, 0755);
    int nlh = argc > 2 ? atoi(argv[2]) : 0;   /* make_toy DIR N: an N-box Latin hypercube */
    static const double oms[3] = {0.2, 0.3, 0.4}, agns[3] = {0.5, 1.0, 2.0};
    char p[1024];
    int bad = 0;
    for (int i = 0; i < (nlh > 0 ? nlh : 9); i++) {
        double om = oms[i / 3 % 3], agn2 = agns[i % 3];
        if (nlh > 0) toy_lh(i, nlh, &om, &agn2);
        snprintf(p, sizeof p, "%s/box%02d.h5", dir, i);
        bad |= toy_write(p, 16, 25.0, om, agn2, 100 + i, 1) != HB_OK;
    }
    snprintf(p, sizeof p, "%s/../toy_test.h5", dir);
    bad |= toy_write(p, 16, 25.0, 0.35, 1.41, 777, 1) != HB_OK;
    snprintf(p, sizeof p, "%s/../toy_dm18.h5", dir);   /* a grid that is not a multiple of 4 */
    bad |= toy_write(p, 18, 25.0 * 18 / 16, 0.3, 1.0, 5, 0) != HB_OK;
    MPI_Finalize();
    return bad;
}
