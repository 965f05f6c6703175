// Output head elementwise parts (reference: wavecore/engine/ops/output_head.py): bias + ReLU forward,
// the ReLU mask backward; the GEMMs are cuBLAS.

// y = max(x + b, 0); x, y: (n, C) (in place allowed)
extern "C" __global__ void bias_relu(const real* x, const real* __restrict__ b, real* y,
                          int n, int C) {
  WC_FOR(k, (long long)n * C) {
    real v = x[k] + b[k % C];
    y[k] = v > real(0) ? v : real(0);
  }
}

// dx *= (y > 0); dx, y: (n,)
extern "C" __global__ void relu_backward(real* __restrict__ dx, const real* __restrict__ y, long long n) {
  WC_FOR(k, n) if (!(y[k] > real(0))) dx[k] = real(0);
}
