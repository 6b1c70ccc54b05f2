// NCHW <-> per-position rows and separable grid resampling (average pooling / bilinear).
#include "restnet/resample.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "restnet/errors.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Output position o reads inputs first .. first + weights.size() - 1 with these weights.
struct Taps {
  std::vector<std::size_t> first;
  std::vector<std::size_t> count;
  std::vector<float> weight;  // count[o] weights from offset o * width
  std::size_t width = 0;
};

Taps taps(std::size_t in, std::size_t out, const char* name) {
  Taps t;
  t.first.resize(out);
  t.count.resize(out);
  switch (axis_resample(in, out, name)) {
    case AxisResample::Same:
      t.width = 1;
      t.weight.assign(out, 1.0f);
      for (std::size_t o = 0; o < out; ++o) t.first[o] = o, t.count[o] = 1;
      break;
    case AxisResample::Pool: {
      // Adaptive average pooling: output o averages inputs floor(o in / out) .. ceil((o + 1) in / out) - 1.
      t.width = (in + out - 1) / out + 1;
      t.weight.assign(out * t.width, 0.0f);
      for (std::size_t o = 0; o < out; ++o) {
        const std::size_t begin = o * in / out, end = ((o + 1) * in + out - 1) / out;
        t.first[o] = begin;
        t.count[o] = end - begin;
        for (std::size_t k = 0; k < end - begin; ++k)
          t.weight[o * t.width + k] = 1.0f / static_cast<float>(end - begin);
      }
      break;
    }
    case AxisResample::Linear: {
      t.width = 2;
      t.weight.assign(out * 2, 0.0f);
      const double scale = static_cast<double>(in) / static_cast<double>(out);
      for (std::size_t o = 0; o < out; ++o) {
        const double src = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
        const std::size_t i0 = std::min(static_cast<std::size_t>(src), in - 1);
        const std::size_t i1 = std::min(i0 + 1, in - 1);
        const float frac = static_cast<float>(src - static_cast<double>(i0));
        t.first[o] = i0;
        t.count[o] = i1 > i0 ? 2 : 1;
        t.weight[o * 2] = i1 > i0 ? 1.0f - frac : 1.0f;
        t.weight[o * 2 + 1] = i1 > i0 ? frac : 0.0f;
      }
      break;
    }
  }
  return t;
}

constexpr std::size_t kPlanesPerTask = 16;

}  // namespace

AxisResample axis_resample(std::size_t in, std::size_t out, const char* name) {
  if (in == 0 || out == 0) {
    throw RangeError(std::string(name) + ": expected positive sizes, got " + std::to_string(in) + " -> " +
                     std::to_string(out));
  }
  if (out == in) return AxisResample::Same;
  return out > in ? AxisResample::Linear : AxisResample::Pool;
}

void nchw_to_rows(const float* x, Nchw s, float* out) {
  const std::size_t plane = s.h * s.w;
  parallel_ranges(s.n, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const float* src = x + i * s.c * plane;
      float* dst = out + i * plane * s.c;
      for (std::size_t ch = 0; ch < s.c; ++ch)
        for (std::size_t p = 0; p < plane; ++p) dst[p * s.c + ch] = src[ch * plane + p];
    }
  });
}

void rows_to_nchw(const float* rows, Nchw s, std::size_t skip, float* out) {
  const std::size_t plane = s.h * s.w;
  parallel_ranges(s.n, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const float* src = rows + (i * (skip + plane) + skip) * s.c;
      float* dst = out + i * s.c * plane;
      for (std::size_t p = 0; p < plane; ++p)
        for (std::size_t ch = 0; ch < s.c; ++ch) dst[ch * plane + p] = src[p * s.c + ch];
    }
  });
}

void resample(const float* x, Nchw s, std::size_t oh, std::size_t ow, float* out) {
  const Taps ty = taps(s.h, oh, "height");
  const Taps tx = taps(s.w, ow, "width");
  const std::size_t planes = s.n * s.c;
  parallel_ranges(planes, kPlanesPerTask, [&](std::size_t begin, std::size_t end) {
    std::vector<float> rows(s.h * ow);  // the plane resampled along x only
    for (std::size_t q = begin; q < end; ++q) {
      const float* src = x + q * s.h * s.w;
      for (std::size_t y = 0; y < s.h; ++y) {
        for (std::size_t o = 0; o < ow; ++o) {
          float acc = 0.0f;
          for (std::size_t k = 0; k < tx.count[o]; ++k)
            acc += tx.weight[o * tx.width + k] * src[y * s.w + tx.first[o] + k];
          rows[y * ow + o] = acc;
        }
      }
      float* dst = out + q * oh * ow;
      for (std::size_t o = 0; o < oh; ++o) {
        for (std::size_t xo = 0; xo < ow; ++xo) {
          float acc = 0.0f;
          for (std::size_t k = 0; k < ty.count[o]; ++k)
            acc += ty.weight[o * ty.width + k] * rows[(ty.first[o] + k) * ow + xo];
          dst[o * ow + xo] = acc;
        }
      }
    }
  });
}

