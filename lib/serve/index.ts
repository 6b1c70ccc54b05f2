// The inference service: createService(net, options) -> a Fastify app with the adaptive controller.
export { createService, type Service, type ServeOptions } from './app.js';
export { BatchQueue, type BatchQueueOptions, type BatchResult, type BatchRunner } from './batch-queue.js';
export { HttpError, QueueFullError, DrainingError } from './errors.js';
export type { ClassifyAnswer } from './routes.js';
