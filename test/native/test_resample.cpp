// NCHW <-> rows and grid resampling against direct double-precision formulas.
#include <array>
#include <cmath>
#include <vector>

#include "harness.h"
#include "restnet/errors.h"
#include "restnet/resample.h"

using restnet::Nchw;

namespace {

std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) + 0.01 * i);
  return v;
}

// Linear interpolation weight of input i for output o (half-pixel centres, clamped).
double linear_weight(std::size_t in, std::size_t out, std::size_t o, std::size_t i) {
  double src = (o + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
  if (src < 0) src = 0;
  if (src > in - 1.0) src = in - 1.0;
  const double d = std::fabs(src - static_cast<double>(i));
  return d < 1.0 ? 1.0 - d : 0.0;
}

}  // namespace

TEST(resample_rows_round_trip) {
  const Nchw s{3, 5, 4, 6};
  const std::vector<float> x = ramp(s.size());
  std::vector<float> rows(s.size()), back(s.size());
  restnet::nchw_to_rows(x.data(), s, rows.data());
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t c = 0; c < s.c; ++c)
      for (std::size_t p = 0; p < s.h * s.w; ++p)
        CHECK(rows[(i * s.h * s.w + p) * s.c + c] == x[(i * s.c + c) * s.h * s.w + p]);
  restnet::rows_to_nchw(rows.data(), s, 0, back.data());
  CHECK(back == x);
  // With a CLS row in front of each sample's grid rows.
  std::vector<float> tokens(s.n * (1 + s.h * s.w) * s.c, -7.0f);
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t r = 0; r < s.h * s.w * s.c; ++r)
      tokens[(i * (1 + s.h * s.w) + 1) * s.c + r] = rows[i * s.h * s.w * s.c + r];
  restnet::rows_to_nchw(tokens.data(), s, 1, back.data());
  CHECK(back == x);
}

TEST(resample_pool_and_bilinear) {
  for (auto [h, w, oh, ow] : {std::array<std::size_t, 4>{8, 8, 4, 2},
                              {7, 14, 4, 4},
                              {5, 9, 3, 4},
                              {3, 5, 7, 9},
                              {6, 4, 3, 10},
                              {4, 4, 4, 4},
                              {1, 2, 5, 2}}) {
    const Nchw s{2, 3, h, w};
    const std::vector<float> x = ramp(s.size());
    std::vector<float> out(s.n * s.c * oh * ow);
    restnet::resample(x.data(), s, oh, ow, out.data());
    auto weight = [](std::size_t in, std::size_t outn, std::size_t o, std::size_t i) {
      if (in == outn) return o == i ? 1.0 : 0.0;
      if (outn < in) {
        const std::size_t begin = static_cast<std::size_t>(std::floor(static_cast<double>(o) * in / outn));
        const std::size_t end = static_cast<std::size_t>(std::ceil(static_cast<double>(o + 1) * in / outn));
        return i >= begin && i < end ? 1.0 / static_cast<double>(end - begin) : 0.0;
      }
      return linear_weight(in, outn, o, i);
    };
    for (std::size_t q = 0; q < s.n * s.c; ++q)
      for (std::size_t y = 0; y < oh; ++y)
        for (std::size_t xo = 0; xo < ow; ++xo) {
          double ref = 0;
          for (std::size_t a = 0; a < h; ++a)
            for (std::size_t b = 0; b < w; ++b)
              ref += weight(h, oh, y, a) * weight(w, ow, xo, b) * x[q * h * w + a * w + b];
          CHECK_CLOSE(out[(q * oh + y) * ow + xo], ref, 1e-5);
        }
  }
}

TEST(resample_rejects_zero_sizes) {
  CHECK_THROWS(restnet::axis_resample(0, 3, "h"), restnet::RangeError);
  CHECK_THROWS(restnet::axis_resample(3, 0, "h"), restnet::RangeError);
}

TEST(space_to_depth_is_onnx_order_and_depth_to_space_inverts_it) {
  const Nchw s{2, 3, 6, 4};
  const std::size_t f = 2, oh = 3, ow = 2, oc = 12;
  const std::vector<float> x = ramp(s.size());
  std::vector<float> packed(s.size()), back(s.size());
  restnet::space_to_depth(x.data(), s, f, packed.data(), "x");
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t c = 0; c < s.c; ++c)
      for (std::size_t y = 0; y < s.h; ++y)
        for (std::size_t xx = 0; xx < s.w; ++xx)
          CHECK(packed[((i * oc + ((y % f) * f + xx % f) * s.c + c) * oh + y / f) * ow + xx / f] ==
                x[((i * s.c + c) * s.h + y) * s.w + xx]);
  restnet::depth_to_space(packed.data(), Nchw{s.n, oc, oh, ow}, f, back.data(), "x");
  CHECK(back == x);
  CHECK_THROWS(restnet::space_to_depth(x.data(), Nchw{2, 3, 6, 4}, 4, packed.data(), "x"), restnet::RangeError);
  CHECK_THROWS(restnet::depth_to_space(x.data(), Nchw{2, 6, 6, 2}, 2, back.data(), "x"), restnet::RangeError);
  // f * f wraps to 0 for f = 2^32: rejected, not a division by zero.
  CHECK_THROWS(restnet::depth_to_space(x.data(), Nchw{1, 4, 1, 1}, std::size_t{1} << 32, back.data(), "x"),
               restnet::RangeError);
}

TEST(neighbourhood_rows_is_im2col_with_zero_padding_and_stride) {
  // x [2, 3, 5, 6]; windows 3 x 3 stride 1 pad 1 (same grid) and 4 x 4 stride 2 pad 1 (halved grid).
  const Nchw s{2, 3, 5, 6};
  const std::vector<float> x = ramp(s.size());
  for (const auto [k, stride, pad] : {std::array<std::size_t, 3>{3, 1, 1}, std::array<std::size_t, 3>{4, 2, 1}}) {
    const std::size_t oh = (s.h + 2 * pad - k) / stride + 1, ow = (s.w + 2 * pad - k) / stride + 1;
    CHECK(restnet::neighbourhood_side(s.h, k, stride, pad, "x") == oh);
    std::vector<float> rows(s.n * oh * ow * s.c * k * k, -1.0f);
    restnet::neighbourhood_rows(x.data(), s, k, stride, pad, rows.data(), "x");
    for (std::size_t i = 0; i < s.n; ++i)
      for (std::size_t y = 0; y < oh; ++y)
        for (std::size_t xo = 0; xo < ow; ++xo)
          for (std::size_t c = 0; c < s.c; ++c)
            for (std::size_t ky = 0; ky < k; ++ky)
              for (std::size_t kx = 0; kx < k; ++kx) {
                const long iy = static_cast<long>(y * stride + ky) - static_cast<long>(pad);
                const long ix = static_cast<long>(xo * stride + kx) - static_cast<long>(pad);
                const bool inside = iy >= 0 && iy < static_cast<long>(s.h) && ix >= 0 && ix < static_cast<long>(s.w);
                const float expected = inside ? x[((i * s.c + c) * s.h + iy) * s.w + ix] : 0.0f;
                CHECK(rows[((i * oh + y) * ow + xo) * s.c * k * k + (c * k + ky) * k + kx] == expected);
              }
  }
  CHECK_THROWS(restnet::neighbourhood_side(5, 3, 1, 3, "x"), restnet::RangeError);
  CHECK_THROWS(restnet::neighbourhood_side(1, 5, 1, 1, "x"), restnet::RangeError);
  CHECK_THROWS(restnet::neighbourhood_side(5, 3, 0, 1, "x"), restnet::RangeError);
}
