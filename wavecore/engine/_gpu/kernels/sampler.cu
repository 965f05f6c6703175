// The cached sampler (reference: NumpyAdvance in wavecore/engine/sampler.py): the whole
// generation loop in one launch. Each block owns `ns` streams (at most WC_MAX_STREAMS) and runs
// all n steps for them: streams never wait on each other, so no grid-wide barrier exists; the
// weights a block reads once per step serve all of its streams from registers.
#define WC_MAX_STREAMS 8

// Blocks of the flat parameter buffer P are found through off[WC_*] (WC_* from the generated
// layout header, wavecore/engine/layout.py, put in front of these sources by wavecore/engine/_gpu/device.py).

// y[s, j] = bias[j] + sum_k x[s, k] W[k, j] (then relu) for j in [j0, j1) and ns streams:
// x: (ns, K), W: (K, ldw), y: (ns, ldy); one weight read serves every stream.
__device__ __forceinline__ void wc_matvec(const real* x, int K, const real* __restrict__ W, int ldw,
                                          const real* __restrict__ bias, int j0, int j1,
                                          real* y, int ldy, int ns, bool relu, int tid, int nt) {
  for (int j = j0 + tid; j < j1; j += nt) {
    real acc[WC_MAX_STREAMS];
#pragma unroll
    for (int s = 0; s < WC_MAX_STREAMS; ++s) acc[s] = bias[j];
    for (int k = 0; k < K; ++k) {
      const real w = W[(long long)k * ldw + j];
#pragma unroll
      for (int s = 0; s < WC_MAX_STREAMS; ++s) if (s < ns) acc[s] += x[s * K + k] * w;
    }
#pragma unroll
    for (int s = 0; s < WC_MAX_STREAMS; ++s)
      if (s < ns) y[s * ldy + j] = relu && !(acc[s] > real(0)) ? real(0) : acc[s];
  }
}

// The draw of wavecore.engine.sampler.draw, by one whole warp: weights e_j = exp((l_j - max) / T) in
// float64 (e: (A,) scratch), the class the first j whose running sum, in order, exceeds
// u * total; T = 0: the argmax (lowest index on ties). The result is lane 0's.
__device__ long long wc_draw(const real* lg, double* e, int A, double T, double u, int lane) {
  real m = WC_LOWEST;
  int arg = A;
  for (int j = lane; j < A; j += 32) if (lg[j] > m) { m = lg[j]; arg = j; }
  const real mx = wc_warp_max(m);
  int cand = m == mx ? arg : A;
  for (int o = 16; o > 0; o >>= 1) {
    const int other = __shfl_xor_sync(0xffffffffu, cand, o);
    cand = other < cand ? other : cand;
  }
  if (T != 0.0)
    for (int j = lane; j < A; j += 32) e[j] = exp(((double)lg[j] - (double)mx) / T);
  __syncwarp();
  long long pick = cand;
  if (lane == 0 && T != 0.0) {
    double total = 0;
    for (int j = 0; j < A; ++j) total += e[j];
    const double target = u * total;
    double cum = 0;
    pick = -1;
    for (int j = 0; j < A; ++j) {
      cum += e[j];
      if (cum > target) { pick = j; break; }
    }
    if (pick < 0) for (int j = A - 1; j >= 0; --j) if (e[j] > 0) { pick = j; break; }
  }
  return pick;
}

// P: flat params; off: (WC_NBLOCKS,); bsum: (S,) sum of the skip biases; dil: (L,);
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

  // shared memory, sized for ns streams (shared_bytes in wavecore/engine/_gpu/sampler.py)
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

  const real *E = P + off[WC_INPUT_E], *b_in = P + off[WC_INPUT_B], *W = P + off[WC_LAYERS_W], *c = P + off[WC_LAYERS_C];
  const real *Wr = P + off[WC_LAYERS_WR], *br = P + off[WC_LAYERS_BR], *Ws = P + off[WC_SKIP_W];
  const real *W1 = P + off[WC_OUT_W1], *b1 = P + off[WC_OUT_B1], *W2 = P + off[WC_OUT_W2], *b2 = P + off[WC_OUT_B2];

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
    wc_matvec(skip, S, W1, S, b1, 0, S, o, S, ns, true, tid, nt);      // o = relu(y W1 + b1)
    __syncthreads();
    wc_matvec(o, S, W2, A, b2, 0, A, lg, A, ns, false, tid, nt);        // logits = o W2 + b2
    __syncthreads();
    if (want_logits)
      for (int k = tid; k < ns * A; k += nt) logits[((long long)step * B + b0) * A + k] = lg[k];
    const int warp = tid >> 5, lane = tid & 31;   // the draw: warp s serves stream s
    for (int s = warp; s < ns; s += nt >> 5) {
      const long long pick = wc_draw(lg + s * A, e + s * A, A, temps[b0 + s],
                                     U[(long long)step * B + b0 + s], lane);
      if (lane == 0) {
        out[(long long)step * B + b0 + s] = pick;
        xc[s] = pick;
      }
    }
    __syncthreads();
  }
  if (tid < ns) { x_prev[b0 + tid] = xp[tid]; x_cur[b0 + tid] = xc[tid]; }
}

