// CPU emulation of the CUDA subset wavecore's kernels use, so that every kernel source also
// compiles with a host C++ compiler and runs against the NumPy reference on machines without
// a GPU (tests/test_gpu.py, device "emu"). It is a correctness tool, not a fast path.
//
// One block runs at a time; its threads are fibers (ucontext) switched at __syncthreads and at
// warp shuffles, so block barriers, shared memory (static locals: one block at a time) and
// warp shuffles keep their CUDA meaning and every run is deterministic. atomicAdd is a plain
// add (one OS thread). Between two barriers a thread runs without interruption; the order in
// which threads take their turns is forward, reverse or shuffled (wc_emu_set_order), so a
// result that depends on it — a missing barrier — shows as a difference between orders.
// Races inside one barrier interval (two non-atomic updates of one word) are not detected.
// A cluster (__cluster_dims__) runs its blocks together, each with its own dynamic shared
// memory; a kernel launched in clusters must not use static __shared__ arrays (here one
// array would serve every block of the cluster).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <random>
#include <vector>
#include <ucontext.h>

using std::exp; using std::log; using std::tanh; using std::fmax; using std::fmin;
using std::sqrt; using std::fabs; using std::floor;

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __cluster_dims__(...)
#define __shared__ static
#define WC_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(wc_emu::dynamic_shared())

static dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace wc_emu {
enum State { RUN, AT_BLOCK, AT_WARP, AT_CLUSTER, DONE };
struct Fiber { ucontext_t ctx; State state; dim3 tid, bid; int rank; std::vector<char> stack; };

// The blocks of one cluster (1 block for a kernel without __cluster_dims__) run together.
struct Group {
  ucontext_t sched;
  std::vector<Fiber> fibers;            // rank-major: fibers[rank * n + thread]
  int cur = 0, n = 0;
  std::function<void()> body;
  std::vector<std::vector<unsigned char>> smem;   // dynamic shared memory, one per block
  unsigned char exchange[8192][16];     // warp-shuffle mailboxes, one per thread
};
inline Group& blk() { static Group g; return g; }
struct Order { int mode = 0; std::mt19937 rng{0}; };   // 0 forward, 1 reverse, 2 shuffled
inline Order& order() { static Order o; return o; }
inline void* dynamic_shared() { Group& g = blk(); return g.smem[g.fibers[g.cur].rank].data(); }
inline int cluster_rank() { Group& g = blk(); return g.fibers[g.cur].rank; }
// the same shared-memory location in block `rank` of the cluster
template <typename T> inline T* dsmem(T* p, int rank) {
  Group& g = blk();
  const unsigned char* mine = g.smem[g.fibers[g.cur].rank].data();
  return reinterpret_cast<T*>(g.smem[rank].data() + (reinterpret_cast<unsigned char*>(p) - mine));
}

inline int flat_tid() { return (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)); }

inline void wait(State s) {
  Group& g = blk();
  g.fibers[g.cur].state = s;
  swapcontext(&g.fibers[g.cur].ctx, &g.sched);
}

inline void fiber_main() {
  Group& g = blk();
  g.body();
  g.fibers[g.cur].state = DONE;       // uc_link returns to the scheduler
}

// Release the fibers in [lo, hi) waiting at `s` when every live one there waits at it.
inline bool release(Group& g, int lo, int hi, State s) {
  bool ready = true, any = false;
  for (int i = lo; i < hi; ++i) {
    ready &= g.fibers[i].state == DONE || g.fibers[i].state == s;
    any |= g.fibers[i].state == s;
  }
  if (!(ready && any)) return false;
  for (int i = lo; i < hi; ++i) if (g.fibers[i].state == s) g.fibers[i].state = RUN;
  return true;
}

