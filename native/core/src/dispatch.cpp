#include "restnet/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "cpu_features.h"
#include "kernel_table.h"
#include "restnet/errors.h"

namespace restnet {
namespace {

const Kernels* table_for(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return scalar_kernels();
    case Isa::Avx2: return cpu_features().avx2_fma ? avx2_kernels() : nullptr;
    case Isa::Avx512: return cpu_features().avx512f ? avx512_kernels() : nullptr;
    case Isa::Neon: return cpu_features().neon ? neon_kernels() : nullptr;
  }
  return nullptr;
}

std::string available_list() {
  std::string out;
  for (Isa isa : available_isas()) {
    if (!out.empty()) out += ", ";
    out += isa_name(isa);
  }
  return out;
}

const Kernels& require(Isa isa) {
  const Kernels* table = table_for(isa);
  if (table == nullptr) {
    throw RangeError(std::string("SIMD path '") + isa_name(isa) +
                     "' is not supported by this CPU; available: " + available_list());
  }
  return *table;
}

std::atomic<const Kernels*> active{nullptr};
std::mutex init_mutex;

const Kernels& initial() {
  const char* forced = std::getenv("RESTNET_SIMD");
  if (forced != nullptr && *forced != '\0') {
    Isa isa;
    try {
      isa = parse_isa(forced);
    } catch (const TypeError&) {
      throw RangeError(std::string("RESTNET_SIMD: expected one of scalar, avx2, avx512, neon, got '") + forced + "'");
    }
    return require(isa);
  }
  return require(available_isas().back());
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name) {
  if (name == "scalar") return Isa::Scalar;
  if (name == "avx2") return Isa::Avx2;
  if (name == "avx512") return Isa::Avx512;
  if (name == "neon") return Isa::Neon;
  throw TypeError("simd: expected one of scalar, avx2, avx512, neon, got '" + name + "'");
}

const std::vector<Isa>& available_isas() {
  static const std::vector<Isa> isas = [] {
    std::vector<Isa> out{Isa::Scalar};
    for (Isa isa : {Isa::Neon, Isa::Avx2, Isa::Avx512}) {
      if (table_for(isa) != nullptr) out.push_back(isa);
    }
    return out;
  }();
  return isas;
}

const Kernels& kernels() {
  const Kernels* current = active.load(std::memory_order_acquire);
  if (current != nullptr) return *current;
  std::lock_guard<std::mutex> lock(init_mutex);
  current = active.load(std::memory_order_relaxed);
  if (current == nullptr) {
    current = &initial();
    active.store(current, std::memory_order_release);
  }
  return *current;
}

Isa active_isa() { return kernels().isa; }

void set_isa(Isa isa) { active.store(&require(isa), std::memory_order_release); }

const Kernels& kernels_for(Isa isa) { return require(isa); }

}  // namespace restnet
