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
#define __shared__ static
#define WC_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(wc_emu::dynamic_shared())

static dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace wc_emu {
enum State { RUN, AT_BLOCK, AT_WARP, DONE };
struct Fiber { ucontext_t ctx; State state; dim3 tid; std::vector<char> stack; };

struct Block {
  ucontext_t sched;
  std::vector<Fiber> fibers;
  int cur = 0;
  std::function<void()> body;
  std::vector<unsigned char> smem;
  unsigned char exchange[1024][16];     // warp-shuffle mailboxes, one per thread
};
inline Block& blk() { static Block b; return b; }
struct Order { int mode = 0; std::mt19937 rng{0}; };   // 0 forward, 1 reverse, 2 shuffled
inline Order& order() { static Order o; return o; }
inline void* dynamic_shared() { return blk().smem.data(); }

inline int flat_tid() { return (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)); }

inline void wait(State s) {
  Block& b = blk();
  b.fibers[b.cur].state = s;
  swapcontext(&b.fibers[b.cur].ctx, &b.sched);
}

inline void fiber_main() {
  Block& b = blk();
  b.body();
  b.fibers[b.cur].state = DONE;       // uc_link returns to the scheduler
}

// Run kernel(body) over grid x block threads; returns 0, or 1 on a barrier deadlock.
inline int launch(dim3 grid, dim3 block, size_t shmem, std::function<void()> body) {
  Block& b = blk();
  int n = (int)(block.x * block.y * block.z);
  if (n > 1024) { fprintf(stderr, "emulate: %d threads per block > 1024\n", n); return 1; }
  b.body = body;
  b.smem.assign(shmem + 16, 0);
  b.fibers.resize(n);
  gridDim = grid; blockDim = block;
  for (unsigned bz = 0; bz < grid.z; ++bz)
  for (unsigned by = 0; by < grid.y; ++by)
  for (unsigned bx = 0; bx < grid.x; ++bx) {
    blockIdx = dim3(bx, by, bz);
    for (int i = 0; i < n; ++i) {
      Fiber& f = b.fibers[i];
      f.tid = dim3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
      f.stack.resize(1 << 17);
      f.state = RUN;
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack.data();
      f.ctx.uc_stack.ss_size = f.stack.size();
      f.ctx.uc_link = &b.sched;
      makecontext(&f.ctx, fiber_main, 0);
    }
    std::vector<int> turn(n);
    for (int i = 0; i < n; ++i) turn[i] = order().mode == 1 ? n - 1 - i : i;
    for (;;) {
      if (order().mode == 2) std::shuffle(turn.begin(), turn.end(), order().rng);
      for (int i : turn) {
        if (b.fibers[i].state != RUN) continue;
        b.cur = i;
        threadIdx = b.fibers[i].tid;
        swapcontext(&b.sched, &b.fibers[i].ctx);
      }
      bool all_done = true, block_ready = true, released = false;
      for (auto& f : b.fibers) {
        all_done &= f.state == DONE;
        block_ready &= f.state == DONE || f.state == AT_BLOCK;
      }
      if (all_done) break;
      if (block_ready) {
        for (auto& f : b.fibers) if (f.state == AT_BLOCK) f.state = RUN;
        continue;
      }
      for (int w = 0; w < n; w += 32) {             // release each warp whose live lanes all wait
        bool ready = true, any = false;
        for (int i = w; i < w + 32 && i < n; ++i) {
          ready &= b.fibers[i].state == DONE || b.fibers[i].state == AT_WARP;
          any |= b.fibers[i].state == AT_WARP;
        }
        if (ready && any) {
          for (int i = w; i < w + 32 && i < n; ++i) if (b.fibers[i].state == AT_WARP) b.fibers[i].state = RUN;
          released = true;
        }
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
inline void __syncwarp(unsigned = 0xffffffffu) { wc_emu::wait(wc_emu::AT_WARP); }

template <typename T> inline T wc_emu_shuffle(T v, int src_lane) {
  auto& b = wc_emu::blk();
  int tid = wc_emu::flat_tid();
  std::memcpy(b.exchange[tid], &v, sizeof(T));
  wc_emu::wait(wc_emu::AT_WARP);
  T out;
  std::memcpy(&out, b.exchange[(tid & ~31) + (src_lane & 31)], sizeof(T));
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
