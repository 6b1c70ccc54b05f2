#include "restnet/cka.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "restnet/centering.h"
#include "restnet/dispatch.h"
#include "restnet/errors.h"
#include "restnet/gemm.h"
#include "restnet/hsic.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

// Column blocks of a feature cross product Xc^T Yc: bounds its memory to d_x x kColBlock f64
// whatever the widths.
constexpr std::size_t kColBlock = 1024;

// One layer made ready for pairing. Gram form: its centred Gram (n x n, stored in f32 to halve
// the memory of a table of layers; centring is done in f64 before rounding). Feature form: its
// centred features (n x d) and squared row norms, all the debiased correction needs.
struct Prepared {
  std::vector<float> values;
  std::size_t cols = 0;
  std::vector<double> row_sq;
  double row_sq_total = 0.0;
  double self = 0.0;  // HSIC with itself
};

Prepared prepare_gram(MatrixView x, const CkaOptions& options) {
  Matrix64 k;
  if (options.kernel == Kernel::Rbf) {
    k = rbf_gram(x, options.threshold, 0.0);
  } else {
    const std::vector<float> xc = center_columns(x);
    k = linear_gram(MatrixView(xc.data(), x.rows, x.cols));
  }
  // Centre in f64 and round to f32 in the same pass.
  Prepared p;
  p.values.resize(k.data.size());
  p.cols = k.cols;
  apply_centering(k.data.data(), k.rows, centering_shift(k.data.data(), k.rows, options.debiased), p.values.data());
  return p;
}

// The squared row norms of the centred features, which the debiased estimator needs: of the
// rows of x, or, given the column means, of x's rows centred one at a time as center_columns
// rounds them (so no centred copy of x is needed).
void set_row_norms(Prepared& p, MatrixView x, const std::vector<double>* mean = nullptr) {
  p.row_sq.resize(x.rows);
  parallel_ranges(x.rows, 256, [&](std::size_t i0, std::size_t i1) {
    std::vector<float> centred(mean == nullptr ? 0 : x.cols);
    for (std::size_t i = i0; i < i1; ++i) {
      const float* row = x.row(i);
      if (mean != nullptr) {
        kernels().shifted_f32(row, mean->data(), x.cols, centred.data());
        row = centred.data();
      }
      p.row_sq[i] = dot_f64(row, row, x.cols);
    }
  });
  for (double v : p.row_sq) p.row_sq_total += v;
}

Prepared prepare_features(MatrixView x, const std::vector<double>& mean) {
  Prepared p;
  p.values = center_columns(x, mean);
  p.cols = x.cols;
  set_row_norms(p, MatrixView(p.values.data(), x.rows, x.cols));
  return p;
}

// ||Yc^T Xc||_F^2 in f64, one block of Y's columns at a time.
double cross_frobenius2(const Prepared& x, const Prepared& y, std::size_t n) {
  std::vector<double> block(x.cols * std::min(kColBlock, y.cols));
  double total = 0.0;
  for (std::size_t j0 = 0; j0 < y.cols; j0 += kColBlock) {
    const std::size_t width = std::min(kColBlock, y.cols - j0);
    gemm(x.cols, width, n, Operand{x.values.data(), x.cols, true}, Operand{y.values.data() + j0, y.cols, false},
         block.data(), width);
    total += dot_f64(block.data(), block.data(), x.cols * width);
  }
  return total;
}

// ||Xc^T Xc||_F^2 from the lower triangle only (half the multiply-adds): per column block, its
// diagonal square by a symmetric rank-k update and the rows below it by a plain product; the
// strictly lower entries count twice.
double self_frobenius2(const Prepared& x, std::size_t n) {
  const std::size_t d = x.cols;
  const float* xc = x.values.data();
  std::vector<double> block(d * std::min(kColBlock, d));
  double total = 0.0;
  for (std::size_t j0 = 0; j0 < d; j0 += kColBlock) {
    const std::size_t w = std::min(kColBlock, d - j0), below = d - j0 - w;
    gemm(w, w, n, Operand{xc + j0, d, true}, Operand{xc + j0, d, false}, block.data(), w, Part::Lower);
    for (std::size_t i = 0; i < w; ++i) {
      for (std::size_t j = 0; j < i; ++j) total += 2.0 * block[i * w + j] * block[i * w + j];
      total += block[i * w + i] * block[i * w + i];
    }
    if (below > 0) {
      double* rest = block.data() + w * w;
      gemm(below, w, n, Operand{xc + j0 + w, d, true}, Operand{xc + j0, d, false}, rest, w);
      total += 2.0 * dot_f64(rest, rest, below * w);
    }
  }
  return total;
}

