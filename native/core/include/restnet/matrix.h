// Matrix views shared by every part of the core. Row-major, samples in rows.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace restnet {

// A read-only view of caller-owned f32 data: element (i, j) is data[i * stride + j].
struct MatrixView {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t stride = 0;

  MatrixView() = default;
  MatrixView(const float* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c), stride(c) {}
  MatrixView(const float* d, std::size_t r, std::size_t c, std::size_t s) : data(d), rows(r), cols(c), stride(s) {}

  const float* row(std::size_t i) const { return data + i * stride; }
};

// Large buffers (>= 4 MiB) are aligned to 2 MiB and, on Linux, marked for transparent huge
// pages (MADV_HUGEPAGE, as numpy does for its arrays): where THP is in "madvise" mode, a fresh
// 128 MiB Gram otherwise takes 32768 page faults on first touch, which cost more CPU time than
// the Gram's own arithmetic at n = 4096.
void* allocate_buffer(std::size_t bytes);
void free_buffer(void* p, std::size_t bytes) noexcept;
// The MADV_HUGEPAGE hint for the whole 2 MiB pages inside [p, p + bytes) of memory allocated
// elsewhere (a large output buffer V8 owns), so that first touch faults in huge pages too.
// Does nothing for small buffers and off Linux.
void advise_huge_pages(void* p, std::size_t bytes) noexcept;

// An allocator that leaves new elements uninitialised (value-initialisation only when asked),
// so an n x n result that a parallel kernel overwrites anyway is not first zeroed serially.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_buffer(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { free_buffer(p, n * sizeof(T)); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using DoubleBuffer = std::vector<double, DefaultInitAllocator<double>>;
using FloatBuffer = std::vector<float, DefaultInitAllocator<float>>;

// An owned f64 matrix: the output of reductions (Grams, CKA tables) that accumulate in f64.
struct Matrix64 {
  DoubleBuffer data;
  std::size_t rows = 0;
  std::size_t cols = 0;

  Matrix64() = default;
  // Zero-filled.
  Matrix64(std::size_t r, std::size_t c) : data(r * c, 0.0), rows(r), cols(c) {}
  // Uninitialised: for results a kernel writes in full.
  static Matrix64 uninitialized(std::size_t r, std::size_t c) {
    Matrix64 m;
    m.data.resize(r * c);
    m.rows = r;
    m.cols = c;
    return m;
  }

  double& at(std::size_t i, std::size_t j) { return data[i * cols + j]; }
  double at(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
};

}  // namespace restnet
