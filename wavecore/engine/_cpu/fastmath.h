/* tanh for float32 without libm: a rational minimax approximation (the one Eigen uses,
 * generic_fast_tanh_float), branch-free so loops over it vectorise; |error| within a few
 * float32 ulp on the whole line. float64 keeps libm's tanh (the reference path). */
#ifndef WAVECORE_FASTMATH_H
#define WAVECORE_FASTMATH_H

static inline float wc_tanhf(float x) {
    const float c = 7.90531110763549805f;
    float xc = x < c ? x : c;                  /* written as min / max so it vectorises */
    xc = xc > -c ? xc : -c;
    float x2 = xc * xc;
    float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = x2 * p + -8.60467152213735e-11f;
    p = x2 * p + 5.12229709037114e-08f;
    p = x2 * p + 1.48572235717979e-05f;
    p = x2 * p + 6.37261928875436e-04f;
    p = x2 * p + 4.89352455891786e-03f;
    p = xc * p;
    float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = x2 * q + 2.26843463243900e-03f;
    q = x2 * q + 4.89352518554385e-03f;
    float r = p / q;
    float ax = x < 0.0f ? -x : x;
    return ax < 0.0004f ? x : r;
}

#endif
