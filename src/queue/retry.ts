/** How a job is retried: `attempts` tries in all, the first included, each wait twice the one before. */
export interface RetryPolicy {
  attempts: number;
  /** The first wait. */
  delayMs: number;
}

/** BullMQ job options for a retry policy. */
export function retryOptions(retry: RetryPolicy): { attempts: number; backoff: { type: 'exponential'; delay: number } } {
  return { attempts: retry.attempts, backoff: { type: 'exponential', delay: retry.delayMs } };
}
