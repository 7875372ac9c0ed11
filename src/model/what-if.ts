import type { NodeResources } from './node.js';

/*
 * What-if planning's shapes (`berth plan`, POST /v1/plan): the change asked about and the plan that
 * answers it. reconcile/what-if.ts computes it with the controller's own code; the API and the CLI
 * carry it as JSON.
 */

/** Why one node cannot take an instance (a scheduler filter turned it away). */
export interface NodeRejection {
  readonly node: string;
  readonly filter: 'ready' | 'available' | 'driver' | 'constraints' | 'platform' | 'max-replicas' | 'resources';
  /** "node b is draining", "node c has 0.5 of 2 CPUs free, an instance reserves 1" … */
  readonly message: string;
}

/** The one hypothetical change. JSON: `{"kind":"fail-node","node":"b"}`, `{"kind":"add-node","labels":{"zone":"c"}}`. */
export type WhatIfChange =
  | { readonly kind: 'fail-node'; readonly node: string }
  | { readonly kind: 'drain'; readonly node: string }
  | {
      readonly kind: 'add-node';
      /** Default `new-node` (`new-node-2` … when taken). */
      readonly name?: string;
      readonly labels?: Readonly<Record<string, string>>;
      /** Default: the first node's (by name), else 1 CPU and 1 GiB. */
      readonly capacity?: NodeResources;
      /** Default: the first node's drivers, else `process`. */
      readonly drivers?: readonly string[];
    };

/** One slot whose instance would run somewhere else (or start, or stop): `from`/`to` null = none. */
export interface WhatIfMove {
  readonly grid: string;
  readonly service: string;
  readonly slot: number;
  readonly from: string | null;
  readonly to: string | null;
  /** The controller's reason for the new instance or the stop ("replacing an instance: node b is down"). */
  readonly reason: string;
}

/** A slot that would fit no node (or could not leave a draining one), with every node's reason. */
export interface WhatIfPending {
  readonly grid: string;
  readonly service: string;
  readonly slot: number;
  readonly message: string;
  readonly nodes: readonly NodeRejection[];
}

/** A stateful (or global) slot that would wait for its node: its data, or its only place, is there. */
export interface WhatIfWaiting {
  readonly grid: string;
  readonly service: string;
  readonly slot: number;
  readonly node: string;
  readonly reason: string;
}

/** A service whose ready instances would drop: right after the change, and once everything settled. */
export interface WhatIfService {
  readonly grid: string;
  readonly service: string;
  readonly desired: number;
  /** Ready before the change. */
  readonly readyBefore: number;
  /** Ready at the lowest point after the change: before replacements are ready (and, stop-first, while the old ones stop). */
  readonly readyDuring: number;
  /** Ready once every replacement that fits is ready. */
  readonly readyAfter: number;
  /** The update config's minHealth (Kontena), when set: the fraction of replicas to keep ready. */
  readonly minHealth?: number;
  readonly belowReplicas: boolean;
  /** readyDuring or readyAfter < ceil(desired × minHealth). */
  readonly belowMinHealth: boolean;
}

export interface WhatIfPlan {
  readonly change: WhatIfChange;
  /** The node list the plan ran on (with the change applied). */
  readonly nodes: readonly { readonly name: string; readonly ready: boolean; readonly availability: string }[];
  readonly moves: readonly WhatIfMove[];
  /** Slots that would get an instance where none ran (e.g. a global service on an added node, a pending slot that now fits). */
  readonly starts: readonly WhatIfMove[];
  /** Slots whose instance would stop with no replacement (a global service's instance on a drained node). */
  readonly stops: readonly WhatIfMove[];
  readonly pending: readonly WhatIfPending[];
  readonly waiting: readonly WhatIfWaiting[];
  /** Services whose ready instances drop below their replicas (during or after). */
  readonly services: readonly WhatIfService[];
  /** Passes simulated; `settled` false when MAX_ROUNDS passed with changes still planned. */
  readonly rounds: number;
  readonly settled: boolean;
}

