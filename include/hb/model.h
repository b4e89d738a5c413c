/* hb/model.h: network weights in HDF5 model files.
 *
 * A model file holds the architecture as attributes on "/" (model_kind =
 * "hydrobridge-unet3d-small", n_fields, width, emb, n_params) and any number
 * of weight sets, each a group with one float32 dataset per named view of the
 * flat parameter buffer (/weights, /ema, /adam_m, /adam_v, ...). Reading a set
 * checks the architecture first: a file of another architecture or kind is a
 * clear error. Collective over f->comm (the trainer writes with rank 0 on
 * MPI_COMM_SELF). */
#ifndef HB_MODEL_H
#define HB_MODEL_H

#include "hb/err.h"
#include "hb/h5io.h"
#include "hb/unet.h"

#define HB_MODEL_KIND "hydrobridge-unet3d-small"

hb_status hb_model_write_arch(hb_h5 *f, const hb_unet *u);
/* Architecture stored in f; an error if f is not a hydrobridge model file. */
hb_status hb_model_read_arch(hb_h5 *f, hb_unet_config *cfg);
/* An error naming the difference when f's architecture is not u's. */
hb_status hb_model_check_arch(hb_h5 *f, const hb_unet *u);
/* One weight set: buf holds u->n_params floats laid out like u->params. */
hb_status hb_model_write_set(hb_h5 *f, const char *group, const hb_unet *u, const float *buf);
hb_status hb_model_read_set(hb_h5 *f, const char *group, const hb_unet *u, float *buf);

#endif
