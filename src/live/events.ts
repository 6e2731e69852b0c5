// Kubernetes Events about namespaces (DenyAllInjected, NonCompliant, ...), as `kubectl describe namespace`
// shows them. A Namespace is cluster-scoped, so, as client-go's recorder does, its events live in `default`
// with an involvedObject without namespace. Best effort: failures are logged, never raised; bounded queue.
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { bounded, describeError } from './kube.js'

export type EventType = 'Normal' | 'Warning'

export interface EventSink {
  namespaceEvent(namespace: string, type: EventType, reason: string, message: string): void
}

const MAX_QUEUED = 1000
const CONCURRENCY = 4

export class EventRecorder implements EventSink {
  private readonly queue: CoreV1Event[] = []
  private inFlight = 0
  private idleWaiters: (() => void)[] = []
  private dropped = 0

  constructor(
    private readonly core: CoreV1Api,
    private readonly identity: string,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    private readonly eventNamespace = 'default',
  ) {}

  namespaceEvent(namespace: string, type: EventType, reason: string, message: string): void {
    if (this.queue.length >= MAX_QUEUED) {
      if (this.dropped++ % 100 === 0) this.log.warn({ dropped: this.dropped }, 'event queue full; dropping events')
      return
    }
    const now = new Date(this.clock())
    this.queue.push({
      metadata: { generateName: `${namespace}.`, namespace: this.eventNamespace },
      involvedObject: { apiVersion: 'v1', kind: 'Namespace', name: namespace },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: 'netpol-guard' },
      reportingComponent: 'netpol-guard',
      reportingInstance: this.identity,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    })
    this.pump()
  }

  /** Resolves once every queued event was sent (or failed). */
  flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private pump(): void {
    while (this.inFlight < CONCURRENCY && this.queue.length > 0) {
      const body = this.queue.shift()!
      this.inFlight++
      bounded(5000, (o) => this.core.createNamespacedEvent({ namespace: this.eventNamespace, body }, o))
        .catch((e) => this.log.debug({ err: describeError(e), reason: body.reason, namespace: body.involvedObject.name }, 'could not record event'))
        .finally(() => {
          this.inFlight--
          this.pump()
          if (this.inFlight === 0 && this.queue.length === 0) {
            const w = this.idleWaiters
            this.idleWaiters = []
            for (const f of w) f()
          }
        })
    }
  }
}
