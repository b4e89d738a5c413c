/* hb/rng.h: counter-based random numbers (Random123 Philox4x32-10).
 *
 * Every draw is a pure function of (seed, stream, index): no state, so a
 * value does not depend on which rank draws it or in which order. Streams
 * name the purpose (IC noise, patch sampling, sampler noise, ...) so two
 * uses never share numbers. Not collective. */
#ifndef HB_RNG_H
#define HB_RNG_H

#include <stdint.h>

enum {
    HB_STREAM_IC = 1,          /* initial-condition white noise, index = Fourier mode */
    HB_STREAM_MOCK = 2,        /* mock-hydro noise fields */
    HB_STREAM_PATCH = 3,       /* training patch positions / symmetries / t */
    HB_STREAM_TRAIN_NOISE = 4, /* interpolant z during training */
    HB_STREAM_SAMPLER = 5,     /* sampler noise during emulation */
    HB_STREAM_INIT = 6,        /* network weight initialisation */
    HB_STREAM_LH = 7,          /* Latin-hypercube suites */
    HB_STREAM_PROBE = 8,       /* Hutchinson probes of the log-likelihood */
    HB_STREAM_MCMC = 9,        /* proposals and acceptances of infer --mcmc */
    HB_STREAM_TEST = 99
};

/* Four raw 32-bit words for (seed, stream, index, sub). */
void hb_rng_u32x4(uint64_t seed, uint32_t stream, uint64_t index, uint32_t sub, uint32_t out[4]);
/* Two uniforms in (0, 1) with 53-bit resolution (sub selects another pair). */
void hb_rng_uniform2(uint64_t seed, uint32_t stream, uint64_t index, uint32_t sub, double out[2]);
/* Two independent standard normals (Box-Muller on uniform2). */
void hb_rng_normal2(uint64_t seed, uint32_t stream, uint64_t index, uint32_t sub, double out[2]);
/* FNV-1a (64 bit) of the bytes of s continuing from h (start: HB_FNV_START):
 * a key that follows a named object (a box, a list of files) instead of its
 * position in a list. */
#define HB_FNV_START 14695981039346656037ull   /* the FNV-1a 64-bit offset basis */
uint64_t hb_fnv1a(uint64_t h, const char *s);

#endif
