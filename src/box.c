/* Box files: description, provenance and the one writer (hb/box.h). */
#include "hb/box.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hb/mpiutil.h"
#include "hb/version.h"

const char *const HB_BOX_FIELD[HB_BOX_NFIELD] = {HB_FIELD_DM, HB_FIELD_GAS, HB_FIELD_TEMP, HB_FIELD_STARS};

/* The numbers on "/" other than theta and seed. */
#define N_FIXED 5
static void fixed_attrs(const hb_boxinfo *b, const char *names[N_FIXED], const double *vals[N_FIXED])
{
    static const char *n[N_FIXED] = {"box_size", "redshift", "omega_b", "h", "n_s"};
    const double *v[N_FIXED] = {&b->box_size, &b->redshift, &b->omega_b, &b->h, &b->n_s};
    memcpy(names, n, sizeof n);
    memcpy(vals, v, sizeof v);
}

hb_status hb_box_write_info(hb_h5 *f, const hb_boxinfo *b)
{
    const char *names[N_FIXED];
    const double *vals[N_FIXED];
    fixed_attrs(b, names, vals);
    for (int i = 0; i < N_FIXED; i++) HB_TRY(hb_h5_attr_write_double(f, "/", names[i], *vals[i]));
    for (int k = 0; k < HB_NTHETA; k++) HB_TRY(hb_h5_attr_write_double(f, "/", HB_THETA[k].name, b->theta[k]));
    HB_TRY(hb_h5_attr_write_long(f, "/", "seed", b->seed));
    HB_TRY(hb_h5_attr_write_string(f, "/", "hydrobridge_version", HB_VERSION));
    return HB_OK;
}

hb_status hb_box_read_info(hb_h5 *f, hb_boxinfo *b)
{
    const char *names[N_FIXED];
    const double *vals[N_FIXED];
    fixed_attrs(b, names, vals);
    for (int i = 0; i < N_FIXED; i++) {
        HB_TRY(hb_h5_attr_read_double(f, "/", names[i], (double *)vals[i]));
        if (!isfinite(*vals[i])) return HB_ERR0(HB_EIO, "%s: attribute %s = %g is not finite", f->path, names[i], *vals[i]);
    }
    for (int k = 0; k < HB_NTHETA; k++) HB_TRY(hb_h5_attr_read_double(f, "/", HB_THETA[k].name, &b->theta[k]));
    HB_TRY(hb_h5_attr_read_long(f, "/", "seed", &b->seed));
    if (!(b->box_size > 0)) return HB_ERR0(HB_EIO, "%s: box_size = %g Mpc/h; expected a positive size", f->path, b->box_size);
    return hb_theta_check(b->theta, f->path);
}

hb_status hb_mas_read(hb_h5 *f, const char *obj, const char *name, char mas[HB_MAS_LEN])
{
    char s[256];
    HB_TRY(hb_h5_attr_read_string(f, obj, name, s, sizeof s));
    if (strlen(s) >= HB_MAS_LEN) {   /* two labels cut to one prefix would compare equal */
        return HB_ERR0(HB_EIO, "%s: attribute %s of %s is \"%.40s%s\": expected a mass-assignment label of at most %d "
                       "characters (cic, tsc)", f->path, name, obj, s, strlen(s) > 40 ? "..." : "", HB_MAS_LEN - 1);
    }
    memcpy(mas, s, strlen(s) + 1);
    return HB_OK;
}

hb_status hb_box_read_dm_mas(hb_h5 *f, char mas[HB_MAS_LEN])
{
    snprintf(mas, HB_MAS_LEN, "none");
    if (!hb_h5_attr_exists(f, HB_FIELD_DM, "mass_assignment")) return HB_OK;
    return hb_mas_read(f, HB_FIELD_DM, "mass_assignment", mas);
}

int hb_mas_compatible(const char *a, const char *b)
{
    const int known_a = a[0] && strcmp(a, "none") != 0, known_b = b[0] && strcmp(b, "none") != 0;
    return !known_a || !known_b || strcmp(a, b) == 0;
}

