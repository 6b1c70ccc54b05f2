// Layout changes and spatial resampling of NCHW activations for the stitch adapters: feature
// maps <-> per-position rows (one row of C values per pixel or token), and grid resampling.
// Memory-bound loops, threaded over planes / samples; results do not depend on the thread count.
#pragma once

#include <cstddef>

namespace restnet {

struct Nchw {
  std::size_t n = 0, c = 0, h = 0, w = 0;
  std::size_t size() const { return n * c * h * w; }
};

// x [n, c, h, w] -> out (n*h*w) x c: row (i*h + y)*w + x holds the c channels of pixel (y, x)
// of sample i.
void nchw_to_rows(const float* x, Nchw shape, float* out);

// rows -> out [n, c, h, w], the inverse of nchw_to_rows, where each sample's block of rows
// starts with `skip` rows that are left out (a CLS token before the grid tokens): sample i's
// pixel p is row i*(skip + h*w) + skip + p.
void rows_to_nchw(const float* rows, Nchw shape, std::size_t skip, float* out);

// How resample changes one spatial axis of length `in` to length `out`.
enum class AxisResample { Same, Pool, Linear };

// Pool when out < in (adaptive average pooling as PyTorch's adaptive_avg_pool: output o averages
// inputs floor(o in / out) .. ceil((o + 1) in / out) - 1; for integer factors that is AveragePool
// with kernel = stride), Linear when out > in (linear interpolation with half-pixel centres,
// clamped at the borders: ONNX Resize linear/half_pixel, PyTorch align_corners=False), Same when
// equal. Throws RangeError naming `name` for a zero size.
AxisResample axis_resample(std::size_t in, std::size_t out, const char* name);

// x [n, c, h, w] -> out [n, c, oh, ow], each axis resampled independently (separably) as
// axis_resample says.
void resample(const float* x, Nchw shape, std::size_t oh, std::size_t ow, float* out);

// x [n, c, h, w] -> out [n, c f f, h / f, w / f] in ONNX SpaceToDepth's order: output channel
// (by f + bx) c + ch holds input (ch, y f + by, x f + bx). A permutation; h and w must be
// multiples of f (RangeError naming `name`).
void space_to_depth(const float* x, Nchw shape, std::size_t f, float* out, const char* name);

// The inverse (ONNX DepthToSpace, mode DCR): x [n, c f f, h, w] -> out [n, c, h f, w f]; the
// channels must be a multiple of f^2 (RangeError naming `name`).
void depth_to_space(const float* x, Nchw shape, std::size_t f, float* out, const char* name);

// The k x k neighbourhood of every output cell as one row (im2col): x [n, c, h, w] ->
// out (n*oh*ow) x (c k k), oh = (h + 2 pad - k) / stride + 1 (likewise ow), where row
// (i*oh + y)*ow + x, column (ch k + ky) k + kx holds input (ch, y stride + ky - pad,
// x stride + kx - pad) of sample i, zero outside the grid: the inputs an ONNX Conv with
// kernel_shape [k, k], strides [stride, stride] and pads [pad] x 4 multiplies by weight
// [m, ch, ky, kx]. Needs stride >= 1, pad < k and k <= h + 2 pad, w + 2 pad (RangeError naming `name`).
void neighbourhood_rows(const float* x, Nchw shape, std::size_t k, std::size_t stride, std::size_t pad, float* out,
                        const char* name);

// The output grid side of neighbourhood_rows along an axis of length `in`.
std::size_t neighbourhood_side(std::size_t in, std::size_t k, std::size_t stride, std::size_t pad, const char* name);

}  // namespace restnet
