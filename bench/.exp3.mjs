import Fastify from 'fastify'
import { selfSignedServing } from '../dist/tls/pki.js'
const msg = 'x'.repeat(+(process.env.MSG ?? 0))
const FIXED = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'b0000000-0000-4000-8000-000000000000', allowed: true, ...(msg ? { status: { message: msg } } : {}) } }
const tls = selfSignedServing(['localhost'])
const app = Fastify({ https: tls, logger: false })
app.post('/validate', async () => FIXED)
await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(JSON.stringify({ msg: 'baseline serving', port: app.server.address().port }) + '\n')
