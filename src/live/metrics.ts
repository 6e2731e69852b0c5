// Prometheus metrics of the live mode. Get-or-create, so two guards sharing a registry (tests) do not clash.
import { Counter, Gauge, type Registry } from 'prom-client'

export interface LiveMetrics {
  injections: Counter<'result'>
  noncompliant: Gauge
  leader: Gauge
  viewReady: Gauge
  watchRestarts: Counter<'resource'>
}

function getOr<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function liveMetrics(registry: Registry): LiveMetrics {
  const registers = [registry]
  return {
    injections: getOr(registry, 'netpol_guard_injections_total', () => new Counter({
      name: 'netpol_guard_injections_total',
      help: 'Deny-all NetworkPolicy creations by result (created, exists, conflict, namespace_missing, namespace_terminating, failed).',
      labelNames: ['result'] as const,
      registers,
    })),
    noncompliant: getOr(registry, 'netpol_guard_noncompliant_namespaces', () => new Gauge({
      name: 'netpol_guard_noncompliant_namespaces',
      help: 'Non-exempt, non-terminating namespaces without deny-all coverage in both directions.',
      registers,
    })),
    leader: getOr(registry, 'netpol_guard_leader', () => new Gauge({
      name: 'netpol_guard_leader',
      help: '1 while this replica holds the leader lease (and may write), else 0.',
      registers,
    })),
    viewReady: getOr(registry, 'netpol_guard_view_ready', () => new Gauge({
      name: 'netpol_guard_view_ready',
      help: '1 while the cluster view is synced and fresh, else 0.',
      registers,
    })),
    watchRestarts: getOr(registry, 'netpol_guard_watch_restarts_total', () => new Counter({
      name: 'netpol_guard_watch_restarts_total',
      help: 'Watch reconnections by resource (after a drop, an error, a server-side timeout or a 410 relist).',
      labelNames: ['resource'] as const,
      registers,
    })),
  }
}
