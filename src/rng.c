/* Counter-based random numbers on Random123's Philox4x32-10 (hb/rng.h). */
#include "hb/rng.h"

#include <math.h>
#include <Random123/philox.h>

void hb_rng_u32x4(uint64_t seed, uint32_t stream, uint64_t index, uint32_t sub, uint32_t out[4])
{
    philox4x32_ctr_t c = {{(uint32_t)index, (uint32_t)(index >> 32), stream, sub}};
    philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32(c, k);
    for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

/* 53 random bits -> (0, 1): the +0.5 keeps both ends open, so log() is safe. */
static double to_open01(uint32_t hi, uint32_t lo)
{
    uint64_t bits = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);   /* 53 bits */
    return ((double)bits + 0.5) * (1.0 / 9007199254740992.0);      /* 2^53 */
}

void hb_rng_uniform2(uint64_t seed, uint32_t stream, uint64_t index, uint32_t sub, double out[2])
{
    uint32_t r[4];
    hb_rng_u32x4(seed, stream, index, sub, r);
    out[0] = to_open01(r[0], r[1]);
    out[1] = to_open01(r[2], r[3]);
}

void hb_rng_normal2(uint64_t seed, uint32_t stream, uint64_t index, uint32_t sub, double out[2])
{
    double u[2];
    hb_rng_uniform2(seed, stream, index, sub, u);
    double rad = sqrt(-2.0 * log(u[0]));
    double ang = 2.0 * M_PI * u[1];
    out[0] = rad * cos(ang);
    out[1] = rad * sin(ang);
}

uint64_t hb_fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}
