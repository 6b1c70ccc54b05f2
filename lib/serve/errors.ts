// The service's errors: every one reaches the client as one JSON object { "error": message }
// with its status code (and Retry-After when the queue is full).

/** A request the service refuses: the status code and a message naming the expected and the actual. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The batching queue holds max-queue requests already: 503 with Retry-After. */
export class QueueFullError extends HttpError {
  override name = 'QueueFullError';
  constructor(depth: number, retryAfterSeconds: number) {
    super(503, `the queue is full (${depth} requests waiting); retry after ${retryAfterSeconds} s`, {
      'retry-after': String(retryAfterSeconds),
    });
  }
}

/** The service is draining (SIGTERM/SIGINT): new work is refused with 503. */
export class DrainingError extends HttpError {
  override name = 'DrainingError';
  constructor() {
    super(503, 'the service is shutting down', { 'retry-after': '1' });
  }
}

/** The status of any error thrown in a route, a parser or Fastify itself (its own errors carry statusCode). */
export function statusOf(error: unknown): number {
  const code = (error as { statusCode?: unknown })?.statusCode;
  return typeof code === 'number' && code >= 400 && code <= 599 ? code : 500;
}
