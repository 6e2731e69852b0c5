// Connection to the API server: KubeConfig loading, the typed clients the guard uses, bounded calls and
// error classification. Objects from the typed clients carry Date objects where the wire has strings;
// plainObject() turns them back so the view code sees what the API server sent.
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, ApisApi, KubeConfig, NetworkingV1Api, Watch, Observable, } from '@kubernetes/client-node';
/** kubeconfigPath if given; else the in-cluster config inside a pod; else the default (KUBECONFIG, ~/.kube/config). */
export function loadKubeConfig(kubeconfigPath) {
    const kc = new KubeConfig();
    // A KUBECONFIG-style list (a:b) is merged the way kubectl does it.
    if (kubeconfigPath && kubeconfigPath.includes(delimiter) && !existsSync(kubeconfigPath)) {
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = kubeconfigPath;
        try {
            kc.loadFromDefault();
        }
        finally {
            if (saved === undefined)
                delete process.env.KUBECONFIG;
            else
                process.env.KUBECONFIG = saved;
        }
    }
    else if (kubeconfigPath)
        kc.loadFromFile(kubeconfigPath);
    else if (process.env.KUBERNETES_SERVICE_HOST)
        kc.loadFromCluster();
    else
        kc.loadFromDefault();
    if (!kc.getCurrentCluster())
        throw new Error('kubeconfig has no current cluster');
    return kc;
}
export function makeClients(kc) {
    return {
        kc,
        core: kc.makeApiClient(CoreV1Api),
        networking: kc.makeApiClient(NetworkingV1Api),
        coordination: kc.makeApiClient(CoordinationV1Api),
        customObjects: kc.makeApiClient(CustomObjectsApi),
        apis: kc.makeApiClient(ApisApi),
        watch: new Watch(kc),
    };
}
export class TimeoutError extends Error {
    constructor(ms) {
        super(`no answer from the API server within ${ms} ms`);
    }
}
/** Per-call options that abort the HTTP request after `ms` (client-node's fetch honours the signal). */
export function timeoutOptions(ms) {
    const middleware = {
        pre: (ctx) => {
            ctx.setSignal(AbortSignal.timeout(ms));
            return new Observable(Promise.resolve(ctx));
        },
        post: (res) => new Observable(Promise.resolve(res)),
    };
    return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
/** Runs an API call bounded in time: the request is aborted, and the promise rejects with TimeoutError. */
export async function bounded(ms, call) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
    });
    try {
        return await Promise.race([call(timeoutOptions(ms)), timeout]);
    }
    finally {
        clearTimeout(timer);
    }
}
/** HTTP status of a failed API call (ApiException.code, Watch's statusCode), undefined for network errors. */
export function statusCode(err) {
    if (typeof err !== 'object' || err === null)
        return undefined;
    const e = err;
    if (typeof e.code === 'number')
        return e.code;
    if (typeof e.statusCode === 'number')
        return e.statusCode;
    return undefined;
}
/** A one-line description of an API error: the Status message when there is one. */
export function describeError(err) {
    if (err instanceof TimeoutError)
        return err.message;
    const code = statusCode(err);
    const body = err?.body;
    let message;
    if (typeof body === 'string') {
        try {
            const parsed = JSON.parse(body);
            if (typeof parsed.message === 'string')
                message = parsed.message;
        }
        catch {
            /* not JSON */
        }
    }
    else if (typeof body === 'object' && body !== null && typeof body.message === 'string') {
        message = body.message;
    }
    if (!message) {
        const raw = err instanceof Error ? err.message : String(err);
        message = raw.split('\n')[0].slice(0, 200);
    }
    return code ? `HTTP ${code}: ${message}` : message;
}
/** Deep copy with Dates as RFC 3339 strings, as on the wire. */
export function plainObject(obj) {
    return JSON.parse(JSON.stringify(obj));
}
//# sourceMappingURL=kube.js.map