void hb_prov_set(hb_provenance *p, const char *key, const char *fmt, ...)
{
    int i = 0;
    while (i < p->n && strcmp(p->key[i], key) != 0) i++;
    if (i == HB_PROV_MAX) return;   /* the schema has fewer keys (params.c asserts it) */
    if (i == p->n) snprintf(p->key[p->n++], sizeof p->key[0], "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->val[i], sizeof p->val[i], fmt, ap);
    va_end(ap);
}

static hb_status write_provenance(hb_h5 *f, const hb_provenance *p)
{
    if (!hb_h5_exists(f, "/parameters")) HB_TRY(hb_h5_create_group(f, "/parameters"));
    for (int i = 0; i < p->n; i++) HB_TRY(hb_h5_attr_write_string(f, "/parameters", p->key[i], p->val[i]));
    if (p->source[0]) HB_TRY(hb_h5_attr_write_string(f, "/parameters", "source_file", p->source));
    return HB_OK;
}

hb_box_fields hb_box_fields_mesh(const hb_mesh *m, const float *dm, const char *mas_dm, const float *gas,
                                 const float *temp, const char *mas_baryons)
{
    hb_box_fields b = {m->N, (long)m->x0, (long)m->nx_local, (size_t)m->zpad, {dm, gas, temp, NULL},
                       {mas_dm, mas_baryons, mas_baryons, mas_baryons}};
    return b;
}

hb_status hb_box_create(hb_h5 *f, const char *path, MPI_Comm comm, const hb_box_fields *bf, const hb_boxinfo *bi,
                        const hb_h5_attr *extra, int n_extra, const hb_provenance *prov)
{
    HB_TRY(hb_h5_create(f, path, comm));
    hb_status rc = HB_OK;
    for (int i = 0; i < HB_BOX_NFIELD && rc == HB_OK; i++) {
        if (bf->field[i]) {
            rc = hb_h5_write_field(f, HB_BOX_FIELD[i], bf->N, bf->x0, bf->nx, bf->field[i], bf->zstride, bf->mas[i]);
        }
    }
    if (rc == HB_OK) rc = hb_box_write_info(f, bi);
    for (int i = 0; i < n_extra && rc == HB_OK; i++) rc = hb_h5_attr_write(f, "/", &extra[i]);
    if (rc == HB_OK && prov) rc = write_provenance(f, prov);
    if (rc != HB_OK) hb_h5_abort(f);
    return rc;
}

hb_status hb_box_write(const char *path, MPI_Comm comm, const hb_box_fields *bf, const hb_boxinfo *bi,
                       const hb_h5_attr *extra, int n_extra, const hb_provenance *prov)
{
    hb_h5 f;
    HB_TRY(hb_box_create(&f, path, comm, bf, bi, extra, n_extra, prov));
    return hb_h5_commit(&f);
}

hb_status hb_field_check(const float *buf, int N, long x0, long nx, size_t zstride, int values, const char *file,
                         const char *name, MPI_Comm comm)
{
    long bad = -1;
    float bad_v = 0;
    double sum = 0;
    for (long i = 0; i < nx && bad < 0; i++)
        for (int j = 0; j < N && bad < 0; j++) {
            const float *row = buf + ((size_t)i * N + (size_t)j) * zstride;
            for (int k = 0; k < N; k++) {
                const float v = row[k];
                int ok = isfinite(v) && (values != HB_VALUES_DENSITY || v >= 0) && (values != HB_VALUES_POSITIVE || v > 0);
                if (!ok) {
                    bad = ((x0 + i) * N + j) * (long)N + k;
                    bad_v = v;
                    break;
                }
                sum += v;
            }
        }
    if (hb_mpi_any(comm, bad >= 0)) {
        if (bad < 0) return hb_err_quiet(HB_EIO);
        static const char *want[3] = {"a finite value", "a finite density >= 0", "a finite value > 0"};
        const long NN = (long)N * N;
        return HB_ERR(HB_EIO, "%s: %s[%ld][%ld][%ld] = %g; expected %s", file, name, bad / NN, bad / N % N, bad % N,
                      bad_v, want[values]);
    }
    if (values == HB_VALUES_DENSITY) {
        HB_TRY(hb_mpi_sum(comm, &sum, 1));
        if (!(sum > 0)) return HB_ERR0(HB_EIO, "%s: %s is zero everywhere; expected a density with a positive mean", file, name);
    }
    return HB_OK;
}

hb_status hb_box_read_field(hb_h5 *f, const char *name, int N, long x0, long nx, float *buf, size_t zstride,
                            int values)
{
    HB_TRY(hb_h5_read_field(f, name, N, x0, nx, buf, zstride));
    return hb_field_check(buf, N, x0, nx, zstride, values, f->path, name, f->comm);
}

hb_status hb_box_read_mesh_field(hb_h5 *f, const char *name, const hb_mesh *m, float *buf, int values)
{
    return hb_box_read_field(f, name, m->N, (long)m->x0, (long)m->nx_local, buf, (size_t)m->zpad, values);
}