// HSIC from f = <K, L> for centred linear Grams K = Xc Xc^T and L = Yc Yc^T.
double hsic_from_frobenius(double f, const Prepared& x, const Prepared& y, std::size_t n, bool debiased) {
  const double scale = hsic_scale(n, debiased);
  if (!debiased) return f * scale;
  // Song et al.'s estimator written with K = Xc Xc^T, L = Yc Yc^T and zero-diagonal K~, L~:
  // tr(K~ L~) = F - s, 1'K~1 = -tx, 1'L~1 = -ty, 1'K~L~1 = s, s = sum_i |x_i|^2 |y_i|^2.
  const double s = dot_f64(x.row_sq.data(), y.row_sq.data(), n);
  const double nn = static_cast<double>(n);
  return (f - s + x.row_sq_total * y.row_sq_total / ((nn - 1.0) * (nn - 2.0)) - 2.0 * s / (nn - 2.0)) * scale;
}

double pair_hsic(const Prepared& x, const Prepared& y, std::size_t n, Method method, bool debiased) {
  if (method == Method::Gram) return dot_f64(x.values.data(), y.values.data(), n * n) * hsic_scale(n, debiased);
  return hsic_from_frobenius(&x == &y ? self_frobenius2(x, n) : cross_frobenius2(x, y, n), x, y, n, debiased);
}

// One pair's HSIC table from the per-row partial sums of <X, X>, <X, Y> and <Y, Y> (Frobenius
// products of the centred linear Grams) that the fused sweeps below accumulate.
HsicTable pair_table(const std::vector<double>& xx, const std::vector<double>& xy, const std::vector<double>& yy,
                     const Prepared& px, const Prepared& py, std::size_t n, bool debiased) {
  const auto total = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); };
  HsicTable table{Matrix64(1, 1),
                  {hsic_from_frobenius(total(xx), px, px, n, debiased)},
                  {hsic_from_frobenius(total(yy), py, py, n, debiased)}};
  table.cross.at(0, 0) = hsic_from_frobenius(total(xy), px, py, n, debiased);
  return table;
}

// The linear Gram form of one pair without any n x n matrix: one sweep over the lower triangles
// of K = Xc Xc^T and L = Yc Yc^T (gram_sweep) reduces <K, L>, <K, K> and <L, L> row by row. K and
// L need no centring pass: the columns of Xc and Yc sum to zero, so H K H = K. The debiased
// estimator follows from the same sums and the row norms, as in the feature form. Same
// multiply-adds as two symmetric Grams, a third of the memory traffic, none of the n^2 storage.
HsicTable fused_linear_gram(MatrixView x, MatrixView y, const std::string (&names)[2], bool debiased,
                            const Control& control) {
  const std::size_t n = x.rows;
  const Prepared px = prepare_features(x, finite_column_means(x, names[0]));
  const Prepared py = prepare_features(y, finite_column_means(y, names[1]));
  std::vector<double> kl(n, 0.0), kk(n, 0.0), ll(n, 0.0);
  gram_sweep({GramOperand{{Operand{px.values.data(), px.cols, false}, nullptr}, n, px.cols},
              GramOperand{{Operand{py.values.data(), py.cols, false}, nullptr}, n, py.cols}},
             [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1, const std::vector<const double*>& b) {
               control.check();
               const std::size_t w = j1 - j0;
               for (std::size_t i = i0; i < i1; ++i) {
                 const double* k = b[0] + (i - i0) * w;
                 const double* l = b[1] + (i - i0) * w;
                 // Strictly lower entries stand for themselves and their mirror images.
                 double s_kl = 0.0, s_kk = 0.0, s_ll = 0.0;
                 for (std::size_t j = 0; j < std::min(j1, i) - std::min(j0, i); ++j) {
                   s_kl += k[j] * l[j];
                   s_kk += k[j] * k[j];
                   s_ll += l[j] * l[j];
                 }
                 kl[i] += 2.0 * s_kl;
                 kk[i] += 2.0 * s_kk;
                 ll[i] += 2.0 * s_ll;
                 if (i >= j0 && i < j1) {
                   const std::size_t d = i - j0;
                   kl[i] += k[d] * l[d];
                   kk[i] += k[d] * k[d];
                   ll[i] += l[d] * l[d];
                 }
               }
             });
  return pair_table(kk, kl, ll, px, py, n, debiased);
}

