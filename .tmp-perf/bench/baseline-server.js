// The benchmark baseline: a bare Fastify HTTPS server (logging off) that parses the JSON body and answers
// POST /validate and POST /mutate with a fixed AdmissionReview. Same TLS setup as the guard's default (a
// generated self-signed RSA 2048 pair). Prints one JSON line {"msg":"baseline serving","port":N} when listening.
import Fastify from 'fastify';
import { selfSignedServing } from '../src/tls/pki.js';
const FIXED = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'b0000000-0000-4000-8000-000000000000', allowed: true },
};
async function main() {
    const host = process.env.BASELINE_HOST ?? '127.0.0.1';
    const port = Number(process.env.BASELINE_PORT ?? 0);
    const tls = selfSignedServing(['localhost']);
    const app = Fastify({ https: { cert: tls.cert, key: tls.key }, logger: false, bodyLimit: 6 * 1024 * 1024 });
    app.post('/validate', async () => FIXED);
    app.post('/mutate', async () => FIXED);
    await app.listen({ host, port });
    const address = app.server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    process.stdout.write(JSON.stringify({ msg: 'baseline serving', port: bound }) + '\n');
    const stop = () => {
        app.close().finally(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
}
main().catch((e) => {
    process.stderr.write(`baseline: ${e.stack ?? e}\n`);
    process.exit(1);
});
//# sourceMappingURL=baseline-server.js.map