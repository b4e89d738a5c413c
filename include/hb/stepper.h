/* hb/stepper.h: FastPM's kick-drift-kick factors and the time-step list.
 *
 * With p = a^2 dx/dt and F = -grad nabla^-2 delta (hb/force.h), linear
 * theory gives x = q + D Psi, p = g_p(a) Psi, F = D Psi with
 * g_p(a) = a^3 E dD/da = a^2 E f D. FastPM (Feng et al. 2016) chooses the
 * factors so that this solution is reproduced exactly for any step size:
 *   kick   p += F(a_f) [g_p(a1) - g_p(a0)] / D(a_f)
 *   drift  x += p(a_p) [D(a1) - D(a0)] / g_p(a_p)
 * Steps are linear in a between consecutive outputs, so every output
 * redshift is landed on exactly. Not collective. */
#ifndef HB_STEPPER_H
#define HB_STEPPER_H

#include "hb/cosmo.h"
#include "hb/err.h"

double hb_gp(const hb_cosmo *c, double a);
double hb_kick_factor(const hb_cosmo *c, double a_force, double a0, double a1);
double hb_drift_factor(const hb_cosmo *c, double a_mom, double a0, double a1);

/* Scale factors a[0] = a_init < ... < a[n] = max(a_out), linear in a within
 * each interval between outputs, about n_steps in all (at least one per
 * interval). a_out must be sorted increasing. Returns a malloc'd array via
 * *a_steps and its number of steps via *n. */
hb_status hb_timesteps(double a_init, const double *a_out, int n_out, int n_steps,
                       double **a_steps, int *n);

#endif
