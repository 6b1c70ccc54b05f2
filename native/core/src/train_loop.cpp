// The training loop of trainStitch: seeded shuffles, batches, schedule, validation and early
// stopping around TrainableStitch::train_batch.
#include <algorithm>
#include <cmath>
#include <limits>

#include "restnet/centering.h"
#include "restnet/errors.h"
#include "restnet/lstsq.h"
#include "restnet/sgd.h"
#include "restnet/thread_pool.h"

namespace restnet {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr std::size_t kRowChunk = 256;
constexpr std::size_t kGatherRows = 32;

// Rows of x and of y, in threads: the batch's rows lie scattered over matrices larger than the
// caches, and one thread copying them waits on memory most of the time.
void gather(MatrixView x, MatrixView y, const std::size_t* rows, std::size_t count, std::vector<float>& xb,
            std::vector<float>& yb) {
  xb.resize(count * x.cols);
  yb.resize(count * y.cols);
  parallel_ranges(count, kGatherRows, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      std::copy(x.row(rows[i]), x.row(rows[i]) + x.cols, xb.data() + i * x.cols);
      std::copy(y.row(rows[i]), y.row(rows[i]) + y.cols, yb.data() + i * y.cols);
    }
  });
}

std::string widths(std::size_t in, std::size_t out) { return std::to_string(in) + " -> " + std::to_string(out); }

// The invariants of train_stitch's arguments, named as in C++ (the addon checks the options first,
// under their JavaScript names). The optimizer's are TrainableStitch's to check.
void check_training(MatrixView x, MatrixView y, const LinearMap& init, const TrainOptions& o, const MatrixView* vx,
                    const MatrixView* vy) {
  check_pair(x, y, "x", "y");
  if (init.in != x.cols || init.out != y.cols) {
    throw RangeError("init: expected a stitch of " + widths(x.cols, y.cols) + " (x.cols -> y.cols), got " +
                     widths(init.in, init.out));
  }
  check_finite(MatrixView(init.weight.data(), init.in, init.out), "init.weight");
  check_finite(MatrixView(init.bias.data(), 1, init.out), "init.bias");
  if (o.epochs < 1) throw RangeError("TrainOptions::epochs: expected >= 1, got 0");
  if (o.batch_size < 1 || o.batch_size > x.rows) {
    throw RangeError("TrainOptions::batch_size: expected [1, " + std::to_string(x.rows) + "] (x.rows), got " +
                     std::to_string(o.batch_size));
  }
  if ((vx == nullptr) != (vy == nullptr)) throw TypeError("validation_x, validation_y: expected both or neither");
  if (vx != nullptr) {
    if (vx->cols != x.cols || vy->cols != y.cols) {
      throw RangeError("validation_x, validation_y: expected " + std::to_string(x.cols) + " and " +
                       std::to_string(y.cols) + " columns (as x and y), got " + std::to_string(vx->cols) + " and " +
                       std::to_string(vy->cols));
    }
    check_pair(*vx, *vy, "validation_x", "validation_y");
  } else if (o.patience > 0) {
    throw RangeError("TrainOptions::patience: early stopping needs validation_x and validation_y");
  }
}

}  // namespace

EpochOrder::EpochOrder(std::size_t rows, std::uint64_t seed) : rng_(seed), order_(rows) {
  for (std::size_t i = 0; i < rows; ++i) order_[i] = i;
}

// Fisher-Yates with rejection sampling for an unbiased index (the standard distributions'
// outputs are not fixed by the standard; mt19937_64's are).
const std::vector<std::size_t>& EpochOrder::next() {
  for (std::size_t i = order_.size(); i > 1; --i) {
    const std::uint64_t bound = i, limit = std::numeric_limits<std::uint64_t>::max() -
                                           std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t r;
    do r = rng_();
    while (r >= limit);
    std::swap(order_[i - 1], order_[r % bound]);
  }
  return order_;
}

