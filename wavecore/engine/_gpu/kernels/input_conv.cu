// Input causal conv from classes (reference: wavecore/engine/ops/input_conv.py).

// h[i, r] = E[0, x[i], r] + E[1, x[i + B], r] + b[r]
// x: (M, B) int64; E: (2, A, R); b: (R,); h: (n, R), n = (M - 1) * B
extern "C" __global__ void input_conv_forward(const long long* __restrict__ x, const real* __restrict__ E,
                                              const real* __restrict__ b, real* __restrict__ h,
                                              int n, int B, int A, int R) {
  WC_FOR(k, (long long)n * R) {
    long long i = k / R;
    int r = (int)(k - i * R);
    h[k] = E[x[i] * R + r] + E[((long long)A + x[i + B]) * R + r] + b[r];
  }
}

// dE[0, x[i]] += dh[i], dE[1, x[i + B]] += dh[i]; dE: (2, A, R) zeroed by the caller.
// blockIdx.y picks the table (0: previous sample, 1: current). With use_shared each block first
// sums its rows into a private (A, R) table in shared memory (a clip's silence class repeats
// thousands of times: global atomics on its row would serialise), then adds it to dE once.
extern "C" __global__ void input_conv_backward(const long long* __restrict__ x, const real* __restrict__ dh,
                                               real* __restrict__ dE, int n, int B, int A, int R,
                                               int use_shared) {
  const int part = blockIdx.y;
  const long long* xs = x + (long long)part * B;
  real* dEp = dE + (long long)part * A * R;
  const long long rows_per_block = (n + gridDim.x - 1) / gridDim.x;
  const long long i0 = blockIdx.x * rows_per_block;
  const long long i1 = i0 + rows_per_block < n ? i0 + rows_per_block : n;
  if (!use_shared) {
    for (long long k = i0 * R + threadIdx.x; k < i1 * R; k += blockDim.x) {
      long long i = k / R;
      atomicAdd(&dEp[xs[i] * R + (k - i * R)], dh[k]);
    }
    return;
  }
  WC_DYNAMIC_SHARED(real, table);                    // table: (A, R)
  for (int e = threadIdx.x; e < A * R; e += blockDim.x) table[e] = real(0);
  __syncthreads();
  for (long long k = i0 * R + threadIdx.x; k < i1 * R; k += blockDim.x) {
    long long i = k / R;
    atomicAdd(&table[xs[i] * R + (k - i * R)], dh[k]);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < A * R; e += blockDim.x)
    if (table[e] != real(0)) atomicAdd(&dEp[e], table[e]);
}
