// Gram, HSIC and CKA against the explicit-matrix references of reference.cpp.
#include <cmath>
#include <string>

#include "harness.h"
#include "reference.h"
#include "restnet/cka.h"
#include "restnet/errors.h"
#include "restnet/hsic.h"
#include "restnet/minibatch_cka.h"
#include "restnet/thread_pool.h"

using restnet::CkaOptions;
using restnet::Kernel;
using restnet::MatrixView;
using restnet::Method;

namespace {

MatrixView view(const ref::Data& d) { return MatrixView(d.values.data(), d.rows, d.cols); }

restnet::Matrix64 to64(const ref::Mat& m, std::size_t n) {
  restnet::Matrix64 out(n, n);
  out.data.assign(m.begin(), m.end());
  return out;
}

// y = x W + noise, so the pair has a non-trivial CKA.
ref::Data related(const ref::Data& x, std::size_t cols, unsigned seed, double offset = 0.0) {
  ref::Data y = ref::random_matrix(x.rows, cols, seed, offset);
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) y.values[i * cols + j] += 2.0f * x.values[i * x.cols + j % x.cols];
  return y;
}

}  // namespace

TEST(hsic_estimators_match_their_definitions) {
  const std::size_t n = 23;
  const ref::Data x = ref::random_matrix(n, 7, 1), y = related(x, 5, 2);
  const ref::Mat k = ref::gram_linear(x), l = ref::gram_rbf(y, 0.8);
  CHECK_CLOSE(restnet::hsic(to64(k, n), to64(l, n), false), ref::hsic_biased(k, l, n), 1e-12);
  CHECK_CLOSE(restnet::hsic(to64(k, n), to64(l, n), true), ref::hsic_unbiased(k, l, n), 1e-12);
}

TEST(rbf_gram_uses_the_median_rule) {
  for (std::size_t n : {2, 5, 40}) {
    const ref::Data x = ref::random_matrix(n, 6, 9 + n, 3.0);
    const restnet::Matrix64 g = restnet::rbf_gram(view(x), 0.5, 0.0);
    const ref::Mat expected = ref::gram_rbf(x, 0.5);
    for (std::size_t i = 0; i < n * n; ++i) CHECK_CLOSE(g.data[i], expected[i], 1e-6);
  }
}

