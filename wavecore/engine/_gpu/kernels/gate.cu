// Gated unit z = tanh(f) * sigmoid(g) (reference: wavecore/engine/ops/gate.py), fused with the bias
// adds before it and the copy of the loss-bearing rows into the skip GEMM's input.

// fg: (n, 2D) GEMM output, in place += c (+ gcb[row % B]); z: (n, D);
// zcat rows i >= tail get z[i] too: zcat[(i - tail) * ldz + k] (this layer's columns).
extern "C" __global__ void gate_forward(real* __restrict__ fg, const real* __restrict__ c,
                                        const real* __restrict__ gcb, int has_gc,
                                        real* __restrict__ z, real* __restrict__ zcat, int ldz,
                                        int n, int B, int D, int tail) {
  WC_FOR(k, (long long)n * D) {
    long long i = k / D;
    int j = (int)(k - i * D);
    real* row = fg + i * 2 * D;
    real f = row[j] + c[j], g = row[D + j] + c[D + j];
    if (has_gc) {
      const real* gb = gcb + (i % B) * 2 * D;
      f += gb[j];
      g += gb[D + j];
    }
    row[j] = f;
    row[D + j] = g;
    real zk = tanh(f) * wc_sigmoid(g);
    z[k] = zk;
    if (i >= tail) zcat[(i - tail) * ldz + j] = zk;
  }
}

// In place: fg (pre-activations from gate_forward) becomes dfg. dz: (n, D) from the residual
// path when has_res (else zero), plus dzcat rows for i >= tail (the skip path).
extern "C" __global__ void gate_backward(real* __restrict__ fg, const real* __restrict__ dz, int has_res,
                                         const real* __restrict__ dzcat, int ldz,
                                         int n, int D, int tail) {
  WC_FOR(k, (long long)n * D) {
    long long i = k / D;
    int j = (int)(k - i * D);
    real* row = fg + i * 2 * D;
    real d = has_res ? dz[k] : real(0);
    if (i >= tail) d += dzcat[(i - tail) * ldz + j];
    real t = tanh(row[j]), s = wc_sigmoid(row[D + j]);
    row[j] = d * s * (real(1) - t * t);
    row[D + j] = d * t * s * (real(1) - s);
  }
}