void space_to_depth(const float* x, Nchw shape, std::size_t f, float* out, const char* name) {
  const auto [n, c, h, w] = shape;
  if (f == 0 || h % f != 0 || w % f != 0) {
    throw RangeError(std::string(name) + ": space-to-depth by " + std::to_string(f) +
                     " needs H and W divisible by it, got " + std::to_string(h) + " x " + std::to_string(w));
  }
  const std::size_t oh = h / f, ow = w / f, oc = c * f * f;
  parallel_for(n * c, [&](std::size_t plane) {
    const std::size_t i = plane / c, ch = plane % c;
    const float* src = x + plane * h * w;
    for (std::size_t y = 0; y < h; ++y) {
      const std::size_t by = y % f, oy = y / f;
      for (std::size_t xx = 0; xx < w; ++xx) {
        const std::size_t bx = xx % f;
        out[((i * oc + (by * f + bx) * c + ch) * oh + oy) * ow + xx / f] = src[y * w + xx];
      }
    }
  });
}

void depth_to_space(const float* x, Nchw shape, std::size_t f, float* out, const char* name) {
  const auto [n, cf, h, w] = shape;
  // f > cf / f first: then f * f <= cf cannot wrap (a huge f must not make f * f zero).
  if (f == 0 || f > cf / f || cf % (f * f) != 0) {
    throw RangeError(std::string(name) + ": depth-to-space by " + std::to_string(f) + " needs channels divisible by " +
                     (f > cf / f ? std::to_string(f) + "^2" : std::to_string(f * f)) + ", got " + std::to_string(cf));
  }
  const std::size_t c = cf / (f * f), oh = h * f, ow = w * f;
  parallel_for(n * c, [&](std::size_t plane) {
    const std::size_t i = plane / c, ch = plane % c;
    float* dst = out + plane * oh * ow;
    for (std::size_t y = 0; y < oh; ++y) {
      const std::size_t by = y % f, iy = y / f;
      for (std::size_t xx = 0; xx < ow; ++xx) {
        const std::size_t bx = xx % f;
        dst[y * ow + xx] = x[((i * cf + (by * f + bx) * c + ch) * h + iy) * w + xx / f];
      }
    }
  });
}

std::size_t neighbourhood_side(std::size_t in, std::size_t k, std::size_t stride, std::size_t pad, const char* name) {
  if (k == 0 || stride == 0 || pad >= k || k > in + 2 * pad) {
    throw RangeError(std::string(name) + ": a " + std::to_string(k) + " x " + std::to_string(k) +
                     " neighbourhood with stride " + std::to_string(stride) + " and padding " + std::to_string(pad) +
                     " needs k >= 1, stride >= 1, padding < k and k <= side + 2 padding, got side " +
                     std::to_string(in));
  }
  return (in + 2 * pad - k) / stride + 1;
}

void neighbourhood_rows(const float* x, Nchw shape, std::size_t k, std::size_t stride, std::size_t pad, float* out,
                        const char* name) {
  const auto [n, c, h, w] = shape;
  const std::size_t oh = neighbourhood_side(h, k, stride, pad, name), ow = neighbourhood_side(w, k, stride, pad, name);
  const std::size_t cols = c * k * k;
  // One task per output row of the grid: it writes ow rows of `cols` values, each read from k
  // input rows per channel (the zero padding is written, not skipped, so out needs no clearing).
  parallel_for(n * oh, [&](std::size_t task) {
    const std::size_t i = task / oh, y = task % oh;
    for (std::size_t xo = 0; xo < ow; ++xo) {
      float* row = out + ((i * oh + y) * ow + xo) * cols;
      for (std::size_t ch = 0; ch < c; ++ch) {
        const float* plane = x + (i * c + ch) * h * w;
        for (std::size_t ky = 0; ky < k; ++ky) {
          // Input row sy - pad, kept unsigned: sy < pad is the zero padding above the grid.
          const std::size_t sy = y * stride + ky;
          const bool row_inside = sy >= pad && sy - pad < h;
          for (std::size_t kx = 0; kx < k; ++kx) {
            const std::size_t sx = xo * stride + kx;
            *row++ = row_inside && sx >= pad && sx - pad < w ? plane[(sy - pad) * w + (sx - pad)] : 0.0f;
          }
        }
      }
    }
  });
}

}  // namespace restnet
