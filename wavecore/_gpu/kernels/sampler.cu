// The cached sampler (reference: CachedSampler._step_numpy in wavecore/sampler.py): the whole
// generation loop in one launch. Each block owns `ns` streams (at most WC_MAX_STREAMS) and runs
// all n steps for them: streams never wait on each other, so no grid-wide barrier exists; the
// weights a block reads once per step serve all of its streams from registers.
#define WC_MAX_STREAMS 8

// Offsets into the flat parameter buffer P, in this order (the model's layout names).
enum { O_E, O_B, O_W, O_C, O_WR, O_BR, O_WS, O_W1, O_B1, O_W2, O_B2, O_COUNT };

// P: flat params; off: (O_COUNT,); bsum: (S,) sum of the skip biases; dil: (L,);
// queues: per layer l a (d_l, B, R) ring at qoff[l]; x_prev, x_cur: (B,) int64, updated;
// forced: (n, B) classes to read (priming: no output head) or null (has_forced = 0);
// U: (n, B) uniforms; temps: (B,); out: (n, B); logits: (n, B, A) when want_logits;
// gcb: (L, B, 2D) conditioning bias when has_gc. t0: the step count before this call.
extern "C" __global__ void __launch_bounds__(256)
sampler_run(const real* __restrict__ P, const long long* __restrict__ off, const real* __restrict__ bsum,
            const int* __restrict__ dil, const long long* __restrict__ qoff, real* __restrict__ queues,
            long long* __restrict__ x_prev, long long* __restrict__ x_cur,
            const long long* __restrict__ forced, int has_forced,
            const double* __restrict__ U, const double* __restrict__ temps,
            long long* __restrict__ out, real* __restrict__ logits, int want_logits,
            const real* __restrict__ gcb, int has_gc,
            long long t0, int n, int B, int L, int R, int D, int S, int A, int ns) {
  const int tid = threadIdx.x, nt = blockDim.x;
  const int b0 = blockIdx.x * ns;
  if (b0 >= B) return;
  const int ns_alloc = ns;                        // the shared layout uses the launch's ns
  if (b0 + ns > B) ns = B - b0;

  // shared memory, sized for ns streams (shared_bytes in wavecore/_gpu/sampler.py)
  WC_DYNAMIC_SHARED(double, e);                   // e:    (ns, A) exp weights of the draw
  real* h = reinterpret_cast<real*>(e + ns_alloc * A);  // h: (ns, R) the residual stream
  real* q = h + ns_alloc * R;                     // q:    (ns, R) h[t - d] of this layer
  real* z = q + ns_alloc * R;                     // z:    (ns, D)
  real* skip = z + ns_alloc * D;                  // skip: (ns, S), then relu(skip)
  real* o = skip + ns_alloc * S;                  // o:    (ns, S) relu(y W1 + b1)
  real* lg = o + ns_alloc * S;                    // lg:   (ns, A)
  const int nparts = nt / D > 1 ? nt / D : 1;     // partitions of the conv's 2R inputs
  const int chunk = (2 * R + nparts - 1) / nparts;
  real* part = lg + ns_alloc * A;                 // part: (nparts, ns, 2D) partial sums
  __shared__ long long xp[WC_MAX_STREAMS], xc[WC_MAX_STREAMS];

  const real *E = P + off[O_E], *b_in = P + off[O_B], *W = P + off[O_W], *c = P + off[O_C];
  const real *Wr = P + off[O_WR], *br = P + off[O_BR], *Ws = P + off[O_WS];
  const real *W1 = P + off[O_W1], *b1 = P + off[O_B1], *W2 = P + off[O_W2], *b2 = P + off[O_B2];

  if (tid < ns) { xp[tid] = x_prev[b0 + tid]; xc[tid] = x_cur[b0 + tid]; }
  __syncthreads();

  for (int step = 0; step < n; ++step) {
    const long long t = t0 + step;
    if (has_forced && tid < ns) xc[tid] = forced[(long long)step * B + b0 + tid];
    __syncthreads();
    for (int k = tid; k < ns * R; k += nt) {      // input conv
      int s = k / R, r = k - s * R;
      h[k] = E[xp[s] * R + r] + E[((long long)A + xc[s]) * R + r] + b_in[r];
    }
    for (int k = tid; k < ns * S; k += nt) skip[k] = bsum[k % S];
    __syncthreads();

    for (int l = 0; l < L; ++l) {
      const int d = dil[l];
      real* ring = queues + qoff[l] + ((t % d) * B + b0) * (long long)R;   // (ns, R) slot
      for (int k = tid; k < ns * R; k += nt) {    // read h[t - d], store h[t] in its place
        q[k] = ring[k];
        ring[k] = h[k];
      }
      __syncthreads();
      // the dilated conv [q; h] (2R) -> [f; g] (2D): thread (j, p) sums slice p of the 2R
      // inputs for columns j and D + j, for every stream (the weight read serves all ns)
      const real* Wl = W + (long long)l * 2 * R * 2 * D;                    // (2R, 2D)
      for (int k = tid; k < nparts * D; k += nt) {
        const int j = k % D, p = k / D;
        const int r0 = p * chunk, r1 = r0 + chunk < 2 * R ? r0 + chunk : 2 * R;
        real f[WC_MAX_STREAMS], g[WC_MAX_STREAMS];
#pragma unroll
        for (int s = 0; s < WC_MAX_STREAMS; ++s) { f[s] = real(0); g[s] = real(0); }
        for (int r = r0; r < r1; ++r) {
          const real wf = Wl[r * 2 * D + j], wg = Wl[r * 2 * D + D + j];
          const real* in = r < R ? q + r : h + (r - R);                     // [q; h] row r
#pragma unroll
          for (int s = 0; s < WC_MAX_STREAMS; ++s) {
            if (s < ns) {
              const real v = in[s * R];
              f[s] += v * wf;
              g[s] += v * wg;
            }
          }
        }
#pragma unroll
        for (int s = 0; s < WC_MAX_STREAMS; ++s) {
          if (s < ns) {
            part[(p * ns_alloc + s) * 2 * D + j] = f[s];
            part[(p * ns_alloc + s) * 2 * D + D + j] = g[s];
          }
        }
      }
      __syncthreads();
      for (int k = tid; k < ns * D; k += nt) {    // gated unit
        const int s = k / D, j = k % D;
        real fs = c[l * 2 * D + j], gs = c[l * 2 * D + D + j];
        for (int p = 0; p < nparts; ++p) {
          fs += part[(p * ns_alloc + s) * 2 * D + j];
          gs += part[(p * ns_alloc + s) * 2 * D + D + j];
        }
        if (has_gc) {
          const real* gb = gcb + ((long long)l * B + b0 + s) * 2 * D;
          fs += gb[j];
          gs += gb[D + j];
        }
        z[k] = tanh(fs) * wc_sigmoid(gs);
      }
      __syncthreads();
      const bool res = l < L - 1;
      const real* Wrl = Wr + (long long)l * D * R;                          // (D, R)
      const real* Wsl = Ws + (long long)l * D * S;                          // (D, S)
      for (int j = tid; j < (res ? R : 0) + S; j += nt) {                   // residual and skip 1x1s
        const bool is_res = res && j < R;
        const int col = is_res ? j : j - (res ? R : 0);
        const int ld = is_res ? R : S;
        const real* Wm = is_res ? Wrl : Wsl;
        real acc[WC_MAX_STREAMS];
#pragma unroll
        for (int s = 0; s < WC_MAX_STREAMS; ++s) acc[s] = real(0);
        for (int k = 0; k < D; ++k) {
          const real w = Wm[k * ld + col];
#pragma unroll
          for (int s = 0; s < WC_MAX_STREAMS; ++s) if (s < ns) acc[s] += z[s * D + k] * w;
        }
#pragma unroll
        for (int s = 0; s < WC_MAX_STREAMS; ++s) {
          if (s < ns) {
            if (is_res) h[s * R + col] += acc[s] + br[l * R + col];
            else skip[s * S + col] += acc[s];
          }
        }
      }
      __syncthreads();
    }
    if (tid < ns) xp[tid] = xc[tid];
    if (has_forced) continue;                     // priming reads; no output head

    for (int k = tid; k < ns * S; k += nt) skip[k] = skip[k] > real(0) ? skip[k] : real(0);
    __syncthreads();
    for (int j = tid; j < S; j += nt) {           // o = relu(y W1 + b1)
      real acc[WC_MAX_STREAMS];
#pragma unroll
      for (int s = 0; s < WC_MAX_STREAMS; ++s) acc[s] = b1[j];
      for (int k = 0; k < S; ++k) {
        const real w = W1[k * S + j];
#pragma unroll
        for (int s = 0; s < WC_MAX_STREAMS; ++s) if (s < ns) acc[s] += skip[s * S + k] * w;
      }
#pragma unroll
      for (int s = 0; s < WC_MAX_STREAMS; ++s) if (s < ns) o[s * S + j] = acc[s] > real(0) ? acc[s] : real(0);
    }
    __syncthreads();
    for (int j = tid; j < A; j += nt) {           // logits = o W2 + b2
      real acc[WC_MAX_STREAMS];
#pragma unroll
      for (int s = 0; s < WC_MAX_STREAMS; ++s) acc[s] = b2[j];
      for (int k = 0; k < S; ++k) {
        const real w = W2[k * A + j];
#pragma unroll
        for (int s = 0; s < WC_MAX_STREAMS; ++s) if (s < ns) acc[s] += o[s * S + k] * w;
      }
#pragma unroll
      for (int s = 0; s < WC_MAX_STREAMS; ++s) {
        if (s < ns) {
          lg[s * A + j] = acc[s];
          if (want_logits) logits[((long long)step * B + b0 + s) * A + j] = acc[s];
        }
      }
    }
    __syncthreads();

    // the draw (sampler.draw): warp s serves stream s. Weights e_j = exp((l_j - max) / T) in
    // float64; the class is the first j whose running sum exceeds u * total, summed in order.
    const int warp = tid >> 5, lane = tid & 31;
    for (int s = warp; s < ns; s += nt >> 5) {
      const real* ls = lg + s * A;
      double* es = e + s * A;
      real m = WC_LOWEST;
      int arg = A;
      for (int j = lane; j < A; j += 32) if (ls[j] > m) { m = ls[j]; arg = j; }
      const real mx = wc_warp_max(m);
      int cand = m == mx ? arg : A;
      for (int o2 = 16; o2 > 0; o2 >>= 1) {
        int other = __shfl_xor_sync(0xffffffffu, cand, o2);
        cand = other < cand ? other : cand;
      }
      const double T = temps[b0 + s];
      if (T != 0.0)
        for (int j = lane; j < A; j += 32) es[j] = exp(((double)ls[j] - (double)mx) / T);
      __syncwarp();
      if (lane == 0) {
        long long pick = cand;                    // T = 0: argmax
        if (T != 0.0) {
          double total = 0;
          for (int j = 0; j < A; ++j) total += es[j];
          const double target = U[(long long)step * B + b0 + s] * total;
          double cum = 0;
          pick = -1;
          for (int j = 0; j < A; ++j) {
            cum += es[j];
            if (cum > target) { pick = j; break; }
          }
          if (pick < 0) for (int j = A - 1; j >= 0; --j) if (es[j] > 0) { pick = j; break; }
        }
        out[(long long)step * B + b0 + s] = pick;
        xc[s] = pick;
      }
    }
    __syncthreads();
  }
  if (tid < ns) { x_prev[b0 + tid] = xp[tid]; x_cur[b0 + tid] = xc[tid]; }
}
