// Adam over the flat parameter buffer in one pass (reference: wavecore/engine/optim.py, NumPy branch).
// step = lr * sqrt(1 - b2^t) / (1 - b1^t) and eps_hat = eps * sqrt(1 - b2^t) fold the bias
// correction in; scale is the clipping factor.
extern "C" __global__ void adam_update(real* __restrict__ p, const real* __restrict__ g,
                                       real* __restrict__ m, real* __restrict__ v, long long n,
                                       double step, double b1, double b2, double eps_hat, double scale) {
  WC_FOR(k, n) {
    real gk = g[k] * (real)scale;
    real mk = (real)b1 * m[k] + (real)(1 - b1) * gk;
    real vk = (real)b2 * v[k] + (real)(1 - b2) * (gk * gk);
    m[k] = mk;
    v[k] = vk;
    p[k] -= (real)(step * (double)(mk / (sqrt(vk) + (real)eps_hat)));
  }
}

// sum of squares in float64: one partial per block, out: (gridDim.x,)
extern "C" __global__ void sum_squares(const real* __restrict__ g, long long n, double* __restrict__ out) {
  __shared__ double part[32];
  double s = 0;
  WC_FOR(k, n) s += (double)g[k] * (double)g[k];
  s = wc_warp_sum_d(s);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x < 32) {
    s = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0;
    s = wc_warp_sum_d(s);
    if (threadIdx.x == 0) out[blockIdx.x] = s;
  }
}
