/**
 * A per-slot data directory of a stateful service on a node (BERTH_DATA_DIR of the slot's instances):
 * `<node data dir>/volumes/<grid>/<service>/<slot>/`. It outlives the slot's instances (restarts,
 * redeploys, scale-down) and, unless the service is removed with its volumes, the service itself.
 */
export interface SlotVolume {
  readonly grid: string;
  readonly service: string;
  readonly slot: number;
  /** The node that holds it (node-local storage). */
  readonly node: string;
  /** Absolute path on that node. */
  readonly path: string;
}
