// The error of ONNX files: bytes that cannot be read, do not decode as a ModelProto, or hold a
// graph restnet cannot use (no single data input, a cycle, external weights, ...). Its message
// names the file (or the argument the bytes came from) and the reason.
export class OnnxModelError extends Error {
  override name = 'OnnxModelError';
}
