// The live Injector: called by the admission handler once a Namespace CREATE is answered with the injection
// label. Records the promise in the view (so workloads created right after are not refused) and queues the
// creation of the deny-all policy; returns at once.
import type { Injector } from '../view/effects.js'
import type { MemoryView } from '../view/memory-view.js'

export class LiveInjector implements Injector {
  constructor(
    private readonly view: MemoryView,
    private readonly requestInjection: (namespace: string) => void,
    private readonly clock: () => number = Date.now,
    private readonly graceMs = Number.POSITIVE_INFINITY,
  ) {}

  schedule(namespace: string): void {
    if (typeof namespace !== 'string' || namespace === '') return
    this.view.markPending(namespace, this.clock(), this.graceMs)
    this.requestInjection(namespace)
  }
}
