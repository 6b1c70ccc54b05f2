// Allocation of the large buffers behind Matrix64 and the packed GEMM operands (matrix.h).
#include <cstdlib>
#include <new>

#include "restnet/matrix.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace restnet {
namespace {

constexpr std::size_t kLarge = std::size_t(4) << 20;
constexpr std::size_t kHugePage = std::size_t(2) << 20;

}  // namespace

void* allocate_buffer(std::size_t bytes) {
  if (bytes < kLarge) return ::operator new(bytes);
  void* p = nullptr;
  // Whole huge pages: the size is rounded up so that the last one is not shared with other data.
  if (posix_memalign(&p, kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage) != 0) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);  // a hint: ignored where THP is off
#endif
  return p;
}

void free_buffer(void* p, std::size_t bytes) noexcept {
  if (bytes < kLarge) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

}  // namespace restnet
