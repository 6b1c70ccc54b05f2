// Keeps the addon loadable on glibc 2.28 (Debian 10, Ubuntu 18.10+, Raspberry Pi OS buster and
// later; what onnxruntime-node itself needs) although it is built on a newer glibc.
//
// libstdc++ is linked statically (binding.gyp), so the binary does not need the build
// machine's GLIBCXX; but the linker binds glibc symbols to the newest versions it sees:
// pthread_* moved into libc in 2.34, exp/pow got new versions in 2.29, hypot in 2.35. Hidden
// definitions of those names forward to the original versions (GLIBC_2.2.5 on x86-64,
// GLIBC_2.17 on aarch64), and every reference in the addon, libstdc++'s included, binds to them
// at link time. test/package.test.ts checks the floor of both prebuilds with readelf.
#include <cstddef>  // defines __GLIBC__ through <features.h>
#include <cstdint>

#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))

#include <sys/random.h>

#if defined(__x86_64__)
#define RESTNET_GLIBC_BASE "GLIBC_2.2.5"
#else
#define RESTNET_GLIBC_BASE "GLIBC_2.17"
#endif

#define RESTNET_HIDDEN extern "C" __attribute__((visibility("hidden")))

// Declares restnet_base_<name> as a reference to <name>@<base version>, and defines a hidden
// function whose symbol is <name> (an asm label, so it never clashes with the compiler's
// built-in declarations of exp, pow or hypot) calling it. Argument types are opaque on
// purpose: C linkage does not encode them, and the real headers are not included.
#define RESTNET_FORWARD(ret, name, params, args)                           \
  extern "C" ret restnet_base_##name params;                               \
  __asm__(".symver restnet_base_" #name "," #name "@" RESTNET_GLIBC_BASE); \
  RESTNET_HIDDEN ret restnet_local_##name params __asm__(#name);           \
  ret restnet_local_##name params { return restnet_base_##name args; }

using opaque = void*;
using thread_id = unsigned long;
using routine = void* (*)(void*);
using destructor = void (*)(void*);

RESTNET_FORWARD(int, pthread_create, (thread_id * t, const void* attr, routine fn, void* arg), (t, attr, fn, arg))
RESTNET_FORWARD(int, pthread_join, (thread_id t, void** result), (t, result))
RESTNET_FORWARD(int, pthread_detach, (thread_id t), (t))
RESTNET_FORWARD(int, pthread_once, (int* once, void (*init)()), (once, init))
RESTNET_FORWARD(int, pthread_key_create, (unsigned* key, destructor d), (key, d))
RESTNET_FORWARD(int, pthread_key_delete, (unsigned key), (key))
RESTNET_FORWARD(opaque, pthread_getspecific, (unsigned key), (key))
RESTNET_FORWARD(int, pthread_setspecific, (unsigned key, const void* value), (key, value))
RESTNET_FORWARD(int, pthread_mutex_trylock, (opaque mutex), (mutex))
RESTNET_FORWARD(double, exp, (double x), (x))
RESTNET_FORWARD(double, pow, (double x, double y), (x, y))
RESTNET_FORWARD(double, hypot, (double x, double y), (x, y))

// glibc 2.32's flag that lets libstdc++ skip atomic reference counts in single-threaded
// processes. Node is never single-threaded, so "no" is always the right answer.
extern "C" {
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}

// Only std::random_device needs arc4random (glibc 2.36), and restnet never constructs one; it
// is linked in with libstdc++'s random.o. getrandom (glibc 2.25) gives the same contract.
RESTNET_HIDDEN std::uint32_t arc4random() {
  std::uint32_t value = 0;
  std::size_t got = 0;
  while (got < sizeof value) {
    const long n = getrandom(reinterpret_cast<char*>(&value) + got, sizeof value - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return value;
}

#endif