// The linear feature form of one pair in one symmetric product: Z = [Xc Yc] side by side, and
// a sweep over the lower triangle of Z^T Z (gram_sweep) whose three regions are Xc^T Xc, Yc^T Xc
// and Yc^T Yc, reduced row by row to their squared Frobenius norms. The same multiply-adds as
// three separate products, each operand packed once instead of twice, no d x d matrix stored,
// and 2x the rows to share among threads.
HsicTable fused_linear_features(MatrixView x, MatrixView y, const std::string (&names)[2], bool debiased,
                                const Control& control) {
  const std::size_t n = x.rows, dx = x.cols, w = x.cols + y.cols;
  // Z is never stored: the sweep packs X and Y side by side, centring as it packs.
  const std::vector<double> mean_x = finite_column_means(x, names[0]), mean_y = finite_column_means(y, names[1]);
  Prepared px, py;
  if (debiased) {
    set_row_norms(px, x, &mean_x);
    set_row_norms(py, y, &mean_y);
  }
  std::vector<double> xx(w, 0.0), xy(w, 0.0), yy(w, 0.0);
  gram_sweep({GramOperand{{Operand{x.data, x.stride, true}, mean_x.data()},
                          w,
                          n,
                          {Operand{y.data, y.stride, true}, mean_y.data()},
                          dx}},
             [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1, const std::vector<const double*>& b) {
               control.check();
               for (std::size_t i = i0; i < i1; ++i) {
                 const double* row = b[0] + (i - i0) * (j1 - j0);          // columns j0 .. j1 - 1
                 const std::size_t lower = std::max(j0, std::min(j1, i));  // strictly below the diagonal
                 const std::size_t split = std::clamp(dx, j0, lower);      // X's columns end here
                 double s_x = 0.0, s_y = 0.0;
                 for (std::size_t j = j0; j < split; ++j) s_x += row[j - j0] * row[j - j0];
                 for (std::size_t j = split; j < lower; ++j) s_y += row[j - j0] * row[j - j0];
                 const double diag = i >= j0 && i < j1 ? row[i - j0] * row[i - j0] : 0.0;
                 if (i < dx) {
                   xx[i] += 2.0 * s_x + diag;  // strictly lower entries stand for their mirror images too
                 } else {
                   xy[i] += s_x;  // Yc^T Xc appears once in the lower triangle
                   yy[i] += 2.0 * s_y + diag;
                 }
               }
             });
  return pair_table(xx, xy, yy, px, py, n, debiased);
}

Prepared prepare(MatrixView x, const CkaOptions& options, Method method, std::size_t n) {
  Prepared p = method == Method::Gram ? prepare_gram(x, options) : prepare_features(x, column_means(x));
  p.self = pair_hsic(p, p, n, method, options.debiased);
  return p;
}

std::string shape(std::size_t rows, std::size_t cols) { return std::to_string(rows) + " x " + std::to_string(cols); }

// Shapes, options and, when `values`, that every entry is finite (the single-pair paths check
// the values while they take the column means: finite_column_means).
void validate(const Layers& a, const Layers& b, const CkaOptions& options, std::size_t n, bool values) {
  for (const Layers* layers : {&a, &b}) {
    for (std::size_t i = 0; i < layers->views.size(); ++i) {
      const MatrixView& v = layers->views[i];
      if (v.rows != n) {
        throw RangeError(layers->names[i] + ": expected " + std::to_string(n) + " rows (the rows of " + a.names[0] +
                         "), got " + shape(v.rows, v.cols));
      }
      if (v.cols == 0)
        throw RangeError(layers->names[i] + ": expected at least 1 column, got " + shape(v.rows, v.cols));
      if (values) check_finite(v, layers->names[i]);
    }
  }
  const std::size_t needed = options.debiased ? 4 : 2;
  if (n < needed) {
    throw RangeError(a.names[0] + ": " + (options.debiased ? "debiased CKA (unbiased HSIC)" : "CKA") +
                     " needs at least " + std::to_string(needed) + " rows (samples), got " + std::to_string(n));
  }
  check_bandwidth("CkaOptions", options.threshold);
  if (options.method == Method::Feature && options.kernel != Kernel::Linear) {
    throw TypeError(
        "method: 'feature' needs kernel 'linear' (an RBF kernel has no finite feature map), got kernel 'rbf'");
  }
}

std::vector<std::size_t> widths(const Layers& layers) {
  std::vector<std::size_t> out;
  for (const MatrixView& v : layers.views) out.push_back(v.cols);
  return out;
}

}  // namespace

