// nchwToRows, rowsToNchw, resample2d, spaceToDepth, depthToSpace, neighbourhoodRows: argument checks around the
// core's layout and resampling loops; each returns a new Float32Array. addPositionSums and addPositionOffsets work in
// place on per-position rows.
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "restnet/errors.h"
#include "restnet/positions.h"
#include "restnet/resample.h"

namespace restnet_addon {
namespace {

Napi::Float32Array float32_arg(const Napi::Value& value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw restnet::TypeError(name + ": expected a Float32Array");
  }
  return value.As<Napi::Float32Array>();
}

// A count below 2^53 (exact in a JavaScript number); products of counts go through checked_product.
std::size_t count_arg(const Napi::Value& value, const std::string& name, double min) {
  return integer_arg(value, name, min, kMaxSafeInteger);
}

// [N, C, H, W] whose element count fits in size_t, so Nchw::size() is exact from here on.
restnet::Nchw nchw_arg(const Napi::Value& value, const std::string& name) {
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 4) {
    throw restnet::TypeError(name + ": expected dims [N, C, H, W]");
  }
  const Napi::Array a = value.As<Napi::Array>();
  restnet::Nchw s;
  s.n = count_arg(a.Get(0u), name + "[0]", 0);
  s.c = count_arg(a.Get(1u), name + "[1]", 1);
  s.h = count_arg(a.Get(2u), name + "[2]", 1);
  s.w = count_arg(a.Get(3u), name + "[3]", 1);
  checked_product({s.n, s.c, s.h, s.w}, name + " N x C x H x W");
  return s;
}

void require_length(const Napi::Float32Array& data, std::size_t expected, const std::string& name,
                    const std::string& what) {
  if (data.ElementLength() != expected) {
    throw restnet::RangeError(name + ": expected " + what + " = " + std::to_string(expected) + " elements, got " +
                              std::to_string(data.ElementLength()));
  }
}

std::string dims_text(const restnet::Nchw& s) {
  return "[" + std::to_string(s.n) + ", " + std::to_string(s.c) + ", " + std::to_string(s.h) + ", " +
         std::to_string(s.w) + "]";
}

// The (data, [n, c, h, w]) pair the grid bindings take first, checked: data holds exactly N C H W
// floats (braces evaluate left to right, so a bad data argument is named before the dims).
struct Grid {
  Napi::Float32Array data;
  restnet::Nchw dims;
};

Grid grid_args(const Napi::CallbackInfo& info) {
  Grid g{float32_arg(info[0], "data"), nchw_arg(info[1], "dims")};
  require_length(g.data, g.dims.size(), "data", "dims " + dims_text(g.dims));
  return g;
}

// nchwToRows(data, [n, c, h, w]) -> Float32Array (n*h*w) x c
Napi::Value NchwToRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto [x, s] = grid_args(info);
    Napi::Float32Array out = float32_output(env, s.size(), "rows");
    restnet::nchw_to_rows(x.Data(), s, out.Data());
    return out;
  });
}

// rowsToNchw(rows, [n, c, h, w], skip) -> Float32Array [n, c, h, w]
Napi::Value RowsToNchw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Napi::Float32Array rows = float32_arg(info[0], "rows");
    const restnet::Nchw s = nchw_arg(info[1], "dims");
    const std::size_t skip = count_arg(info[2], "skip", 0);
    // The output check first: with N and C >= 1 it bounds H*W, so skip + H*W cannot wrap.
    check_output_size(s.size(), sizeof(float), "grid");
    require_length(rows, checked_product({s.n, skip + s.h * s.w, s.c}, "N x (skip + H*W) x C"), "rows",
                   "N x (skip + H*W) x C for dims " + dims_text(s) + " and skip " + std::to_string(skip));
    Napi::Float32Array out = float32_output(env, s.size(), "grid");
    restnet::rows_to_nchw(rows.Data(), s, skip, out.Data());
    return out;
  });
}

// resample2d(data, [n, c, h, w], outH, outW) -> Float32Array [n, c, outH, outW]
Napi::Value Resample2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto [x, s] = grid_args(info);
    const std::size_t oh = count_arg(info[2], "outH", 1);
    const std::size_t ow = count_arg(info[3], "outW", 1);
    restnet::axis_resample(s.h, oh, "outH");
    restnet::axis_resample(s.w, ow, "outW");
    Napi::Float32Array out =
        float32_output(env, checked_product({s.n, s.c, oh, ow}, "N x C x outH x outW"), "resampled grid");
    // An empty batch has nothing to resample; the core's per-axis tables would still take time
    // and memory in proportion to H, W, outH and outW, which nothing bounds when N = 0.
    if (s.n == 0) return out;
    restnet::resample(x.Data(), s, oh, ow, out.Data());
    return out;
  });
}

