// Centered Kernel Alignment (Kornblith et al. 2019), single pairs and whole layer tables.
#pragma once

#include <string>
#include <vector>

#include "restnet/control.h"
#include "restnet/gram.h"
#include "restnet/matrix.h"

namespace restnet {

// How linear CKA is computed: from n x n Grams (O(n^2 d)) or from d x d feature products
// (O(n d^2)); Auto picks the cheaper by counting multiply-adds. RBF always uses Grams.
enum class Method { Auto, Gram, Feature };
Method parse_method(const std::string& name);

struct CkaOptions {
  Kernel kernel = Kernel::Linear;
  double threshold = 1.0;  // RBF bandwidth factor (see GramOptions)
  bool debiased = false;   // unbiased HSIC of Song et al. 2012 instead of the biased one
  Method method = Method::Auto;
};

// HSIC estimates of every layer of A with every layer of B, and of each layer with itself.
// CKA is cross(i, j) / sqrt(self_a[i] * self_b[j]); MinibatchCKA sums tables over batches.
struct HsicTable {
  Matrix64 cross;
  std::vector<double> self_a;
  std::vector<double> self_b;
};

// Layers of one model: matrices with samples in rows, and the names error messages use.
struct Layers {
  std::vector<MatrixView> views;
  std::vector<std::string> names;
  std::string name;  // of the whole list

  Layers() = default;
  Layers(std::vector<MatrixView> v, const std::string& list_name);  // names list_name[i]
  Layers(MatrixView v, const std::string& name);                    // a single named matrix
};

// Every matrix must have the same number of rows (samples) and finite values.
HsicTable hsic_table(const Layers& a, const Layers& b, const CkaOptions& options, const Control& control = {});

// The method Auto resolves to for these shapes (exposed so tests and benchmarks can see it).
Method resolve_method(const CkaOptions& options, std::size_t n, const std::vector<std::size_t>& dims_a,
                      const std::vector<std::size_t>& dims_b);

// cross(i, j) / sqrt(self_a[i] self_b[j]). Zero self-similarity (a constant layer) gives NaN:
// CKA is 0/0 there and no value would be honest.
Matrix64 cka_from_table(const HsicTable& table);

double cka(MatrixView x, MatrixView y, const CkaOptions& options);
Matrix64 cka_matrix(const Layers& a, const Layers& b, const CkaOptions& options, const Control& control = {});

}  // namespace restnet
