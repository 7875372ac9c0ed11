export type { PlanContext, PlannedCreate, ServicePlan } from './plan-service.js';
export { planService, HISTORY_PER_SLOT } from './plan-service.js';
export type { RestartDecision } from './restart-decision.js';
export { restartDecision, describeEnd, MAX_RESTART_BACKOFF_MS, BACKOFF_RESET_AFTER_MS } from './restart-decision.js';
export { replacementBudget } from './replacement.js';
export type { DeriveEndpointsOptions } from './derive-endpoints.js';
export { deriveEndpoints, servicePortsOf, DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './derive-endpoints.js';
export type { LinkedService } from './service-link-env.js';
export { serviceLinkEnv, envName } from './service-link-env.js';
