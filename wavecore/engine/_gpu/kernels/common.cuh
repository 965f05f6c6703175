// Shared by every kernel source: the element type and the helpers. The launchers compile each
// source twice, with WC_REAL float and double (one module per dtype, the same entry names).
#ifndef WC_REAL
#define WC_REAL float
#endif
typedef WC_REAL real;
#define WC_LOWEST ((real)-3.0e38)           // below any finite logit, for max-reductions
#ifndef WC_DYNAMIC_SHARED
#define WC_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) unsigned char wc_smem_[]; \
  T* name = reinterpret_cast<T*>(wc_smem_)
#endif

// grid-stride loop over [0, n)
#define WC_FOR(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; \
                          i < (long long)(n); i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ int wc_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int wc_max(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ real wc_sigmoid(real x) { return real(0.5) * (real(1) + tanh(real(0.5) * x)); }

__device__ __forceinline__ real wc_warp_max(real v) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ real wc_warp_sum(real v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double wc_warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Thread-block clusters (Hopper, sm_90): the rank of this block in its cluster, a barrier over
// the cluster's threads, and the address of the same shared-memory location in another block
// of the cluster. Compiled only where the GPU has them (or on the emulator, which defines them).
#if defined(WC_HAVE_CLUSTER_EMULATION)
#define WC_CLUSTERS 1
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define WC_CLUSTERS 1
__device__ __forceinline__ unsigned wc_cluster_rank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ void wc_cluster_sync() {
  asm volatile("barrier.cluster.arrive.aligned;\n\tbarrier.cluster.wait.aligned;" ::: "memory");
}
template <typename T> __device__ __forceinline__ T* wc_dsmem(T* p, unsigned rank) {
  unsigned long long out;
  asm volatile("mapa.u64 %0, %1, %2;" : "=l"(out) : "l"(p), "r"(rank));
  return reinterpret_cast<T*>(out);
}
#endif