double scheduled_lr(const TrainOptions& o, std::size_t s, std::size_t total, std::size_t epoch) {
  const double lr = o.optimizer.lr;
  switch (o.schedule) {
    case Schedule::Constant: return lr;
    case Schedule::Cosine:
      return 0.5 * lr * (1.0 + std::cos(kPi * static_cast<double>(s) / static_cast<double>(total)));
    case Schedule::Step: {
      const double e = static_cast<double>(epoch), n = static_cast<double>(o.epochs);
      return lr * (e >= 0.75 * n ? 0.01 : e >= 0.5 * n ? 0.1 : 1.0);
    }
  }
  return lr;
}

double evaluate_loss(const LinearMap& map, MatrixView x, MatrixView y, Loss loss) {
  const std::vector<float> p = apply(map.view(), x);
  std::vector<double> partial((x.rows + kRowChunk - 1) / kRowChunk, 0.0);
  parallel_ranges(x.rows, kRowChunk, [&](std::size_t i0, std::size_t i1) {
    double s = 0.0;
    for (std::size_t i = i0; i < i1; ++i) {
      for (std::size_t j = 0; j < map.out; ++j) {
        const double r = static_cast<double>(p[i * map.out + j]) - y.row(i)[j];
        const double a = std::fabs(r);
        s += loss == Loss::Mse ? r * r : a <= 1.0 ? 0.5 * r * r : a - 0.5;
      }
    }
    partial[i0 / kRowChunk] = s;
  });
  double sum = 0.0;
  for (double v : partial) sum += v;
  return sum / (static_cast<double>(x.rows) * static_cast<double>(map.out));
}

TrainResult train_stitch(MatrixView x, MatrixView y, const LinearMap& init, const TrainOptions& options,
                         const MatrixView* validation_x, const MatrixView* validation_y, const Control& control,
                         const std::function<void(const EpochRecord&)>& on_epoch) {
  check_training(x, y, init, options, validation_x, validation_y);
  TrainableStitch stitch(init, options.optimizer);
  const std::size_t n = x.rows, batch = options.batch_size;
  const std::size_t per_epoch = (n + batch - 1) / batch, total = per_epoch * options.epochs;
  EpochOrder orders(n, options.seed);
  std::vector<float> xb, yb;

  TrainResult result;
  result.map = init;
  double best = std::numeric_limits<double>::infinity();
  std::size_t since_best = 0;
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    const std::vector<std::size_t>& order = orders.next();
    EpochRecord record;
    record.epoch = epoch + 1;
    record.lr = scheduled_lr(options, epoch * per_epoch, total, epoch);
    double loss_sum = 0.0;
    for (std::size_t b = 0; b < per_epoch; ++b) {
      control.check();
      const std::size_t begin = b * batch, count = std::min(batch, n - begin);
      gather(x, y, order.data() + begin, count, xb, yb);
      const double lr = scheduled_lr(options, epoch * per_epoch + b, total, epoch);
      loss_sum += stitch.train_batch(MatrixView(xb.data(), count, x.cols), MatrixView(yb.data(), count, y.cols),
                                     options.loss, lr);
    }
    record.train_loss = loss_sum / (static_cast<double>(n) * static_cast<double>(y.cols));
    record.validation_loss = std::numeric_limits<double>::quiet_NaN();
    bool stop = false;
    if (validation_x != nullptr) {
      record.validation_loss = evaluate_loss(stitch.map(), *validation_x, *validation_y, options.loss);
      if (record.validation_loss < best) {
        best = record.validation_loss;
        result.map = stitch.map();
        since_best = 0;
      } else {
        stop = options.patience > 0 && ++since_best >= options.patience;
      }
    } else {
      result.map = stitch.map();
    }
    result.history.push_back(record);
    if (on_epoch) on_epoch(record);
    if (stop) break;
  }
  return result;
}

}  // namespace restnet
