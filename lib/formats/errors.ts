// The error of the data loaders (lib/formats): its own file so the loaders and their header
// readers share it without importing each other.

/** A data file or folder that cannot be read as any supported format: a one-line message. */
export class DataFormatError extends Error {
  override name = 'DataFormatError';
}
