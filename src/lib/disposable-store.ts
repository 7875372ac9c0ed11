/** Something that owns timers, sockets or children and must be released. */
export interface Disposable {
  dispose(): void | Promise<void>;
}

/**
 * Collects disposables and releases them in reverse order of registration (as VS Code's DisposableStore).
 * Node 20 has no DisposableStack, hence this.
 */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = [];
  private disposed = false;

  add<T extends Disposable>(item: T): T {
    if (this.disposed) {
      void item.dispose();
      return item;
    }
    this.items.push(item);
    return item;
  }

  /** Registers a plain function as a disposable. */
  defer(fn: () => void | Promise<void>): void {
    this.add({ dispose: fn });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    while (this.items.length > 0) {
      const item = this.items.pop() as Disposable;
      await item.dispose();
    }
  }
}
