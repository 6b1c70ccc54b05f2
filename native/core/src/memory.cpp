// Allocation of the large buffers behind Matrix64 and the packed GEMM operands (matrix.h).
#include <cstdint>
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
  const std::size_t whole = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  if (posix_memalign(&p, kHugePage, whole) != 0) throw std::bad_alloc();
  advise_huge_pages(p, whole);
  return p;
}

void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes < kLarge) return;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kHugePage - 1) / kHugePage * kHugePage;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / kHugePage * kHugePage;
  // A hint: ignored where THP is off. Only whole huge pages inside the buffer, so the hint never
  // reaches memory that belongs to something else.
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

void free_buffer(void* p, std::size_t bytes) noexcept {
  if (bytes < kLarge) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

}  // namespace restnet
