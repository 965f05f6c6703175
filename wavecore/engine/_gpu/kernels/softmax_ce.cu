// Softmax cross-entropy, forward and backward in one pass (reference: wavecore/engine/ops/softmax_ce.py).
// One warp per row; the row's A logits are read once into registers' worth of loops.

// logits: (N, A) without the bias b: (A,). nll[i] = logsumexp(l_i) - l_i[t_i].
// backward: logits becomes dlogits = (softmax - onehot) * scale.
// pred (when want_pred): argmax class per row, the lowest index on ties.
extern "C" __global__ void softmax_ce(real* __restrict__ logits, const real* __restrict__ b,
                                      const long long* __restrict__ targets, real* __restrict__ nll,
                                      long long* __restrict__ pred, int want_pred,
                                      int backward, real scale, int N, int A) {
  const int lane = threadIdx.x & 31;
  const long long warps = (long long)gridDim.x * (blockDim.x >> 5);
  for (long long i = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5); i < N; i += warps) {
    real* row = logits + i * A;
    real m = WC_LOWEST;
    int arg = A;
    for (int j = lane; j < A; j += 32) {
      real v = row[j] + b[j];
      row[j] = v;
      if (v > m) { m = v; arg = j; }
    }
    __syncwarp();                                     // the row's biased logits are written
    real mx = wc_warp_max(m);
    if (want_pred) {                                  // the lowest index holding the max
      int cand = m == mx ? arg : A;
      for (int o = 16; o > 0; o >>= 1) {
        int other = __shfl_xor_sync(0xffffffffu, cand, o);
        cand = other < cand ? other : cand;
      }
      if (lane == 0) pred[i] = cand;
    }
    real s = real(0);
    for (int j = lane; j < A; j += 32) s += exp(row[j] - mx);
    s = wc_warp_sum(s);
    real lse = mx + log(s);
    const long long t = targets[i];
    const real lt = row[t];                           // read by every lane before any lane
    __syncwarp();                                     // overwrites the row with dlogits
    if (lane == 0) nll[i] = lse - lt;
    if (backward) {
      for (int j = lane; j < A; j += 32) {
        real p = exp(row[j] - lse);
        row[j] = (p - (j == t ? real(1) : real(0))) * scale;
      }
    }
  }
}
