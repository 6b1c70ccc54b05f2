// The one error for an id that names nothing in the family: it lists what the id could have been.

/** A RangeError for `got`, listing the configurations (and the anchors, when an anchor is also accepted). */
export function unknownId(got: unknown, configs: readonly string[], anchors?: readonly string[]): RangeError {
  const expected =
    anchors === undefined
      ? `one of ${configs.join(', ')}`
      : `a configuration (${configs.join(', ')}) or an anchor (${anchors.join(', ')})`;
  return new RangeError(`id: expected ${expected}, got ${JSON.stringify(got)}`);
}