// One stream per thread-block cluster of WC_CLUSTER blocks (sm_90): a single stream's step reads
// every weight once, and one multiprocessor alone pulls them from L2 too slowly, so the blocks
// of a cluster split the weight reads and exchange activations through distributed shared
// memory. Block r owns a slice of the gate's D columns, of the S skip/head columns and of the
// A logits; every block keeps the full residual stream h (the residual 1x1 runs redundantly:
// Wr is small) and its own partial skip sum, so a layer costs ONE cluster barrier (after the
// z slices are everywhere) and the head four. Same arguments as sampler_run, one stream each.
#define WC_CLUSTER 8
#ifdef WC_CLUSTERS
#define WC_CLUSTER_DIMS __cluster_dims__(WC_CLUSTER, 1, 1)
#else
#define WC_CLUSTER_DIMS
#endif

extern "C" __global__ void WC_CLUSTER_DIMS __launch_bounds__(256)
sampler_cluster(const real* __restrict__ P, const long long* __restrict__ off, const real* __restrict__ bsum,
                const int* __restrict__ dil, const long long* __restrict__ qoff, real* __restrict__ queues,
                long long* __restrict__ x_prev, long long* __restrict__ x_cur,
                const long long* __restrict__ forced, int has_forced,
                const double* __restrict__ U, const double* __restrict__ temps,
                long long* __restrict__ out, real* __restrict__ logits, int want_logits,
                const real* __restrict__ gcb, int has_gc,
                long long t0, int n, int B, int L, int R, int D, int S, int A) {
#ifdef WC_CLUSTERS
  const int tid = threadIdx.x, nt = blockDim.x, C = WC_CLUSTER;
  const unsigned rank = wc_cluster_rank();
  const int b = blockIdx.x / C;                                  // this cluster's stream
  const int Dc = (D + C - 1) / C, jlo = wc_min(D, (int)rank * Dc), jhi = wc_min(D, jlo + Dc);
  const int Sc = (S + C - 1) / C, slo = wc_min(S, (int)rank * Sc), shi = wc_min(S, slo + Sc);
  const int Ac = (A + C - 1) / C, alo = wc_min(A, (int)rank * Ac), ahi = wc_min(A, alo + Ac);
  const int nj = jhi - jlo;

  // shared memory (sampler_cluster_bytes in wavecore/engine/_gpu/sampler.py); no static __shared__:
  WC_DYNAMIC_SHARED(long long, xs);               // xs: (2,) x_prev, x_cur of the stream
  double* e = reinterpret_cast<double*>(xs + 2);  // e:   (A,) exp weights of the draw (rank 0)
  real* h = reinterpret_cast<real*>(e + A);       // h:   (R,) the residual stream, full
  real* q = h + R;                                // q:   (R,) h[t - d]
  real* zbuf = q + R;                             // zbuf: (2, D) z, double-buffered by layer
  real* skp = zbuf + 2 * D;                       // skp: (S,) this block's partial skip sum
  real* y = skp + S;                              // y:   (S,) relu(skip), full
  real* o = y + S;                                // o:   (S,) relu(y W1 + b1), full
  real* lg = o + S;                               // lg:  (A,) logits (gathered on rank 0)
  const int nparts = wc_max(1, wc_min(2 * R, nt / wc_max(1, nj)));         // splits of the 2R inputs
  const int chunk = (2 * R + nparts - 1) / nparts;
  real* part = lg + A;                            // part: (nparts, Dc, 2) partial sums

  const real *E = P + off[WC_INPUT_E], *b_in = P + off[WC_INPUT_B], *W = P + off[WC_LAYERS_W], *c = P + off[WC_LAYERS_C];
  const real *Wr = P + off[WC_LAYERS_WR], *br = P + off[WC_LAYERS_BR], *Ws = P + off[WC_SKIP_W];
  const real *W1 = P + off[WC_OUT_W1], *b1 = P + off[WC_OUT_B1], *W2 = P + off[WC_OUT_W2], *b2 = P + off[WC_OUT_B2];

  if (tid == 0) { xs[0] = x_prev[b]; xs[1] = x_cur[b]; }
  __syncthreads();
  for (int step = 0; step < n; ++step) {
    const long long t = t0 + step;
    if (has_forced && tid == 0) xs[1] = forced[(long long)step * B + b];
    __syncthreads();
    for (int r = tid; r < R; r += nt) h[r] = E[xs[0] * R + r] + E[((long long)A + xs[1]) * R + r] + b_in[r];
    for (int s = tid; s < S; s += nt) skp[s] = rank == 0 ? bsum[s] : real(0);
    __syncthreads();

    for (int l = 0; l < L; ++l) {
      real* z = zbuf + (((long long)step * L + l) & 1) * D;
      const int d = dil[l];
      real* ring = queues + qoff[l] + ((t % d) * B + b) * (long long)R;
      for (int r = tid; r < R; r += nt) q[r] = ring[r];
      __syncthreads();
      const real* Wl = W + (long long)l * 2 * R * 2 * D;                    // (2R, 2D)
      for (int k = tid; k < nparts * nj; k += nt) {                         // this block's columns
        const int jj = k % nj, p = k / nj, j = jlo + jj;
        const int r0 = p * chunk, r1 = wc_min(2 * R, r0 + chunk);
        real f = real(0), g = real(0);
        for (int r = r0; r < r1; ++r) {
          const real v = r < R ? q[r] : h[r - R];
          f += v * Wl[r * 2 * D + j];
          g += v * Wl[r * 2 * D + D + j];
        }
        part[(p * Dc + jj) * 2] = f;
        part[(p * Dc + jj) * 2 + 1] = g;
      }
      __syncthreads();
      for (int jj = tid; jj < nj; jj += nt) {                               // gate, then share z
        const int j = jlo + jj;
        real f = c[l * 2 * D + j], g = c[l * 2 * D + D + j];
        for (int p = 0; p < nparts; ++p) { f += part[(p * Dc + jj) * 2]; g += part[(p * Dc + jj) * 2 + 1]; }
        if (has_gc) {
          const real* gb = gcb + ((long long)l * B + b) * 2 * D;
          f += gb[j];
          g += gb[D + j];
        }
        const real zj = tanh(f) * wc_sigmoid(g);
        for (int r = 0; r < C; ++r) *wc_dsmem(z + j, r) = zj;
      }
      __syncthreads();
      const real* Wsl = Ws + (long long)l * D * S;                          // (D, S): own rows
      for (int s = tid; s < S; s += nt) {
        real acc = real(0);
        for (int j = jlo; j < jhi; ++j) acc += z[j] * Wsl[(long long)j * S + s];
        skp[s] += acc;
      }
      wc_cluster_sync();                          // all of z everywhere; every q read
      if (rank == 0) for (int r = tid; r < R; r += nt) ring[r] = h[r];
      __syncthreads();
      if (l < L - 1) {                            // the residual 1x1, full in every block
        const real* Wrl = Wr + (long long)l * D * R;                        // (D, R)
        for (int r = tid; r < R; r += nt) {
          real acc = br[l * R + r];
          for (int k = 0; k < D; ++k) acc += z[k] * Wrl[k * R + r];
          h[r] += acc;
        }
      }
      __syncthreads();
    }
    if (tid == 0) xs[0] = xs[1];
    if (has_forced) continue;                     // priming reads; no output head

    for (int s = slo + tid; s < shi; s += nt) {     // y = relu(Σ_blocks skp): this block's slice
      real v = real(0);
      for (int r = 0; r < C; ++r) v += *wc_dsmem(skp + s, r);
      v = v > real(0) ? v : real(0);
      for (int r = 0; r < C; ++r) *wc_dsmem(y + s, r) = v;
    }
    wc_cluster_sync();
    for (int k = slo + tid; k < shi; k += nt) {     // o = relu(y W1 + b1): this block's slice
      real acc = b1[k];
      for (int i = 0; i < S; ++i) acc += y[i] * W1[(long long)i * S + k];
      acc = acc > real(0) ? acc : real(0);
      for (int r = 0; r < C; ++r) *wc_dsmem(o + k, r) = acc;
    }
    wc_cluster_sync();
    for (int a = alo + tid; a < ahi; a += nt) {     // logits = o W2 + b2, gathered on rank 0
      real acc = b2[a];
      for (int i = 0; i < S; ++i) acc += o[i] * W2[(long long)i * A + a];
      *wc_dsmem(lg + a, 0) = acc;
      if (want_logits) logits[((long long)step * B + b) * A + a] = acc;
    }
    wc_cluster_sync();
    if (rank == 0 && tid < 32) {                  // the draw, warp 0 of rank 0
      const long long pick = wc_draw(lg, e, A, temps[b], U[(long long)step * B + b], tid);
      if (tid == 0) {
        out[(long long)step * B + b] = pick;
        for (int r = 0; r < C; ++r) *wc_dsmem(xs + 1, r) = pick;
      }
    }
    wc_cluster_sync();
  }
  if (rank == 0 && tid == 0) { x_prev[b] = xs[0]; x_cur[b] = xs[1]; }
#endif
}
