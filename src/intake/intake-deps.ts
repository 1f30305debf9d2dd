import type { Services } from '../services';
import type { IntakeDeps } from './handle-message';
import { createAuthenticator } from './verify';

/** The flow's dependencies from the shared services and settings: used by the SMTP listener and `ingest`. */
export function intakeDeps(services: Services): IntakeDeps {
  const { config } = services;
  return {
    settings: {
      prefix: config.QUEUE_PREFIX,
      defaultDomain: config.DEFAULT_DOMAIN,
      ownAddresses: [...new Set([...config.INTAKE_ADDRESSES, config.FROM_ADDRESS])],
      forwardTo: config.FORWARD_TO,
      rateLimits: { perSender: config.RATE_LIMIT_PER_SENDER, perAccount: config.RATE_LIMIT_PER_ACCOUNT, windowSeconds: config.RATE_LIMIT_WINDOW_S },
    },
    redis: services.redis,
    directory: services.directory,
    requests: services.requests,
    rebuilds: services.rebuilds,
    notices: services.notices,
    authenticate: createAuthenticator(config.AUTH_MODE, { trustedAuthservId: config.TRUSTED_AUTHSERV_ID }),
    metrics: services.metrics,
    log: services.log,
  };
}