// spaceToDepth(data, [n, c, h, w], f) -> [n, c f f, h / f, w / f] and depthToSpace(data,
// [n, c f f, h, w], f) -> [n, c, h f, w f]: the same checks around either permutation.
using Rearrangement = void (*)(const float*, restnet::Nchw, std::size_t, float*, const char*);

template <Rearrangement rearrange>
Napi::Value Rearrange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto [x, s] = grid_args(info);
    const std::size_t f = count_arg(info[2], "f", 1);
    Napi::Float32Array out = float32_output(env, s.size(), "rearranged grid");
    rearrange(x.Data(), s, f, out.Data(), "data");
    return out;
  });
}

// neighbourhoodRows(data, [n, c, h, w], k, stride, pad) -> Float32Array (n*oh*ow) x (c k k), the
// rows an ONNX Conv with that kernel, stride and padding multiplies by its weights.
Napi::Value NeighbourhoodRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto [x, s] = grid_args(info);
    const std::size_t k = count_arg(info[2], "k", 1);
    const std::size_t stride = count_arg(info[3], "stride", 1);
    const std::size_t pad = count_arg(info[4], "pad", 0);
    const std::size_t oh = restnet::neighbourhood_side(s.h, k, stride, pad, "data");
    const std::size_t ow = restnet::neighbourhood_side(s.w, k, stride, pad, "data");
    Napi::Float32Array out =
        float32_output(env, checked_product({s.n, oh, ow, s.c, k, k}, "N x outH x outW x C x k x k"), "rows");
    restnet::neighbourhood_rows(x.Data(), s, k, stride, pad, out.Data(), "data");
    return out;
  });
}

// addPositionSums(x: Matrix, positions, sum: Float64Array of positions x x.cols), in place.
Napi::Value AddPositionSums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const MatrixArg x = matrix_arg(info[0], "x");
    const std::size_t positions = count_arg(info[1], "positions", 1);
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      throw restnet::TypeError("sum: expected a Float64Array");
    }
    Napi::Float64Array sum = info[2].As<Napi::Float64Array>();
    const std::size_t expected = checked_product({positions, x.view.cols}, "positions x x.cols");
    if (sum.ElementLength() != expected) {
      throw restnet::RangeError("sum: expected positions x x.cols = " + std::to_string(expected) + " elements, got " +
                                std::to_string(sum.ElementLength()));
    }
    restnet::add_position_sums(x.view, positions, sum.Data(), "x");
    return env.Undefined();
  });
}

// addPositionOffsets(y: Matrix, offsets: Float32Array of positions x y.cols, positions), in place.
Napi::Value AddPositionOffsets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const MatrixArg y = matrix_arg(info[0], "y");
    const Napi::Float32Array offsets = float32_arg(info[1], "offsets");
    const std::size_t positions = count_arg(info[2], "positions", 1);
    require_length(offsets, checked_product({positions, y.view.cols}, "positions x y.cols"), "offsets",
                   "positions x y.cols");
    // The view is read-only by type; the typed array behind it belongs to the caller, who asked for the update.
    restnet::add_position_offsets(const_cast<float*>(y.view.data), y.view.rows, y.view.cols, offsets.Data(), positions,
                                  "y");
    return env.Undefined();
  });
}

}  // namespace

void init_resample(Napi::Env env, Napi::Object exports) {
  exports.Set("nchwToRows", Napi::Function::New<NchwToRows>(env, "nchwToRows"));
  exports.Set("rowsToNchw", Napi::Function::New<RowsToNchw>(env, "rowsToNchw"));
  exports.Set("resample2d", Napi::Function::New<Resample2d>(env, "resample2d"));
  exports.Set("spaceToDepth", Napi::Function::New<Rearrange<restnet::space_to_depth>>(env, "spaceToDepth"));
  exports.Set("depthToSpace", Napi::Function::New<Rearrange<restnet::depth_to_space>>(env, "depthToSpace"));
  exports.Set("neighbourhoodRows", Napi::Function::New<NeighbourhoodRows>(env, "neighbourhoodRows"));
  exports.Set("addPositionSums", Napi::Function::New<AddPositionSums>(env, "addPositionSums"));
  exports.Set("addPositionOffsets", Napi::Function::New<AddPositionOffsets>(env, "addPositionOffsets"));
}

}  // namespace restnet_addon
