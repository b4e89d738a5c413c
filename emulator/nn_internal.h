/* Internal to emulator/: the direct 3x3x3 convolution kernels behind
 * hb_conv3_forward and hb_conv3_backward (emulator/conv3_direct.c). */
#ifndef HB_NN_INTERNAL_H
#define HB_NN_INTERNAL_H

#include <stddef.h>

/* Whether the direct kernels handle Ci -> Co (Co a multiple of the vector width). */
int hb_conv3_direct_ok(int Ci, int Co);
/* Floats of padded-chunk workspace for C input channels at size (X, Y, Z). */
size_t hb_conv3_direct_workspace(int C, int X, int Y, int Z);
/* Tests: floats of padded input per chunk (0 restores the default), so small
 * inputs can be cut into many chunks. Call before sizing workspaces. */
void hb_conv3_direct_set_chunk(size_t floats);
/* Tests: output-channel vectors per register block, 1-4 (0 restores the ISA's
 * default: 4 with 32 vector registers, 2 with 16). Results do not depend on it. */
void hb_conv3_direct_set_vectors(int nv);
/* Output planes [xa, xb) of out = conv3(in, w) + b, or out += ... when
 * accumulate; b may be NULL; one sample; in laid out per xmode (hb/nn.h). */
void hb_conv3_direct(float *out, const float *in, const float *w, const float *b, int Ci, int Co, int X, int Y,
                     int Z, int xmode, int xa, int xb, float *pad, int accumulate);
/* dw (27, Ci, Co) += the weight gradient of conv3 for input in and output gradient dout (one sample). */
void hb_conv3_direct_dw(float *dw, const float *in, const float *dout, int Ci, int Co, int X, int Y, int Z,
                        int xmode, float *pad);

#endif