// One check of an RBF bandwidth for the Gram and CKA options, its message naming the C++ field
// (the addon rejects a JavaScript caller's value first, naming options.threshold).
TEST(bandwidth_invariants_name_the_cpp_field) {
  const auto message = [](double threshold, double sigma) {
    try {
      restnet::check_bandwidth("GramOptions", threshold, sigma);
    } catch (const restnet::RangeError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message(1.0, 0.0).empty());
  CHECK(message(0.5, 2.0).empty());
  CHECK(message(0.0, 0.0) == "GramOptions::threshold: expected a finite number > 0, got 0");
  CHECK(message(1.0, -1.5) == "GramOptions::sigma: expected a finite number >= 0 (0: the median rule), got -1.5");
  CHECK(message(1.0, INFINITY) == "GramOptions::sigma: expected a finite number >= 0 (0: the median rule), got inf");
  const ref::Data x = ref::random_matrix(8, 3, 1);
  CkaOptions o;
  o.threshold = -2.0;
  CHECK_THROWS(restnet::cka(view(x), view(x), o), restnet::RangeError);
}

TEST(cka_matches_reference_for_every_kernel_method_and_estimator) {
  for (std::size_t n : {4, 5, 17, 64}) {
    for (std::size_t dx : {1, 3, 80}) {
      const ref::Data x = ref::random_matrix(n, dx, 100 + n + dx), y = related(x, 9, 200 + n);
      for (bool debiased : {false, true}) {
        const double linear = ref::cka(ref::gram_linear(x), ref::gram_linear(y), n, debiased);
        for (Method method : {Method::Gram, Method::Feature, Method::Auto}) {
          CkaOptions o;
          o.debiased = debiased;
          o.method = method;
          CHECK_CLOSE(restnet::cka(view(x), view(y), o), linear, 2e-6);
        }
        CkaOptions rbf;
        rbf.kernel = Kernel::Rbf;
        rbf.threshold = 0.7;
        rbf.debiased = debiased;
        CHECK_CLOSE(restnet::cka(view(x), view(y), rbf),
                    ref::cka(ref::gram_rbf(x, 0.7), ref::gram_rbf(y, 0.7), n, debiased), 2e-6);
      }
    }
  }
}

// One pair's linear CKA is swept in blocks: the Gram form over the samples (n = 700: several row
// and column blocks), the feature form over [Xc Yc]'s 300 + 290 features (several blocks, and
// the X/Y boundary inside one), odd sizes so every micro-tile edge shows. The same value as the
// explicit centred Grams, and the same bits for any thread count.
TEST(fused_single_pair_forms_match_explicit_grams_at_any_thread_count) {
  struct Case {
    std::size_t n, dx, dy;
    Method method;
  };
  for (const Case& c : {Case{700, 37, 19, Method::Gram}, Case{61, 300, 290, Method::Feature}}) {
    const ref::Data x = ref::random_matrix(c.n, c.dx, 21), y = related(x, c.dy, 22);
    for (bool debiased : {false, true}) {
      CkaOptions o;
      o.method = c.method;
      o.debiased = debiased;
      restnet::set_thread_count(1);
      const double one = restnet::cka(view(x), view(y), o);
      restnet::set_thread_count(3);
      const double three = restnet::cka(view(x), view(y), o);
      restnet::set_thread_count(0);
      CHECK(one == three);
      CHECK_CLOSE(one, ref::cka(ref::gram_linear_centered(x), ref::gram_linear_centered(y), c.n, debiased), 1e-6);
    }
  }
}

TEST(large_common_offset_keeps_f64_accuracy) {
  // 1e4 + N(0, 1): naive f32 sums lose the variation entirely; centring first keeps it.
  const std::size_t n = 200;
  const ref::Data x = ref::random_matrix(n, 12, 7, 1e4), y = related(x, 10, 8, -3e4);
  for (Method method : {Method::Gram, Method::Feature}) {
    for (bool debiased : {false, true}) {
      CkaOptions o;
      o.method = method;
      o.debiased = debiased;
      CHECK_CLOSE(restnet::cka(view(x), view(y), o),
                  ref::cka(ref::gram_linear_centered(x), ref::gram_linear_centered(y), n, debiased), 1e-6);
    }
  }
}

TEST(cka_matrix_equals_pairwise_cka) {
  const std::size_t n = 30;
  const ref::Data a0 = ref::random_matrix(n, 4, 1), a1 = related(a0, 6, 2);
  const ref::Data b0 = related(a1, 3, 3), b1 = ref::random_matrix(n, 40, 4), b2 = related(a0, 2, 5);
  const restnet::Layers a({view(a0), view(a1)}, "a"), b({view(b0), view(b1), view(b2)}, "b");
  CkaOptions o;
  o.debiased = true;
  o.method = Method::Gram;  // Auto may choose differently for the table than for one pair
  const restnet::Matrix64 m = restnet::cka_matrix(a, b, o);
  CHECK(m.rows == 2 && m.cols == 3);
  for (std::size_t i = 0; i < 2; ++i)
    // One pair's linear Gram form sweeps both Grams in f64 tiles; the table keeps every layer's
    // centred Gram rounded to f32. The two agree to that rounding, not to the last bit.
    for (std::size_t j = 0; j < 3; ++j) CHECK_CLOSE(m.at(i, j), restnet::cka(a.views[i], b.views[j], o), 1e-7);
}

TEST(minibatch_cka_averages_unbiased_hsic_and_merges) {
  const std::size_t n = 24;
  std::vector<ref::Data> xs, ys;
  for (unsigned b = 0; b < 4; ++b) {
    xs.push_back(ref::random_matrix(n, 5, 50 + b));
    ys.push_back(related(xs.back(), 7, 60 + b));
  }
  CkaOptions o;
  restnet::MinibatchCka all(1, 1, o), first(1, 1, o), second(1, 1, o);
  double cross = 0.0, self_x = 0.0, self_y = 0.0;
  for (unsigned b = 0; b < 4; ++b) {
    const restnet::Layers a(view(xs[b]), "a"), bl(view(ys[b]), "b");
    all.update(a, bl);
    (b < 2 ? first : second).update(a, bl);
    const ref::Mat k = ref::gram_linear(xs[b]), l = ref::gram_linear(ys[b]);
    cross += ref::hsic_unbiased(k, l, n);
    self_x += ref::hsic_unbiased(k, k, n);
    self_y += ref::hsic_unbiased(l, l, n);
  }
  first.merge(second);
  const double expected = cross / std::sqrt(self_x * self_y);
  CHECK_CLOSE(all.result().at(0, 0), expected, 1e-6);
  CHECK_CLOSE(first.result().at(0, 0), all.result().at(0, 0), 1e-12);
  CHECK(first.batches() == 4);
  // A layer whose width changes between batches is rejected, and so is merging such a layer.
  const ref::Data wider = ref::random_matrix(n, 6, 70);
  CHECK_THROWS(all.update(restnet::Layers(view(wider), "a"), restnet::Layers(view(ys[0]), "b")), restnet::RangeError);
  CHECK(all.batches() == 4);
  restnet::MinibatchCka other(1, 1, o);
  other.update(restnet::Layers(view(wider), "a"), restnet::Layers(view(ys[0]), "b"));
  CHECK_THROWS(all.merge(other), restnet::RangeError);
}

TEST(bad_input_is_rejected_and_constant_input_is_nan) {
  const ref::Data x = ref::random_matrix(10, 3, 1), y = ref::random_matrix(9, 3, 2);
  CHECK_THROWS(restnet::cka(view(x), view(y), CkaOptions{}), restnet::RangeError);
  ref::Data bad = x;
  bad.values[7] = std::nanf("");
  CHECK_THROWS(restnet::cka(view(bad), view(x), CkaOptions{}), restnet::RangeError);
  // The single-pair paths find non-finite values through their column sums: +inf and -inf in
  // one column sum to NaN, an infinity alone to inf; either way the message names y's position.
  for (const float second : {-INFINITY, 1.0f}) {
    ref::Data infinite = x;
    infinite.values[2 * 3 + 1] = INFINITY;
    infinite.values[5 * 3 + 1] = second;
    for (Method method : {Method::Gram, Method::Feature}) {
      CkaOptions o;
      o.method = method;
      std::string message;
      try {
        restnet::cka(view(x), view(infinite), o);
      } catch (const restnet::RangeError& e) {
        message = e.what();
      }
      CHECK(message == "y: expected finite values, got inf at row 2, column 1");
    }
  }
  CkaOptions debiased;
  debiased.debiased = true;
  const ref::Data small = ref::random_matrix(3, 2, 3);
  CHECK_THROWS(restnet::cka(view(small), view(small), debiased), restnet::RangeError);
  CkaOptions feature_rbf;
  feature_rbf.kernel = Kernel::Rbf;
  feature_rbf.method = Method::Feature;
  CHECK_THROWS(restnet::cka(view(x), view(x), feature_rbf), restnet::TypeError);
  ref::Data constant = x;
  for (float& v : constant.values) v = 2.5f;
  CHECK(std::isnan(restnet::cka(view(constant), view(x), CkaOptions{})));
}

TEST(feature_form_spans_several_column_blocks) {
  // Wider than one 1024-column block of the feature cross products, self and cross terms.
  const std::size_t n = 24;
  const ref::Data x = ref::random_matrix(n, 2100, 71), y = related(x, 1030, 72);
  for (bool debiased : {false, true}) {
    CkaOptions o;
    o.debiased = debiased;
    o.method = Method::Feature;
    CHECK_CLOSE(restnet::cka(view(x), view(y), o),
                ref::cka(ref::gram_linear_centered(x), ref::gram_linear_centered(y), n, debiased), 2e-6);
  }
}
