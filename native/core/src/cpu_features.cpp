#include "cpu_features.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace restnet {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
// XGETBV reads which register states the OS saves on a context switch; a CPU flag alone is
// not enough (an OS without AVX-512 support would corrupt ZMM registers).
unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx & (1u << 27)) != 0;
  const bool fma = (ecx & (1u << 12)) != 0;
  const bool avx = (ecx & (1u << 28)) != 0;
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  const bool avx2 = (ebx & (1u << 5)) != 0;
  const bool avx512f = (ebx & (1u << 16)) != 0;
  f.avx2_fma = avx2 && fma && ymm_state;
  f.avx512f = f.avx2_fma && avx512f && zmm_state;
  return f;
}
#elif defined(__aarch64__)
CpuFeatures detect() {
  CpuFeatures f;
  f.neon = true;  // mandatory in ARMv8-A
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

// The first bytes of a small sysfs file, or "" when it cannot be read. POSIX open/read rather
// than std::ifstream: libstdc++'s file streams call fstat, whose symbol is versioned GLIBC_2.33
// on newer glibc and would raise the prebuilt addon's glibc floor (glibc_floor.cpp).
std::string read_small_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[64];
  const ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

std::size_t l2_from_sysfs() {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    const std::string level = read_small_file(dir + "level"), size = read_small_file(dir + "size");
    if (level.empty() || size.empty()) break;
    if (std::atoi(level.c_str()) != 2) continue;
    char* unit = nullptr;
    const unsigned long long value = std::strtoull(size.c_str(), &unit, 10);
    if (unit == size.c_str()) break;
    return *unit == 'K' ? value << 10 : *unit == 'M' ? value << 20 : value;
  }
  return 0;
}

std::size_t detect_l2() {
#if defined(_SC_LEVEL2_CACHE_SIZE)
  const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (reported > 0) return static_cast<std::size_t>(reported);
#endif
  const std::size_t bytes = l2_from_sysfs();
  return bytes > 0 ? bytes : std::size_t(1) << 20;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f = detect();
    f.l2_bytes = detect_l2();
    return f;
  }();
  return features;
}

}  // namespace restnet