Layers::Layers(std::vector<MatrixView> v, const std::string& list_name) : views(std::move(v)), name(list_name) {
  for (std::size_t i = 0; i < views.size(); ++i) names.push_back(list_name + "[" + std::to_string(i) + "]");
}

Layers::Layers(MatrixView v, const std::string& single_name) : views{v}, names{single_name}, name(single_name) {}

Method parse_method(const std::string& name) {
  if (name == "auto") return Method::Auto;
  if (name == "gram") return Method::Gram;
  if (name == "feature") return Method::Feature;
  throw TypeError("method: expected 'auto', 'gram' or 'feature', got '" + name + "'");
}

Method resolve_method(const CkaOptions& options, std::size_t n, const std::vector<std::size_t>& dims_a,
                      const std::vector<std::size_t>& dims_b) {
  if (options.method != Method::Auto) return options.method;
  if (options.kernel != Kernel::Linear) return Method::Gram;
  // Multiply-adds of each form. Gram: one symmetric n x n Gram per layer, one n^2 inner
  // product per pair and per self term. Feature: a symmetric d x d product per layer and a
  // d x d' cross product per pair.
  const double nn = static_cast<double>(n);
  double gram = 0.0, feature = 0.0;
  for (const auto* dims : {&dims_a, &dims_b}) {
    for (std::size_t d : *dims) {
      gram += nn * nn * static_cast<double>(d) / 2.0 + nn * nn;
      feature += nn * static_cast<double>(d) * static_cast<double>(d) / 2.0;
    }
  }
  for (std::size_t da : dims_a) {
    for (std::size_t db : dims_b) {
      gram += nn * nn;
      feature += nn * static_cast<double>(da) * static_cast<double>(db);
    }
  }
  return feature < gram ? Method::Feature : Method::Gram;
}

HsicTable hsic_table(const Layers& a, const Layers& b, const CkaOptions& options, const Control& control) {
  for (const Layers* layers : {&a, &b}) {
    if (layers->views.empty()) throw RangeError(layers->name + ": expected at least one matrix, got none");
  }
  const std::size_t n = a.views[0].rows;
  const std::size_t la = a.views.size(), lb = b.views.size();
  const bool single_linear = la == 1 && lb == 1 && options.kernel == Kernel::Linear;
  validate(a, b, options, n, !single_linear);
  const Method method = resolve_method(options, n, widths(a), widths(b));

  const std::size_t total = la + lb + la * lb;
  std::size_t done = 0;
  auto step = [&] {
    control.report(++done, total);
    control.check();
  };
  control.check();
  if (single_linear) {
    const std::string names[2] = {a.names[0], b.names[0]};
    HsicTable table = method == Method::Gram
                          ? fused_linear_gram(a.views[0], b.views[0], names, options.debiased, control)
                          : fused_linear_features(a.views[0], b.views[0], names, options.debiased, control);
    while (done < total) step();
    return table;
  }

  HsicTable table{Matrix64(la, lb), std::vector<double>(la), std::vector<double>(lb)};
  // B's layers are kept; A's are prepared one at a time, so memory is (lb + 1) layers.
  std::vector<Prepared> pb;
  pb.reserve(lb);
  for (std::size_t j = 0; j < lb; ++j) {
    pb.push_back(prepare(b.views[j], options, method, n));
    table.self_b[j] = pb.back().self;
    step();
  }
  for (std::size_t i = 0; i < la; ++i) {
    const Prepared pa = prepare(a.views[i], options, method, n);
    table.self_a[i] = pa.self;
    step();
    for (std::size_t j = 0; j < lb; ++j) {
      table.cross.at(i, j) = pair_hsic(pa, pb[j], n, method, options.debiased);
      step();
    }
  }
  return table;
}

Matrix64 cka_from_table(const HsicTable& table) {
  Matrix64 out(table.cross.rows, table.cross.cols);
  for (std::size_t i = 0; i < out.rows; ++i) {
    for (std::size_t j = 0; j < out.cols; ++j) {
      out.at(i, j) = table.cross.at(i, j) / std::sqrt(table.self_a[i] * table.self_b[j]);
    }
  }
  return out;
}

double cka(MatrixView x, MatrixView y, const CkaOptions& options) {
  return cka_from_table(hsic_table(Layers(x, "x"), Layers(y, "y"), options)).at(0, 0);
}

Matrix64 cka_matrix(const Layers& a, const Layers& b, const CkaOptions& options, const Control& control) {
  return cka_from_table(hsic_table(a, b, options, control));
}

}  // namespace restnet