// Run kernel(body) over grid x block threads, `cluster` consecutive blocks (along x) at a time;
// returns 0, or 1 on a barrier deadlock or a bad launch.
inline int launch(dim3 grid, dim3 block, size_t shmem, int cluster, std::function<void()> body) {
  Group& g = blk();
  const int n = (int)(block.x * block.y * block.z);
  if (n > 1024 || n * cluster > 8192 || grid.x % cluster) {
    fprintf(stderr, "emulate: bad launch (%d threads, cluster %d, grid.x %u)\n", n, cluster, grid.x);
    return 1;
  }
  g.body = body;
  g.n = n;
  g.smem.assign(cluster, std::vector<unsigned char>(shmem + 16, 0));
  g.fibers.resize((size_t)n * cluster);
  gridDim = grid; blockDim = block;
  const int total = n * cluster;
  for (unsigned bz = 0; bz < grid.z; ++bz)
  for (unsigned by = 0; by < grid.y; ++by)
  for (unsigned bx0 = 0; bx0 < grid.x; bx0 += cluster) {
    for (int i = 0; i < total; ++i) {
      Fiber& f = g.fibers[i];
      const int t = i % n;
      f.rank = i / n;
      f.bid = dim3(bx0 + f.rank, by, bz);
      f.tid = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
      f.stack.resize(1 << 17);
      f.state = RUN;
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack.data();
      f.ctx.uc_stack.ss_size = f.stack.size();
      f.ctx.uc_link = &g.sched;
      makecontext(&f.ctx, fiber_main, 0);
    }
    std::vector<int> turn(total);
    for (int i = 0; i < total; ++i) turn[i] = order().mode == 1 ? total - 1 - i : i;
    for (;;) {
      if (order().mode == 2) std::shuffle(turn.begin(), turn.end(), order().rng);
      // In a cluster, forward order runs the blocks in lockstep (every block to its next
      // barrier each round); reverse and shuffled orders run ONE block per round (the last,
      // or a random one, that can run), so blocks drift apart between cluster barriers and
      // a missing cluster barrier shows.
      int only = -1;
      if (cluster > 1 && order().mode != 0) {
        std::vector<int> ready;
        for (int r = 0; r < cluster; ++r)
          for (int i = r * n; i < (r + 1) * n; ++i)
            if (g.fibers[i].state == RUN) { ready.push_back(r); break; }
        if (!ready.empty())
          only = order().mode == 1 ? ready.back() : ready[order().rng() % ready.size()];
      }
      for (int i : turn) {
        if (g.fibers[i].state != RUN || (only >= 0 && g.fibers[i].rank != only)) continue;
        g.cur = i;
        threadIdx = g.fibers[i].tid;
        blockIdx = g.fibers[i].bid;
        swapcontext(&g.sched, &g.fibers[i].ctx);
      }
      bool all_done = true, runnable = false;
      for (auto& f : g.fibers) {
        all_done &= f.state == DONE;
        runnable |= f.state == RUN;
      }
      if (all_done) break;
      bool released = runnable | release(g, 0, total, AT_CLUSTER);
      for (int r = 0; r < cluster; ++r) {
        released |= release(g, r * n, (r + 1) * n, AT_BLOCK);
        for (int w = 0; w < n; w += 32)            // each warp whose live lanes all wait
          released |= release(g, r * n + w, r * n + std::min(w + 32, n), AT_WARP);
      }
      if (!released) {
        fprintf(stderr, "emulate: threads wait at different barriers (divergent __syncthreads)\n");
        return 1;
      }
    }
  }
  return 0;
}
}  // namespace wc_emu

extern "C" void wc_emu_set_order(int mode, unsigned seed) {
  wc_emu::order().mode = mode;
  wc_emu::order().rng.seed(seed);
}

inline void __syncthreads() { wc_emu::wait(wc_emu::AT_BLOCK); }
// thread-block clusters (common.cuh maps these to PTX on the GPU)
inline unsigned wc_cluster_rank() { return (unsigned)wc_emu::cluster_rank(); }
inline void wc_cluster_sync() { wc_emu::wait(wc_emu::AT_CLUSTER); }
template <typename T> inline T* wc_dsmem(T* p, unsigned rank) { return wc_emu::dsmem(p, (int)rank); }
#define WC_HAVE_CLUSTER_EMULATION 1
inline void __syncwarp(unsigned = 0xffffffffu) { wc_emu::wait(wc_emu::AT_WARP); }

template <typename T> inline T wc_emu_shuffle(T v, int src_lane) {
  auto& g = wc_emu::blk();
  const int me = g.cur, lane = wc_emu::flat_tid() & 31;
  std::memcpy(g.exchange[me], &v, sizeof(T));
  wc_emu::wait(wc_emu::AT_WARP);
  T out;
  std::memcpy(&out, g.exchange[me - lane + (src_lane & 31)], sizeof(T));
  wc_emu::wait(wc_emu::AT_WARP);
  return out;
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int mask) {
  return wc_emu_shuffle(v, (wc_emu::flat_tid() & 31) ^ mask);
}
template <typename T> inline T __shfl_sync(unsigned, T v, int lane) { return wc_emu_shuffle(v, lane); }
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
  int lane = wc_emu::flat_tid() & 31;
  return wc_emu_shuffle(v, lane + (int)delta < 32 ? lane + (int)delta : lane);
}

template <typename T> inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> inline T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
