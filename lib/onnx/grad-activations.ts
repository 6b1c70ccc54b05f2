// Reverse-mode rules of element-wise activations and selections (grad.ts runs them): the
// piecewise-linear mobile activations (HardSigmoid, HardSwish, LeakyRelu, PRelu), the smooth
// ones (Gelu in both approximations, Softplus), Where, and float-to-float casts.
import type { Rule } from './grad-rule-types.js';
import { attribute, floatAttr, stringAttr } from './proto.js';
import { ELEM_TYPE } from './shapes.js';

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** g times slope where x <= 0 and g where x > 0: alpha + (1 - alpha) [x > 0] (no Where before opset 9). */
const leaky: Rule = (c, { nd, g, x0, x1 }) => {
  const slope = nd.op_type === 'PRelu' ? x1 : c.emit.float(floatAttr(nd, 'alpha', 0.01));
  if (nd.op_type === 'PRelu') c.paramOnly(nd, x1);
  const factor = c.emit.add(slope, c.emit.mul(c.emit.sub(c.emit.float(1), slope), c.emit.positiveMask(x0)));
  c.add(x0, c.emit.mul(g, factor));
};

export const ACTIVATION_RULES: Record<string, Rule> = {
  HardSigmoid: (c, { nd, g, y, x0 }) => {
    // y = max(0, min(1, alpha x + beta)): slope alpha where 0 < y < 1.
    const alpha = floatAttr(nd, 'alpha', 0.2);
    c.add(x0, c.emit.mul(g, c.emit.mul(c.emit.insideMask(y, 0, 1), c.emit.float(alpha))));
  },
  HardSwish: (c, { g, x0 }) => {
    // y = x h(x), h = HardSigmoid(alpha 1/6, beta 1/2): dy/dx = h + x [0 < h < 1] / 6.
    const h = c.emit.op('HardSigmoid', [x0], [attribute('alpha', 1 / 6, 'float'), attribute('beta', 0.5, 'float')]);
    const slope = c.emit.mul(c.emit.mul(x0, c.emit.insideMask(h, 0, 1)), c.emit.float(1 / 6));
    c.add(x0, c.emit.mul(g, c.emit.add(h, slope)));
  },
  LeakyRelu: leaky,
  PRelu: leaky,
  Gelu: (c, { nd, g, x0 }) => {
    const approximate = stringAttr(nd, 'approximate', 'none');
    const e = c.emit;
    let d: string;
    if (approximate === 'none') {
      // y = x Phi(x): dy/dx = Phi(x) + x phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2.
      const cdf = e.mul(e.add(e.op('Erf', [e.mul(x0, e.float(Math.SQRT1_2))]), e.float(1)), e.float(0.5));
      const pdf = e.mul(e.op('Exp', [e.mul(e.mul(x0, x0), e.float(-0.5))]), e.float(1 / Math.sqrt(2 * Math.PI)));
      d = e.add(cdf, e.mul(x0, pdf));
    } else if (approximate === 'tanh') {
      // y = x (1 + t) / 2, t = tanh(k (x + 0.044715 x^3)), k = sqrt(2 / pi):
      // dy/dx = (1 + t) / 2 + x (1 - t^2) k (1 + 3 * 0.044715 x^2) / 2.
      const k = Math.sqrt(2 / Math.PI);
      const x2 = e.mul(x0, x0);
      const t = e.op('Tanh', [e.mul(e.mul(x0, e.add(e.mul(x2, e.float(0.044715)), e.float(1))), e.float(k))]);
      const inner = e.mul(e.sub(e.float(1), e.mul(t, t)), e.add(e.mul(x2, e.float(3 * 0.044715 * k)), e.float(k)));
      d = e.mul(e.add(e.add(t, e.float(1)), e.mul(x0, inner)), e.float(0.5));
    } else
      throw new Error(`${c.name}: Gelu '${nd.name}' has approximate '${approximate}'; ONNX defines 'none' and 'tanh'`);
    c.add(x0, e.mul(g, d));
  },
  Softplus: (c, { g, x0 }) => {
    // d log(1 + e^x) / dx = sigmoid(x)
    c.add(x0, c.emit.mul(g, c.emit.op('Sigmoid', [x0])));
  },
  Where: (c, { g, y, x0, x1, x2 }) => {
    // The condition selects which input each element's gradient goes to (it carries none itself:
    // it is boolean, piecewise constant in the data).
    const zero = c.emit.float(0);
    if (c.isData(x1)) c.add(x1, c.unbroadcast(c.emit.op('Where', [x0, g, zero]), y, x1));
    if (c.isData(x2)) c.add(x2, c.unbroadcast(c.emit.op('Where', [x0, zero, g]), y, x2));
  },
  Cast: (c, { nd, g, y, x0 }) => {
    const from = c.elemType(x0),
      to = c.elemType(y);
    if (!FLOAT_TYPES.has(from) || !FLOAT_TYPES.has(to))
      throw new Error(
        `${c.name}: ${nd.op_type} '${nd.name}' casts ${from} to ${to}; only float-to-float casts can be differentiated`,
      );
    c.add(x0, from === to ? g : c.emit.op('Cast', [g], [attribute('to', ELEM_TYPE[from]!)]));
  },
  CastLike: (c, site) => {
    c.paramOnly(site.nd, site.x1);
    ACTIVATION_RULES.Cast!(c, site);
  },
};
